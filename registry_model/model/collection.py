"""Garbage collection, the part every wing shares: links, blob records, bytes, purges.

::

    collector = PreOCICollector(store)               # a wing's subclass of Collector
    collector.collect_repository(repository_id)      # purged when marked for deletion
    collector.counts                                 # what went, by kind
    counts, last_id = collect_all(collector)         # the worker, over every repository

What goes, for one repository, each step in transactions of at most ``batch_size`` rows:

1. the wing's rows (:meth:`Collector.collect_wing_rows`; the pre-OCI wing: dead tag rows
   with their manifests and labels, then the legacy images no remaining tag reaches; see
   :mod:`registry_model.pre_oci.collector`);
2. the repository's expired temporary links (UploadedBlob); all of them when purging;
3. the blob records (ImageStorage and its placements) those rows and links named, once
   nothing references them in any repository: no row of any installed wing, no unexpired
   link, not uploading (:mod:`registry_model.model.blob_references`);
4. when purging a repository marked for deletion: its uploads, then the repository row.

The locking protocol. The classic loss is checking "is this blob still used?", deleting it
later, and a push re-referencing it in between. So:

- The collector decides and deletes in one transaction whose first statement locks the rows
  about to go (``SELECT ... FOR UPDATE`` on PostgreSQL and MySQL/MariaDB; SQLite begins the
  write transaction IMMEDIATE, which serialises writers). Only then does it read the
  references again, so the check includes every write committed before the lock was granted.
  The lock comes first because MariaDB's REPEATABLE READ fixes a transaction's snapshot at its
  first plain read.
- Writers that add a reference take the same row locks before they check: a push locks the
  blob records of its layers (``blob.get_repository_blobs``) and the rows it builds on (the
  pre-OCI wing: the existing legacy images of its chain); committing an upload
  (``blob.get_or_create_blob``) and mounting (``blob.mount_blob``) lock the record they link;
  a new row locks what it names through its foreign key.
- Either the writer locks first: the collector waits, then sees the new reference and keeps
  the row. Or the collector locks first: the writer waits, then finds the row gone, and fails
  cleanly (a push raises ManifestBlobUnknownException, a mount returns False, an upload
  commit creates a fresh record). No row is ever left pointing at a deleted one.

A dry run asks the same question with the same query
(:func:`~registry_model.model.blob_references.used_blob_ids`), told to ignore the rows the
run would have deleted so far.

The bytes. A blob file is removed only after the transaction that deleted the last record
naming its digest has committed (``db.after_commit``), and only if, read again then, no record
names the digest and the file is older than ``grace_s`` (why its age matters: see
:mod:`registry_model.model.blob_gc`). A crash between the commit and the removal leaves an
orphan file, never a record without bytes; ``blob_gc.sweep_orphan_blobs`` removes those.

Counts come back as a :class:`collections.Counter` keyed by :data:`SUMMARY_FIELDS`; the
interface turns them into a :class:`registry_model.datatypes.GCSummary`. Run the collector
outside a transaction: inside the caller's, its batches become savepoints and files are
removed (and counted) only when the caller commits.
"""
import logging
from collections import Counter
from typing import Callable, Iterable, Optional

from peewee import IntegrityError, chunked, fn

from registry_model import clock, errors, validation
from registry_model.blobstore.base import BlobNotFoundException, BlobStore
from registry_model.connection import db
from registry_model.model import blob_gc, blob_references
from registry_model.model.tables import (
    BlobUpload,
    ImageStorage,
    ImageStoragePlacement,
    Namespace,
    Repository,
    RepositoryState,
    UploadedBlob,
)
from registry_model.transactions import locked, run_with_retry

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 100
MAX_BATCH_SIZE = blob_gc.MAX_BATCH_SIZE
# Longer than any upload takes between storing its bytes and committing its record.
DEFAULT_GRACE_S = 60 * 60

SUMMARY_FIELDS = ("repositories", "purged", "tags", "manifests", "labels", "images", "links",
                  "uploads", "blobs", "files", "bytes_freed", "recent_files", "orphan_files",
                  "orphan_bytes")

# progress(repository_id, repositories done, repositories in the walk)
Progress = Callable[[int, int, int], None]


def write(batch: Callable):
    """Run one batch as its own transaction, retried when a concurrent writer wins."""
    return run_with_retry(batch, conflict=errors.ConcurrentWriteException)


class Collector:
    """One collection run: its clock, blob store, mode, and the counts so far.

    ``now`` (default: the current time) decides which tags ended long enough ago, which links
    expired and which files are recent. With ``dry_run`` nothing is written or removed and the
    counts say what would go. A wing subclasses it with :meth:`collect_wing_rows`.
    """

    def __init__(self, store: BlobStore, now: Optional[int] = None, dry_run: bool = False,
                 batch_size: int = DEFAULT_BATCH_SIZE, grace_s: int = DEFAULT_GRACE_S) -> None:
        self.store = store
        self.now = clock.now_ts() if now is None else validation.check_count("now", now, 0)
        self.dry_run = bool(dry_run)
        self.batch_size = validation.check_count("batch_size", batch_size, 1, MAX_BATCH_SIZE)
        self.grace_s = validation.check_count("grace_s", grace_s, 0)
        self.counts: Counter = Counter({field: 0 for field in SUMMARY_FIELDS})
        self._counted_blobs: set = set()  # dry run: a blob is counted once per run
        # Dry run: storage id -> [(table, row id)] of the references the run would have
        # deleted so far, in any repository.
        self._doomed: dict = {}

    # --- one repository --------------------------------------------------------------

    def collect_repository(self, repository_id: int, purge: Optional[bool] = None) -> bool:
        """Collect the repository's garbage (purge it when marked for deletion); False if gone.

        ``purge`` None follows the repository's state; True on a repository that is not
        marked for deletion raises DataModelException before anything is written.
        """
        found = list(Repository.select(Repository.state, Namespace.removed_tag_expiration_s)
                     .join(Namespace).where(Repository.id == repository_id).tuples())
        if not found:
            return False
        state, window = found[0]
        marked = RepositoryState(state) == RepositoryState.MARKED_FOR_DELETION
        purge = marked if purge is None else bool(purge)
        if purge and not marked:
            raise errors.DataModelException("repository %d is not marked for deletion; mark "
                                            "it before purging it" % repository_id)
        cutoff = None if purge else self.now - window
        references = self.collect_wing_rows(repository_id, cutoff)
        references += self._collect_links(repository_id, purge)
        self.collect_blobs({storage_id for _, _, storage_id in references}, references)
        if purge:
            self._purge_uploads(repository_id)
            self._delete_repository(repository_id)
        self.counts["repositories"] += 1
        return True

    def collect_wing_rows(self, repository_id: int, cutoff: Optional[int]) -> list:
        """Collect the wing's rows of the repository; the blob references that went.

        ``cutoff`` is the end time at or before which a dead tag goes (None: every tag, a
        purge). Returns ``(table, row id, storage id)`` of every referencing row deleted (in a
        dry run: that would be). A wing's collector implements it.
        """
        raise NotImplementedError

    def _collect_links(self, repository_id: int, purge: bool) -> list:
        """Expired (purging: all) links of the repository: 2 statements per batch.

        Each batch reads one row more than it deletes, so a last batch that is exactly
        full needs no further read (an image of the OCI wing has two links, config and
        layer: 50 images fill a batch of 100).
        """
        after = 0
        references: list = []
        while True:
            def batch(after=after) -> tuple:
                query = UploadedBlob.select(UploadedBlob.id, UploadedBlob.blob).where(
                    UploadedBlob.repository == repository_id, UploadedBlob.id > after)
                if not purge:
                    query = query.where(UploadedBlob.expires_at <= self.now)
                rows = list(query.order_by(UploadedBlob.id).limit(self.batch_size + 1)
                            .tuples())
                more, rows = len(rows) > self.batch_size, rows[:self.batch_size]
                if rows and not self.dry_run:
                    (UploadedBlob.delete()
                     .where(UploadedBlob.id.in_([link_id for link_id, _ in rows])).execute())
                return rows, more

            rows, more = batch() if self.dry_run else write(batch)
            # A dry run deleted no blob record: the links of one it counted as gone would have
            # gone with it, in an earlier repository of the walk.
            references += [(UploadedBlob, link_id, blob_id) for link_id, blob_id in rows
                           if blob_id not in self._counted_blobs]
            if not more:
                break
            after = rows[-1][0]
        self.counts["links"] += len(references)
        return references

    # --- blob records and their bytes ------------------------------------------------

    def collect_blobs(self, storage_ids: Iterable[int], references: Iterable = ()) -> None:
        """Delete those blob records that nothing references any more: 5 statements per batch.

        Each batch locks its records, checks their references anew and deletes the
        unreferenced ones with their placements and expired links; their files go after the
        commit (one more statement, see the module's docstring). A dry run counts instead,
        asking the same question while ignoring ``references`` (``(table, row id, storage
        id)`` the run would have deleted) and those of the repositories it went through
        before: a real walk will have deleted them, and a blob two of them share goes with
        the last.
        """
        for table, row_id, storage_id in references:
            if self.dry_run:
                self._doomed.setdefault(storage_id, []).append((table, row_id))
        for batch in chunked(sorted(set(storage_ids)), self.batch_size):
            if self.dry_run:
                self._count_blobs(batch)
                continue

            def delete_unused(batch=batch) -> int:
                rows = blob_gc.lock_blob_records(batch)
                if not rows:
                    return 0
                used = blob_references.used_blob_ids(
                    [storage_id for storage_id, _, _ in rows], self.now)
                gone = [row for row in rows if row[0] not in used]
                if gone:
                    gone_ids = [storage_id for storage_id, _, _ in gone]
                    UploadedBlob.delete().where(UploadedBlob.blob.in_(gone_ids)).execute()
                    (ImageStoragePlacement.delete()
                     .where(ImageStoragePlacement.storage.in_(gone_ids)).execute())
                    ImageStorage.delete().where(ImageStorage.id.in_(gone_ids)).execute()
                    digests = sorted({digest for _, digest, _ in gone if digest})
                    if digests:
                        db.after_commit(lambda: self._remove_files(digests))
                return len(gone)

            self.counts["blobs"] += write(delete_unused)

    def _count_blobs(self, batch: list) -> None:
        """Dry run of one batch of blob records: 3 statements."""
        rows = blob_gc.blob_records(batch)
        ignoring: dict = {}
        for storage_id in batch:
            for table, row_id in self._doomed.get(storage_id, ()):
                ignoring.setdefault(table, set()).add(row_id)
        used = blob_references.used_blob_ids(batch, self.now, ignoring)
        gone = [row for row in rows if row[0] not in used and row[0] not in self._counted_blobs]
        if not gone:
            return
        self._counted_blobs.update(storage_id for storage_id, _, _ in gone)
        digests = sorted({digest for _, digest, _ in gone if digest})
        shared = {row[0] for row in ImageStorage.select(ImageStorage.content_checksum)
                  .where(ImageStorage.content_checksum.in_(digests),
                         ImageStorage.id.not_in([storage_id for storage_id, _, _ in gone]))
                  .tuples()} if digests else set()
        self.counts["blobs"] += len(gone)
        for digest in digests:
            if digest in shared:
                continue
            try:
                if blob_gc.is_recent(self.store, digest, self.now, self.grace_s):
                    self.counts["recent_files"] += 1
                else:
                    self.counts.update(files=1, bytes_freed=self.store.size(digest))
            except BlobNotFoundException:
                continue

    def _remove_files(self, digests: list) -> None:
        """After the commit: remove the files no record names and nobody wrote lately.

        A commit callback: an exception here would report a committed collection as failed,
        so a failure is logged and leaves orphan files for the sweep.
        """
        try:
            removed = blob_gc.remove_unnamed(self.store, digests, self.now, self.grace_s)
        except Exception:  # the database went away after the commit, say
            logger.exception("cannot check blobs %s again; their files stay as orphans",
                             digests)
            return
        self.counts.update(files=removed.files, bytes_freed=removed.bytes,
                           recent_files=removed.recent)

    # --- purging -----------------------------------------------------------------------

    def _purge_uploads(self, repository_id: int) -> None:
        """The repository's uploads, rows and store sessions: 2 statements per batch."""
        after = 0
        while True:
            def batch(after=after) -> list:
                rows = list(BlobUpload.select(BlobUpload.id, BlobUpload.uuid)
                            .where(BlobUpload.repository == repository_id, BlobUpload.id > after)
                            .order_by(BlobUpload.id).limit(self.batch_size).tuples())
                if rows and not self.dry_run:
                    (BlobUpload.delete()
                     .where(BlobUpload.id.in_([upload_id for upload_id, _ in rows])).execute())
                    uuids = [upload_uuid for _, upload_uuid in rows]
                    db.after_commit(lambda: self._cancel_store_uploads(uuids))
                return rows

            rows = batch() if self.dry_run else write(batch)
            self.counts["uploads"] += len(rows)
            if len(rows) < self.batch_size:
                return
            after = rows[-1][0]

    def _cancel_store_uploads(self, uuids: list) -> None:
        for upload_uuid in uuids:
            try:
                self.store.cancel_upload(upload_uuid)
            except errors.NotFoundException:
                pass  # the upload never reached the store, or was completed
            except Exception:  # runs after the commit: log, never undo it
                logger.exception("cannot cancel the stored upload %s", upload_uuid)

    def _delete_repository(self, repository_id: int) -> None:
        """The repository row, unless a writer added rows meanwhile: 2 statements."""
        if self.dry_run:
            self.counts["purged"] += 1
            return

        def delete_marked() -> bool:
            marked = list(locked(Repository.select(Repository.id).where(
                Repository.id == repository_id,
                Repository.state == RepositoryState.MARKED_FOR_DELETION)).tuples())
            return bool(marked) and bool(
                Repository.delete().where(Repository.id == repository_id).execute())

        try:
            purged = run_with_retry(delete_marked, retry_integrity_errors=False,
                                    conflict=errors.ConcurrentWriteException)
        except IntegrityError:
            logger.info("repository %d gained rows while being purged; the next run "
                        "finishes it", repository_id)
            return
        self.counts["purged"] += int(purged)

    # --- blob records nothing names ----------------------------------------------------

    def collect_unreferenced_blobs(self, up_to_id: int) -> None:
        """Blob records up to ``up_to_id`` that nothing references: 1 statement per batch.

        They are what an interrupted run left behind, or records created without a link; each
        batch then goes through :meth:`collect_blobs`, which checks again under lock.
        """
        after = 0
        while True:
            ids = blob_references.unreferenced_blob_ids(after, up_to_id, self.batch_size,
                                                        self.now)
            self.collect_blobs(ids)
            if len(ids) < self.batch_size:
                return
            after = ids[-1]


def collect_all(collector: Collector, start_after: int = 0,
                progress: Optional[Progress] = None) -> tuple:
    """The worker: collect every repository after ``start_after``, in id order; then the rest.

    Repositories are read ``collector.batch_size`` at a time and each one is collected (or
    purged, when marked for deletion) as :meth:`Collector.collect_repository` does; then the
    blob records that nothing references are collected. Returns ``(counts, last repository
    id)``; a worker that stopped resumes with ``start_after`` set to the last id it reported
    through ``progress``. Two statements to start, one per batch of repositories.
    """
    after = validation.check_count("start_after", start_after, 0)
    # Records created after this point may be about to get their first reference.
    watermark = ImageStorage.select(fn.MAX(ImageStorage.id)).scalar() or 0
    total = Repository.select().where(Repository.id > after).count()
    done = 0
    last = None
    while True:
        ids = [row[0] for row in Repository.select(Repository.id).where(Repository.id > after)
               .order_by(Repository.id).limit(collector.batch_size).tuples()]
        for repository_id in ids:
            collector.collect_repository(repository_id)
            done += 1
            last = after = repository_id
            if progress is not None:
                progress(repository_id, done, total)
        if len(ids) < collector.batch_size:
            break
    collector.collect_unreferenced_blobs(watermark)
    return collector.counts, last
