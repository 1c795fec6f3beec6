"""Blob uploads: sessions, streamed and chunked PATCH, PUT to finish, mounts, cancel.

A session is a BlobUpload row (the interface) plus an upload in the blob store, keyed by
one UUID. Every PATCH and a finishing PUT stream their body into the store, fed through
the resumable SHA-256 whose state the row keeps, so any worker can take the next chunk
and the final digest never rereads the bytes. A chunk that fails midway (body cut off,
wrong offset) is rolled back by the store; a finishing digest that does not match, or a
monolithic upload that fails, discards the whole session: nothing is left behind.
"""
import logging
import re
import uuid

from flask import Response, request

from registry_model import validation
from registry_model.blobstore import (
    BlobDigestMismatchException,
    InvalidHashStateException,
    UploadNotFoundException,
    UploadOffsetException,
)
from registry_model.blobstore.base import is_blob_digest
from registry_model.blobstore.hashing import resume_sha256
from registry_model.datatypes import BlobUpload, RepositoryReference
from registry_model.server.context import (
    find_or_create_repository,
    find_repository,
    registry,
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
    ref = find_repository(name)
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

    416 with the current Range when the store holds another length than the row (a lost
    or repeated chunk); the store rolls back a chunk whose body ends early.
    """
    model, store = registry()
    offset = upload.byte_count
    try:
        hasher = resume_sha256(upload.sha_state, offset)
    except InvalidHashStateException:
        raise RegistryError("BLOB_UPLOAD_INVALID", "the upload's hash state is damaged") from None
    try:
        length = store.write_chunk(upload.upload_id, offset, request_chunks(), hasher)
    except UploadNotFoundException:
        raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"upload": upload.upload_id}) from None
    except (UploadOffsetException, InvalidHashStateException):
        raise RegistryError("BLOB_UPLOAD_INVALID", "the upload is at another offset",
                            status=416, headers=_progress_headers(name, upload)) from None
    if length == offset:
        return upload
    updated = model.update_blob_upload(upload, length, None, length, upload.chunk_count + 1,
                                       hasher.to_state())
    if updated is None:
        raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"upload": upload.upload_id})
    return updated


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
        source = model.lookup_repository(*split_name(source_name))
    except RegistryError:
        return False
    blob = model.get_repo_blob_by_digest(source, digest) if source is not None else None
    if blob is None or not store.exists(digest):
        return False
    return model.mount_blob_into_repository(blob, ref, BLOB_LINK_EXPIRATION_S)


def start_upload(name: str) -> Response:
    """POST: a mount (201), a monolithic upload with ``?digest=`` (201) or a session (202)."""
    digest = request.args.get("digest")
    if digest is not None:
        _checked_digest(digest)  # before anything is created
    ref = find_or_create_repository(name)
    mount = request.args.get("mount")
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


def _check_content_range(name: str, upload: BlobUpload) -> None:
    """A chunk's Content-Range must start where the upload ends (416 otherwise, with the
    current Range) and agree with its Content-Length (SIZE_INVALID); none is a stream."""
    content_range = request.headers.get("Content-Range")
    if content_range is None:
        return
    match = _CONTENT_RANGE.match(content_range.strip())
    if match is None:
        raise RegistryError("BLOB_UPLOAD_INVALID", {"Content-Range": content_range},
                            status=416, headers=_progress_headers(name, upload))
    start, end = int(match.group(1)), int(match.group(2))
    if start != upload.byte_count or end < start:
        raise RegistryError("BLOB_UPLOAD_INVALID", "chunk out of order", status=416,
                            headers=_progress_headers(name, upload))
    length = request.content_length
    if length is not None and length != end - start + 1:
        raise RegistryError("SIZE_INVALID", {"Content-Range": content_range,
                                             "Content-Length": length})


def upload_chunk(name: str, upload_id: str) -> Response:
    """PATCH: append the body (streamed, or a chunk with Content-Range): 202 with Range."""
    _, upload = _find_upload(name, upload_id)
    _check_content_range(name, upload)
    return _progress(name, _append_body(name, upload), 202)


def finish_upload(name: str, upload_id: str) -> Response:
    """PUT ``?digest=``: append a last chunk if any (checked as a PATCH's), complete: 201."""
    _, upload = _find_upload(name, upload_id)
    digest = _checked_digest(request.args.get("digest"))
    _check_content_range(name, upload)
    upload = _append_body(name, upload)
    return _complete(name, upload, digest)


def upload_status(name: str, upload_id: str) -> Response:
    """GET: 204 with the session's Range."""
    _, upload = _find_upload(name, upload_id)
    return _progress(name, upload, 204)


def cancel_upload(name: str, upload_id: str) -> Response:
    """DELETE: forget the session and its bytes: 204."""
    _, upload = _find_upload(name, upload_id)
    _discard(upload)
    return Response(status=204)
