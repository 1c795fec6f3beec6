"""Blob uploads: sessions, streamed and chunked PATCH, PUT to finish, mounts, cancel.

A session is a BlobUpload row (the interface) plus an upload in the blob store, keyed by
one UUID. Every PATCH and a finishing PUT stream their body into the store, fed through
the resumable SHA-256 whose state the row keeps, so any worker can take the next chunk
and the final digest never rereads the bytes. A chunk that fails midway (body cut off,
wrong offset) is rolled back by the store; a finishing digest that does not match, or a
monolithic upload that fails, discards the whole session: nothing is left behind. A chunk
stored whose progress the row never recorded (the database failed, the worker died) is
caught up from the store, which is the truth: :mod:`~registry_model.server.upload_recovery`.
"""
import inspect
import logging
import re
import uuid
from typing import Iterator

from flask import Response, request

from registry_model import validation
from registry_model.auth import scopes
from registry_model.auth.permissions import PULL, PUSH
from registry_model.blobstore import (
    BlobDigestMismatchException,
    InvalidHashStateException,
    UploadNotFoundException,
    UploadOffsetException,
)
from registry_model.blobstore.base import is_blob_digest
from registry_model.blobstore.hashing import resume_sha256
from registry_model.datatypes import BlobUpload, RepositoryReference
from registry_model.server import access, upload_recovery
from registry_model.server.context import (
    find_or_create_repository,
    find_repository,
    registry,
    require,
    split_name,
)
from registry_model.server.errors import RegistryError
from registry_model.server.streaming import request_chunks

logger = logging.getLogger(__name__)

STORAGE_LOCATION = "local"
# How long an uploaded or mounted blob stays linked to its repository without a manifest
# using it: a client pushes all layers before the manifest, a day is ample.
BLOB_LINK_EXPIRATION_S = 24 * 60 * 60
_CONTENT_RANGE = re.compile(r"^(?:bytes[ =])?(\d+)-(\d+)(?:/(?:\d+|\*))?$", re.ASCII)


def _upload_path(name: str, upload_id: str) -> str:
    return "/v2/%s/blobs/uploads/%s" % (name, upload_id)


def _range(length: int) -> str:
    # The last byte held, inclusive; an empty upload says 0-0 as Distribution does.
    return "0-%d" % max(length - 1, 0)


def _progress_headers(name: str, upload: BlobUpload) -> dict:
    return {"Location": _upload_path(name, upload.upload_id),
            "Range": _range(upload.byte_count), "Docker-Upload-UUID": upload.upload_id}


def _progress(name: str, upload: BlobUpload, status: int) -> Response:
    return Response(status=status, headers=dict(_progress_headers(name, upload),
                                                **{"Content-Length": "0"}))


def _blob_created(name: str, digest: str) -> Response:
    return Response(status=201, headers={"Location": "/v2/%s/blobs/%s" % (name, digest),
                                         "Docker-Content-Digest": digest,
                                         "Content-Length": "0"})


def _checked_digest(text) -> str:
    if text is None or not is_blob_digest(text):
        raise RegistryError("DIGEST_INVALID", {"digest": text},
                            message="digest must be sha256: and 64 lowercase hex digits")
    return text


def _find_upload(name: str, upload_id: str) -> tuple:
    ref = find_repository(name, PUSH)
    if not validation.is_valid_uuid(upload_id):
        raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"upload": upload_id})
    upload = registry().model.lookup_blob_upload(ref, str(uuid.UUID(upload_id)))
    if upload is None:
        raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"upload": upload_id})
    return ref, upload


def _discard(upload: BlobUpload) -> None:
    """Forget the session: its bytes in the store and its row."""
    model, store = registry()
    try:
        store.cancel_upload(upload.upload_id)
    except UploadNotFoundException:
        pass  # completed into a blob, or never started
    model.delete_blob_upload(upload)


def _append_body(name: str, upload: BlobUpload) -> BlobUpload:
    """Stream the request body onto the upload; the updated BlobUpload.

    A body the store refuses, unread, at the row's offset is a retry whose progress was
    lost (:mod:`~registry_model.server.upload_recovery`); one refused after it was read
    lost a race to another request's chunk: 416. The store rolls back a chunk whose body
    ends early.
    """
    body = request_chunks()
    try:
        return _write(upload, body)
    except UploadOffsetException:
        if inspect.getgeneratorstate(body) == inspect.GEN_CREATED:
            return _append_retried(name, upload, body)
        raise _lost_race(name, upload) from None


def _append_retried(name: str, upload: BlobUpload, body: Iterator[bytes]) -> BlobUpload:
    """The body sent again at the row's offset: the row caught up, the held bytes skipped."""
    sent_at = upload.byte_count
    upload = upload_recovery.caught_up(upload)
    held = upload.byte_count - sent_at
    refusal = _out_of_range(name, upload, "the upload is at another offset")
    if held <= 0:
        raise refusal  # no lagging row: another request's chunk came first
    try:
        return _write(upload, upload_recovery.skip_held(body, held, refusal))
    except UploadOffsetException:
        raise _lost_race(name, upload) from None


def _write(upload: BlobUpload, chunks: Iterator[bytes]) -> BlobUpload:
    """Append ``chunks`` at the row's offset and record the progress; UploadOffsetException
    (nothing written) when the store holds another length."""
    store = registry().store
    offset = upload.byte_count
    try:
        hasher = resume_sha256(upload.sha_state, offset)
        # The store refuses a hasher of another length than the offset: a damaged row too.
        length = store.write_chunk(upload.upload_id, offset, chunks, hasher)
    except UploadNotFoundException:
        raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"upload": upload.upload_id}) from None
    except InvalidHashStateException:
        raise RegistryError("BLOB_UPLOAD_INVALID", "the upload's hash state is damaged") from None
    if length == offset:
        return upload
    return upload_recovery.record(upload, hasher)


def _lost_race(name: str, upload: BlobUpload) -> RegistryError:
    """416 for a chunk whose offset another request's chunk took first: the store's Range."""
    return _out_of_range(name, upload_recovery.caught_up(upload),
                         "the upload is at another offset")


def _out_of_range(name: str, upload: BlobUpload, detail) -> RegistryError:
    """416 with the Range to resume from: ``upload`` must be caught up to the store."""
    return RegistryError("BLOB_UPLOAD_INVALID", detail, status=416,
                         headers=_progress_headers(name, upload))


def _complete(name: str, upload: BlobUpload, digest: str) -> Response:
    """Check the digest, store the blob and link it to the repository: 201."""
    model, store = registry()
    try:
        store.complete_upload(upload.upload_id, digest, upload.sha_state)
    except BlobDigestMismatchException as exc:
        _discard(upload)
        raise RegistryError("DIGEST_INVALID", {"expected": exc.expected,
                                               "actual": exc.actual}) from None
    except UploadNotFoundException:
        raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"upload": upload.upload_id}) from None
    if model.commit_blob_upload(upload, digest, BLOB_LINK_EXPIRATION_S) is None:
        # Another request finished or cancelled it meanwhile; the file is a sweepable orphan.
        raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"upload": upload.upload_id})
    return _blob_created(name, digest)


def _new_upload(ref: RepositoryReference) -> BlobUpload:
    model, store = registry()
    upload_id = str(uuid.uuid4())
    upload = model.create_blob_upload(ref, upload_id, STORAGE_LOCATION, None)
    store.initiate_upload(upload_id)
    return upload


def _mount(name: str, ref: RepositoryReference, digest: str, source_name) -> bool:
    """Link the blob from ``source_name`` into the repository when the source has it."""
    model, store = registry()
    if source_name is None or not is_blob_digest(digest):
        return False
    try:
        source_namespace, source_repository = split_name(source_name)
    except RegistryError:
        return False
    readable = access.holds(source_namespace, source_repository, PULL)
    source = model.lookup_repository(source_namespace, source_repository)
    if source is None or not (readable or source.is_public):
        return False  # an upload session instead: nothing said about the source
    blob = model.get_repo_blob_by_digest(source, digest)
    if blob is None or not store.exists(digest):
        return False
    return model.mount_blob_into_repository(blob, ref, BLOB_LINK_EXPIRATION_S)


def _monolithic(name: str, digest: str) -> Response:
    """A POST ``?digest=`` with the blob as its body: stored and checked first, so that a
    body cut off or of another digest leaves no repository, namespace or row behind."""
    model, store = registry()
    upload_id = str(uuid.uuid4())
    store.initiate_upload(upload_id)
    hasher = resume_sha256(None, 0)
    try:
        length = store.write_chunk(upload_id, 0, request_chunks(), hasher)
        store.complete_upload(upload_id, digest, hasher.to_state())
    except BlobDigestMismatchException as exc:
        store.cancel_upload(upload_id)
        raise RegistryError("DIGEST_INVALID", {"expected": exc.expected,
                                               "actual": exc.actual}) from None
    except BaseException:
        store.cancel_upload(upload_id)
        raise
    # The bytes are a blob now; until the link below commits, an orphan the sweep removes.
    ref = find_or_create_repository(name)
    upload = model.create_blob_upload(ref, upload_id, STORAGE_LOCATION, None)
    upload = model.update_blob_upload(upload, length, None, length, 1, hasher.to_state())
    if upload is None or model.commit_blob_upload(upload, digest,
                                                   BLOB_LINK_EXPIRATION_S) is None:
        raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"upload": upload_id})
    return _blob_created(name, digest)


def start_upload(name: str) -> Response:
    """POST: a mount (201), a monolithic upload with ``?digest=`` (201) or a session (202)."""
    source = request.args.get("from")
    valid_source = request.args.get("mount") is not None and source is not None and (
        scopes.split_repository_name(source) is not None)
    require(name, PUSH, scopes.challenge_scope(source, PULL) if valid_source else None)
    digest = request.args.get("digest")
    if digest is not None:
        _checked_digest(digest)  # before anything is created
    mount = request.args.get("mount")
    if digest is not None and mount is None:
        return _monolithic(name, digest)
    ref = find_or_create_repository(name)
    if mount is not None and _mount(name, ref, mount, request.args.get("from")):
        return _blob_created(name, mount)
    if digest is None:
        return _progress(name, _new_upload(ref), 202)
    upload = _new_upload(ref)
    try:
        upload = _append_body(name, upload)
        return _complete(name, upload, digest)
    except BaseException:
        _discard(upload)
        raise


def _check_content_range(name: str, upload: BlobUpload) -> BlobUpload:
    """The upload a chunk's Content-Range starts at the end of; none is a stream.

    A start other than the row's is checked against the store's length, which the row
    may lag (the row is caught up): 416 with that Range unless the chunk starts there.
    SIZE_INVALID when the range disagrees with the Content-Length.
    """
    content_range = request.headers.get("Content-Range")
    if content_range is None:
        return upload
    match = _CONTENT_RANGE.match(content_range.strip())
    if match is None:
        raise _out_of_range(name, upload_recovery.caught_up(upload),
                            {"Content-Range": content_range})
    start, end = int(match.group(1)), int(match.group(2))
    if start != upload.byte_count:
        upload = upload_recovery.caught_up(upload)
    if start != upload.byte_count or end < start:
        raise _out_of_range(name, upload, "chunk out of order")
    length = request.content_length
    if length is not None and length != end - start + 1:
        raise RegistryError("SIZE_INVALID", {"Content-Range": content_range,
                                             "Content-Length": length})
    return upload


def upload_chunk(name: str, upload_id: str) -> Response:
    """PATCH: append the body (streamed, or a chunk with Content-Range): 202 with Range."""
    _, upload = _find_upload(name, upload_id)
    upload = _check_content_range(name, upload)
    return _progress(name, _append_body(name, upload), 202)


def finish_upload(name: str, upload_id: str) -> Response:
    """PUT ``?digest=``: append a last chunk if any (checked as a PATCH's), complete: 201."""
    _, upload = _find_upload(name, upload_id)
    digest = _checked_digest(request.args.get("digest"))
    upload = _check_content_range(name, upload)
    upload = _append_body(name, upload)
    return _complete(name, upload, digest)


def upload_status(name: str, upload_id: str) -> Response:
    """GET: 204 with the session's Range, the store's length (the row caught up to it)."""
    _, upload = _find_upload(name, upload_id)
    return _progress(name, upload_recovery.caught_up(upload), 204)


def cancel_upload(name: str, upload_id: str) -> Response:
    """DELETE: forget the session and its bytes: 204."""
    _, upload = _find_upload(name, upload_id)
    _discard(upload)
    return Response(status=204)
