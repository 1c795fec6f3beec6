"""Blobs as repositories see them: deduplicated records, linked to repositories.

A blob is stored once (one ImageStorage row per digest, bytes in the blob
store under the digest) and linked to each repository that may use it: by a
row of any wing in the repository (a legacy image, a manifest; see
:mod:`registry_model.model.blob_references`), or by a temporary link
(UploadedBlob) that protects a freshly pushed or mounted blob from garbage
collection until it expires.
"""
import logging
from typing import Iterable, Optional

from peewee import Expression, fn

from registry_model import validation
from registry_model.connection import backend_name
from registry_model.model import blob_references
from registry_model.model.tables import ImageStorage, ImageStoragePlacement, UploadedBlob
from registry_model.statements import Statement, param
from registry_model.transactions import locked, transaction

logger = logging.getLogger(__name__)


def linked_to_repository(repository_id: int, now: int) -> Expression:
    """WHERE clause on ImageStorage: a row of any wing in the repository, or an unexpired link."""
    return blob_references.referenced(now, repository_id)


_REPOSITORY_BLOB = Statement(lambda: (
    ImageStorage.select(ImageStorage.id, ImageStorage.uuid, ImageStorage.content_checksum,
                        ImageStorage.image_size, ImageStorage.uncompressed_size,
                        ImageStorage.uploading)
    .where(ImageStorage.content_checksum == param("digest"),
           ImageStorage.uploading == False,  # noqa: E712
           linked_to_repository(param("repository_id"), param("now")))
    .order_by(ImageStorage.id)
    .limit(1)))


def get_repository_blob(repository_id: int, digest: str, now: int) -> Optional[tuple]:
    """The finished blob with that digest linked to the repository (flat row), or None.

    One query.
    """
    if not validation.is_valid_digest(digest):
        return None
    return _REPOSITORY_BLOB.first(digest=digest, repository_id=repository_id, now=now)


def get_repository_blobs(repository_id: int, digests: Iterable[str], now: int) -> dict:
    """``{digest: blob}`` of the finished blobs linked to the repository: one query.

    The rows are locked for the caller's write, as the garbage collector locks them before
    deleting (see :mod:`registry_model.model.gc`): a push either holds them first, or finds
    them gone once the collector commits.
    """
    wanted = sorted({d for d in digests if validation.is_valid_digest(d)})
    if not wanted:
        return {}
    found: dict = {}
    query = locked(ImageStorage.select()
                   .where(ImageStorage.content_checksum.in_(wanted),
                          ImageStorage.uploading == False,  # noqa: E712
                          linked_to_repository(repository_id, now))
                   .order_by(ImageStorage.id))
    for storage in query:
        found.setdefault(storage.content_checksum, storage)
    return found


def with_digest_lock(query, digest: str):
    """``query``, made to also lock ``digest`` until the transaction ends, on PostgreSQL.

    Two transactions creating the blob of one digest must not both find none and
    both insert one. MySQL's locking read of the missing row locks the index gap,
    so the second waits and then finds the first's row; SQLite runs one writer at
    a time. PostgreSQL locks no gap: there a transaction-level advisory lock on a
    hash of the digest, taken by ``query`` for each row it returns (no extra
    statement), makes the second wait, and its next statement sees the first's row.
    """
    if backend_name() != "postgresql":
        return query
    lock = fn.pg_advisory_xact_lock(fn.hashtextextended(digest, 0))
    return query.select_extend(lock.alias("digest_lock"))


def get_or_create_blob(digest: str, byte_count: int, uncompressed_byte_count: Optional[int],
                       location_id: int) -> ImageStorage:
    """The finished blob with that digest, created (with its placement) when there is none.

    Runs inside the caller's transaction; the existing row is locked where the
    backend can, so a collector deciding to drop it waits for this write. No two
    concurrent calls create two blobs of one digest if, on PostgreSQL, the caller
    has taken the digest's lock first (:func:`with_digest_lock`).
    """
    validation.check_digest(digest)
    query = (ImageStorage.select()
             .where(ImageStorage.content_checksum == digest,
                    ImageStorage.uploading == False)  # noqa: E712
             .order_by(ImageStorage.id)
             .limit(1))
    existing = locked(query).get_or_none()
    if existing is not None:
        return existing
    storage = ImageStorage.create(content_checksum=digest, image_size=byte_count,
                                  uncompressed_size=uncompressed_byte_count, uploading=False)
    ImageStoragePlacement.create(storage=storage.id, location=location_id)
    return storage


def link_blob(repository_id: int, storage_id: int, expiration_s: int, now: int) -> UploadedBlob:
    """Link a blob to the repository until ``now + expiration_s`` (caller's transaction)."""
    validation.check_count("blob expiration (seconds)", expiration_s, 0)
    return UploadedBlob.create(repository=repository_id, blob=storage_id, uploaded_at=now,
                               expires_at=now + expiration_s)


def mount_blob(storage_id: int, target_repository_id: int, expiration_s: int,
               now: int, digest: Optional[str] = None) -> Optional[UploadedBlob]:
    """Link an existing finished blob into another repository; None when the blob is gone.

    A record of that id with another ``digest`` than given counts as gone: SQLite gives a
    collected record's id to the next new one. The caller checks that the user may read
    the source repository.
    """
    with transaction():
        query = ImageStorage.select(ImageStorage.id).where(
            ImageStorage.id == storage_id, ImageStorage.uploading == False)  # noqa: E712
        if digest is not None:
            query = query.where(ImageStorage.content_checksum == digest)
        if locked(query).get_or_none() is None:
            return None
        return link_blob(target_repository_id, storage_id, expiration_s, now)
