"""Resumable blob uploads: the state a second worker needs to continue an upload.

An upload row keeps the byte count, chunk count, the serialised running
sha256 and the blob store's own metadata. Committing turns it into a blob
(deduplicated by digest) linked to the repository for a while, and removes the
upload row, in one transaction.
"""
import json
import logging
from typing import Optional

from peewee import IntegrityError

from registry_model import errors, validation
from registry_model.model import blob as blob_model
from registry_model.model import lookup
from registry_model.model.tables import BlobUpload, ImageStorage
from registry_model.statements import Statement, param
from registry_model.transactions import locked, run_with_retry, transaction

logger = logging.getLogger(__name__)


def _metadata_text(storage_metadata: Optional[dict]) -> Optional[str]:
    if storage_metadata is None:
        return None
    if not isinstance(storage_metadata, dict):
        raise errors.DataModelException("storage metadata must be a dict")
    try:
        # NaN and Infinity are not JSON: another worker's parser would reject them.
        return json.dumps(storage_metadata, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise errors.DataModelException("storage metadata must be JSON-serialisable") from exc


def create_upload(repository_id: int, upload_id: str, location_name: str,
                  storage_metadata: Optional[dict], now: int) -> BlobUpload:
    """Start an upload with that id in the repository: one statement.

    DuplicateException when the id is taken; unknown locations raise first.
    """
    if not validation.is_valid_uuid(upload_id):
        raise errors.DataModelException("upload id must be a UUID: %r" % (upload_id,))
    location_id = lookup.location_id(location_name)
    metadata = _metadata_text(storage_metadata)
    try:
        with transaction():
            return BlobUpload.create(repository=repository_id, uuid=upload_id,
                                     location=location_id, storage_metadata=metadata,
                                     created=now)
    except IntegrityError as exc:
        raise errors.DuplicateException("upload %s exists already (or its repository is gone)"
                                        % upload_id) from exc


_UPLOAD = Statement(lambda: BlobUpload.select(
    BlobUpload.id, BlobUpload.repository, BlobUpload.uuid, BlobUpload.byte_count,
    BlobUpload.uncompressed_byte_count, BlobUpload.chunk_count, BlobUpload.sha_state,
    BlobUpload.location, BlobUpload.storage_metadata, BlobUpload.created,
).where(BlobUpload.repository == param("repository_id"), BlobUpload.uuid == param("uuid")))


def get_upload(repository_id: int, upload_id: str) -> Optional[tuple]:
    """The repository's upload with that id (flat row), or None: one query."""
    if not validation.is_valid_uuid(upload_id):
        return None
    return _UPLOAD.first(repository_id=repository_id, uuid=upload_id)


def update_upload(upload_id: str, byte_count: int, uncompressed_byte_count: Optional[int],
                  chunk_count: int, sha_state: Optional[str],
                  storage_metadata: Optional[dict]) -> bool:
    """Record the upload's progress; False when the upload is gone: one statement."""
    for name, value in (("byte_count", byte_count), ("chunk_count", chunk_count),
                        ("uncompressed_byte_count", uncompressed_byte_count)):
        if value is not None or name != "uncompressed_byte_count":
            validation.check_count(name, value, 0)
    if sha_state is not None and not isinstance(sha_state, str):
        # peewee would store str() of anything, which no worker could resume from.
        raise errors.DataModelException("sha_state must be text (ResumableSHA256.to_state())")
    metadata = _metadata_text(storage_metadata)
    # One UPDATE of every field: a reader sees one writer's progress, never a mixture.
    update = (BlobUpload.update(byte_count=byte_count,
                                uncompressed_byte_count=uncompressed_byte_count,
                                chunk_count=chunk_count, sha_state=sha_state,
                                storage_metadata=metadata)
              .where(BlobUpload.uuid == upload_id))
    return bool(_retried(update.execute))


def delete_upload(upload_id: str) -> bool:
    """Forget the upload; False when it was already gone: one statement."""
    return bool(_retried(BlobUpload.delete().where(BlobUpload.uuid == upload_id).execute))


def _retried(write):
    """Run ``write`` in one transaction, retried after a deadlock (ConcurrentWriteException)."""
    return run_with_retry(write, retry_integrity_errors=False,
                          conflict=errors.ConcurrentWriteException)


def commit_upload(upload_id: str, digest: str, expiration_s: int,
                  now: int) -> Optional[ImageStorage]:
    """Turn the upload into a blob linked to its repository until ``now + expiration_s``.

    The blob is reused when one with that digest exists already. The upload row
    is removed in the same transaction; None when the upload is gone (another
    worker committed or cancelled it): of concurrent commits of one upload,
    one returns the blob. Concurrent commits of one digest share one blob. A
    deadlock is retried; ConcurrentWriteException when it keeps losing.
    """
    validation.check_digest(digest)

    def write() -> Optional[ImageStorage]:
        query = BlobUpload.select().where(BlobUpload.uuid == upload_id)
        upload = locked(blob_model.with_digest_lock(query, digest)).get_or_none()
        if upload is None:
            return None
        storage = blob_model.get_or_create_blob(digest, upload.byte_count,
                                                upload.uncompressed_byte_count,
                                                upload.location_id)
        blob_model.link_blob(upload.repository_id, storage.id, expiration_s, now)
        BlobUpload.delete().where(BlobUpload.id == upload.id).execute()
        return storage

    return _retried(write)
