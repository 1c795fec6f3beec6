"""The blob side of garbage collection: records, their temporary links, and their files.

::

    from registry_model.model import blob_gc

    blob_gc.sweep_orphan_blobs(store, grace_s=3600)   # files no record names
    blob_gc.release_blob_links(repository_id, digests)  # once a manifest's images hold them

:mod:`registry_model.model.collection` locks blob records with :func:`lock_blob_records`,
checks them with :func:`registry_model.model.blob_references.used_blob_ids` before deleting
them (the protocol is described there), then removes their files after the commit with
:func:`remove_unnamed`.

A file may go when no ImageStorage record names its digest and it was last written at least
``grace_s`` seconds before ``now``. The records are read first and the file's age second:
an upload stores its bytes before it commits its record, so a file whose record is about to
appear was written recently, and is kept, unless that upload took longer than the grace
period between storing and committing. :func:`sweep_orphan_blobs` finds the files a crash
between a collection's commit and its file removals left behind.
"""
import logging
import time
from collections import Counter
from typing import Iterable, NamedTuple, Optional

from peewee import chunked

from registry_model import errors, validation
from registry_model.blobstore.base import BlobNotFoundException, BlobStore
from registry_model.model import blob_references
from registry_model.model.tables import ImageStorage, UploadedBlob
from registry_model.transactions import locked, run_with_retry

logger = logging.getLogger(__name__)

MAX_BATCH_SIZE = 1000


def blob_records(storage_ids: list) -> list:
    """``(id, digest, size)`` of those finished blob records: one query."""
    return list(_blob_records(storage_ids).tuples())


def lock_blob_records(storage_ids: list) -> list:
    """``(id, digest, size)`` of those finished blob records, locked for the caller's write."""
    return list(locked(_blob_records(storage_ids)).tuples())


def _blob_records(storage_ids: list):
    return (ImageStorage.select(ImageStorage.id, ImageStorage.content_checksum,
                                ImageStorage.image_size)
            .where(ImageStorage.id.in_(storage_ids),
                   ImageStorage.uploading == False)  # noqa: E712
            .order_by(ImageStorage.id))


class Removed(NamedTuple):
    """What a removal did: files removed, their bytes, and files kept as recently written."""

    files: int = 0
    bytes: int = 0
    recent: int = 0


def named_digests(digests: Iterable[str]) -> set:
    """Those of the digests some blob record names: one query."""
    wanted = sorted(set(digests))
    if not wanted:
        return set()
    return {row[0] for row in ImageStorage.select(ImageStorage.content_checksum)
            .where(ImageStorage.content_checksum.in_(wanted)).tuples()}


def is_recent(store: BlobStore, digest: str, now: int, grace_s: int) -> bool:
    """True when the digest's file was written within ``grace_s`` seconds before ``now``.

    Whole seconds, like ``now``: without a grace period a file written this very second is
    not recent. BlobNotFoundException when there is no file.
    """
    return int(store.last_modified(digest)) > now - grace_s


def remove_unnamed(store: BlobStore, digests: Iterable[str], now: int, grace_s: int,
                   dry_run: bool = False) -> Removed:
    """Remove the files of those digests that no record names and nobody wrote lately.

    One query for the records, then the store. A file that cannot be removed is logged and
    left as an orphan: this runs after a commit, which a failing store must not undo.
    """
    digests = sorted(set(digests))
    named = named_digests(digests)
    files = size_total = recent = 0
    for digest in digests:
        if digest in named:
            continue
        try:
            if is_recent(store, digest, now, grace_s):
                logger.info("blob file %s was written within the grace period; it stays",
                            digest)
                recent += 1
                continue
            size = store.size(digest)
            if not dry_run:
                store.remove(digest)
        except BlobNotFoundException:
            continue  # gone already
        except Exception:  # see the docstring: log, keep going, leave an orphan
            logger.exception("cannot remove blob file %s; it stays as an orphan", digest)
            continue
        files += 1
        size_total += size
    return Removed(files, size_total, recent)


def _remove_listed_orphans(store: BlobStore, listed: list, now: int, grace_s: int,
                           dry_run: bool) -> Removed:
    """:func:`remove_unnamed` for a batch of ``store.list_blobs()``, in fewer store calls.

    A file the listing shows as recent is kept without asking again (a file only gets
    younger); an older one's age is read again after the records, as the module docstring
    requires, and the orphans go in one ``remove_many``. A store that fails is logged and
    its files stay as orphans.
    """
    named = named_digests(digest for digest, _, _ in listed)
    orphans, size_total, recent = [], 0, 0
    for digest, size, listed_time in listed:
        if digest in named:
            continue
        try:
            if int(listed_time) > now - grace_s or is_recent(store, digest, now, grace_s):
                recent += 1
                continue
        except BlobNotFoundException:
            continue  # gone already
        except Exception:  # see the docstring: log, keep going, leave an orphan
            logger.exception("cannot read the age of blob file %s; it stays", digest)
            continue
        orphans.append(digest)
        size_total += size
    if orphans and not dry_run:
        try:
            store.remove_many(orphans)
        except Exception:  # see the docstring: log, keep going, leave orphans
            logger.exception("cannot remove %d blob files; they stay as orphans", len(orphans))
            return Removed(0, 0, recent)
    return Removed(len(orphans), size_total, recent)


def sweep_orphan_blobs(store: BlobStore, grace_s: int, now: Optional[int] = None,
                       dry_run: bool = False, batch_size: int = 100) -> Counter:
    """Remove the files no blob record names that are older than ``grace_s``: the orphans.

    The store's digests are checked ``batch_size`` at a time, one query per batch. Counts
    ``orphan_files``, ``orphan_bytes`` and ``recent_files`` (kept); with ``dry_run`` nothing
    is removed and the counts say what would be.
    """
    now = int(time.time()) if now is None else validation.check_count("now", now, 0)
    validation.check_count("grace_s", grace_s, 0)
    validation.check_count("batch_size", batch_size, 1, MAX_BATCH_SIZE)
    counts: Counter = Counter(orphan_files=0, orphan_bytes=0, recent_files=0)
    for listed in chunked(store.list_blobs(), batch_size):
        removed = _remove_listed_orphans(store, listed, now, grace_s, dry_run)
        counts.update(orphan_files=removed.files, orphan_bytes=removed.bytes,
                      recent_files=removed.recent)
    logger.info("orphan sweep: %(orphan_files)d files, %(orphan_bytes)d bytes; "
                "%(recent_files)d recent files kept", counts)
    return counts


def release_blob_links(repository_id: int, digests: Iterable[str]) -> int:
    """Drop the repository's temporary links of blobs its rows now use: one statement.

    A link protects a blob between its upload and the manifest that references it; once a
    row of any wing in the repository uses the blob, the link only delays its collection.
    Links of blobs nothing in the repository uses are kept. Returns how many were dropped.
    """
    wanted = sorted(set(digests))
    if not wanted:
        return 0
    blobs = ImageStorage.select(ImageStorage.id).where(ImageStorage.content_checksum.in_(wanted))
    used = blob_references.referenced(None, repository_id, blob_column=UploadedBlob.blob,
                                      links=False)
    return run_with_retry(lambda: UploadedBlob.delete().where(
        UploadedBlob.repository == repository_id, UploadedBlob.blob.in_(blobs),
        used).execute(), conflict=errors.ConcurrentWriteException)
