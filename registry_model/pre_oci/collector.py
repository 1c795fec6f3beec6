"""Garbage collection: dead tags, unreachable images, unreferenced blobs, and their bytes.

::

    from registry_model.model import gc

    collector = gc.Collector(store)
    collector.collect_repository(repository_id)     # purged when marked for deletion
    collector.counts                                # what went, by kind
    counts, last_id = gc.collect_all(store)         # the worker, over every repository

What goes, for one repository, each step in transactions of at most ``batch_size`` rows:

1. tag rows that ended at least the namespace's time-machine window
   (``removed_tag_expiration_s``) ago, with their tag manifests and those manifests' labels
   (TagManifestLabel links and Label rows); every tag row when purging;
2. legacy images no remaining tag row reaches: an image stays while a remaining tag points at
   it or at one of its descendants (``Image.ancestors``), so a kept image keeps its whole
   chain. Children go before their parents, so an interrupted run never breaks a chain;
3. the repository's expired temporary links (UploadedBlob); all of them when purging;
4. the blob records (ImageStorage and its placements) those images and links named, once
   nothing references them in any repository: no image, no unexpired link, not uploading;
5. when purging a repository marked for deletion: its uploads, then the repository row.

The locking protocol. The classic loss is checking "is this blob still used?", deleting it
later, and a push re-referencing it in between. So:

- The collector decides and deletes in one transaction whose first statement locks the rows
  about to go (``SELECT ... FOR UPDATE`` on PostgreSQL and MySQL/MariaDB; SQLite begins the
  write transaction IMMEDIATE, which serialises writers). Only then does it read the
  references again, so the check includes every write committed before the lock was granted.
  The lock comes first because MariaDB's REPEATABLE READ fixes a transaction's snapshot at its
  first plain read.
- Writers that add a reference take the same row locks before they check: a push locks the
  blob records of its layers (``blob.get_repository_blobs``) and the existing legacy images it
  builds on (``image.synthesize_image_chain``); committing an upload
  (``blob.get_or_create_blob``) and mounting (``blob.mount_blob``) lock the record they link;
  a new tag row locks its image through its foreign key.
- Either the writer locks first: the collector waits, then sees the new reference and keeps
  the row. Or the collector locks first: the writer waits, then finds the row gone, and fails
  cleanly (a push raises ManifestBlobUnknownException, a mount returns False, an upload
  commit creates a fresh record). No row is ever left pointing at a deleted one.

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
import operator
from collections import Counter
from functools import reduce
from typing import Callable, Iterable, Optional

from peewee import JOIN, IntegrityError, chunked, fn

from registry_model import clock, errors
from registry_model.blobstore.base import BlobNotFoundException, BlobStore
from registry_model.connection import db
from registry_model.model import blob_gc
from registry_model.model.tables import (
    BlobUpload,
    ImageStorage,
    ImageStoragePlacement,
    Label,
    Namespace,
    Repository,
    RepositoryState,
    UploadedBlob,
)
from registry_model.pre_oci.ancestors import parse_ancestors
from registry_model.pre_oci.tables import Image, RepositoryTag, TagManifest, TagManifestLabel
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


def _write(write: Callable):
    return run_with_retry(write, conflict=errors.ConcurrentWriteException)


def _depth(ancestors: str) -> int:
    return ancestors.count("/")


class Collector:
    """One collection run: its clock, blob store, mode, and the counts so far.

    ``now`` (default: the current time) decides which tags ended long enough ago, which links
    expired and which files are recent. With ``dry_run`` nothing is written or removed and the
    counts say what would go.
    """

    def __init__(self, store: BlobStore, now: Optional[int] = None, dry_run: bool = False,
                 batch_size: int = DEFAULT_BATCH_SIZE, grace_s: int = DEFAULT_GRACE_S) -> None:
        self.store = store
        self.now = clock.now_ts() if now is None else blob_gc.check_count("now", now, 0)
        self.dry_run = bool(dry_run)
        self.batch_size = blob_gc.check_count("batch_size", batch_size, 1, MAX_BATCH_SIZE)
        self.grace_s = blob_gc.check_count("grace_s", grace_s, 0)
        self.counts: Counter = Counter({field: 0 for field in SUMMARY_FIELDS})
        self._counted_blobs: set = set()  # dry run: a blob is counted once per run
        # Dry run: the images and links the run would have deleted so far, in any repository.
        self._doomed_images: set = set()
        self._doomed_links: set = set()

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
        self._collect_tags(repository_id, cutoff)
        images, image_blobs = self._collect_images(repository_id, cutoff)
        links, link_blobs = self._collect_links(repository_id, purge)
        self.collect_blobs(image_blobs | link_blobs, images, links)
        if purge:
            self._purge_uploads(repository_id)
            self._delete_repository(repository_id)
        self.counts["repositories"] += 1
        return True

    def _collect_tags(self, repository_id: int, cutoff: Optional[int]) -> None:
        """Dead tag rows, their manifests and labels: 6 statements per batch."""
        after = 0
        while True:
            def batch(after=after) -> tuple:
                query = (RepositoryTag.select(RepositoryTag.id, TagManifest.id)
                         .join(TagManifest, JOIN.LEFT_OUTER,
                               on=(TagManifest.tag == RepositoryTag.id))
                         .where(RepositoryTag.repository == repository_id,
                                RepositoryTag.id > after))
                if cutoff is not None:
                    query = query.where(RepositoryTag.lifetime_end_ts <= cutoff)
                rows = list(query.order_by(RepositoryTag.id).limit(self.batch_size).tuples())
                tag_ids = [tag_id for tag_id, _ in rows]
                manifest_ids = [manifest_id for _, manifest_id in rows if manifest_id is not None]
                label_ids = [row[0] for row in TagManifestLabel.select(TagManifestLabel.label)
                             .where(TagManifestLabel.annotated.in_(manifest_ids)).tuples()
                             ] if manifest_ids else []
                if not self.dry_run and rows:
                    if manifest_ids:
                        (TagManifestLabel.delete()
                         .where(TagManifestLabel.annotated.in_(manifest_ids)).execute())
                    if label_ids:
                        Label.delete().where(Label.id.in_(label_ids)).execute()
                    if manifest_ids:
                        TagManifest.delete().where(TagManifest.id.in_(manifest_ids)).execute()
                    RepositoryTag.delete().where(RepositoryTag.id.in_(tag_ids)).execute()
                return tag_ids, manifest_ids, label_ids

            tag_ids, manifest_ids, label_ids = batch() if self.dry_run else _write(batch)
            self.counts.update(tags=len(tag_ids), manifests=len(manifest_ids),
                               labels=len(label_ids))
            if len(tag_ids) < self.batch_size:
                return
            after = tag_ids[-1]

    def _reachable(self, repository_id: int, cutoff: Optional[int],
                   watermark: Optional[int]) -> set:
        """Ids of the images a tag row reaches, ancestors included: one query.

        Once the tag phase has run, every tag row left counts: the kept ones, and any a
        concurrent writer ended since (its foreign key would refuse the image's deletion
        anyway). A dry run deleted nothing, so it counts the rows it would keep. Images above
        ``watermark`` (created after the plan was made) count as reached too, so a chain a
        concurrent writer grew on a doomed image keeps its ancestors.
        """
        roots = []
        if not (self.dry_run and cutoff is None):
            tags = RepositoryTag.select(RepositoryTag.image).where(
                RepositoryTag.repository == repository_id)
            if self.dry_run:
                tags = tags.where(RepositoryTag.lifetime_end_ts.is_null(True)
                                  | (RepositoryTag.lifetime_end_ts > cutoff))
            roots.append(Image.id.in_(tags))
        if watermark is not None:
            roots.append(Image.id > watermark)
        if not roots:
            return set()
        reached: set = set()
        for image_id, ancestors in (Image.select(Image.id, Image.ancestors)
                                    .where(Image.repository == repository_id,
                                           reduce(operator.or_, roots)).tuples()):
            reached.add(image_id)
            reached.update(parse_ancestors(ancestors))
        return reached

    def _collect_images(self, repository_id: int, cutoff: Optional[int]) -> tuple:
        """Unreachable images, deepest first: 2 statements, then 3 per batch.

        Returns the ids of the images collected and of the blob records they used.
        """
        images = list(Image.select(Image.id, Image.ancestors, Image.storage)
                      .where(Image.repository == repository_id).tuples())
        if not images:
            return set(), set()
        watermark = max(image_id for image_id, _, _ in images)
        reached = self._reachable(repository_id, cutoff, watermark=None)
        doomed = sorted((image for image in images if image[0] not in reached),
                        key=lambda image: (-_depth(image[1]), -image[0]))
        collected: set = set()
        storage_ids: set = set()
        for batch in chunked(doomed, self.batch_size):
            ids = [image_id for image_id, _, _ in batch]
            if self.dry_run:
                gone = [(image_id, storage_id) for image_id, _, storage_id in batch]
            else:
                def write(ids=ids) -> list:
                    rows = list(locked(Image.select(Image.id, Image.storage)
                                       .where(Image.id.in_(ids)).order_by(Image.id)).tuples())
                    kept = self._reachable(repository_id, cutoff, watermark)
                    going = [row for row in rows if row[0] not in kept]
                    if going:
                        (Image.delete().where(Image.id.in_([image_id for image_id, _ in going]))
                         .execute())
                    return going
                gone = _write(write)
            collected.update(image_id for image_id, _ in gone)
            storage_ids.update(storage_id for _, storage_id in gone)
        self.counts["images"] += len(collected)
        return collected, storage_ids

    def _collect_links(self, repository_id: int, purge: bool) -> tuple:
        """Expired (purging: all) links of the repository: 2 statements per batch."""
        after = 0
        link_ids: set = set()
        blob_ids: set = set()
        while True:
            def batch(after=after) -> list:
                query = UploadedBlob.select(UploadedBlob.id, UploadedBlob.blob).where(
                    UploadedBlob.repository == repository_id, UploadedBlob.id > after)
                if not purge:
                    query = query.where(UploadedBlob.expires_at <= self.now)
                rows = list(query.order_by(UploadedBlob.id).limit(self.batch_size).tuples())
                if rows and not self.dry_run:
                    (UploadedBlob.delete()
                     .where(UploadedBlob.id.in_([link_id for link_id, _ in rows])).execute())
                return rows

            rows = batch() if self.dry_run else _write(batch)
            # A dry run deleted no blob record: the links of one it counted as gone would have
            # gone with it, in an earlier repository of the walk.
            kept = [row for row in rows if row[1] not in self._counted_blobs]
            link_ids.update(link_id for link_id, _ in kept)
            blob_ids.update(blob_id for _, blob_id in kept)
            if len(rows) < self.batch_size:
                break
            after = rows[-1][0]
        self.counts["links"] += len(link_ids)
        return link_ids, blob_ids

    # --- blob records and their bytes ------------------------------------------------

    def collect_blobs(self, storage_ids: Iterable[int], doomed_images: Iterable[int] = (),
                      doomed_links: Iterable[int] = ()) -> None:
        """Delete those blob records that nothing references any more: 5 statements per batch.

        Each batch locks its records, checks their references anew and deletes the
        unreferenced ones with their placements and expired links; their files go after the
        commit (one more statement, see the module's docstring). A dry run counts instead,
        as if ``doomed_images`` and ``doomed_links`` were gone already, and with them those of
        the repositories the run went through before: a real walk will have deleted them, and
        a blob two of them share goes with the last.
        """
        self._doomed_images.update(doomed_images)
        self._doomed_links.update(doomed_links)
        doomed_images, doomed_links = self._doomed_images, self._doomed_links
        for batch in chunked(sorted(set(storage_ids)), self.batch_size):
            if self.dry_run:
                self._count_blobs(batch, doomed_images, doomed_links)
                continue

            def write(batch=batch) -> int:
                rows = blob_gc.lock_blob_records(batch)
                if not rows:
                    return 0
                used = blob_gc.used_blob_ids([storage_id for storage_id, _, _ in rows], self.now)
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

            self.counts["blobs"] += _write(write)

    def _count_blobs(self, batch: list, doomed_images: set, doomed_links: set) -> None:
        """Dry run of one batch of blob records: 4 statements."""
        rows = list(ImageStorage.select(ImageStorage.id, ImageStorage.content_checksum,
                                        ImageStorage.image_size)
                    .where(ImageStorage.id.in_(batch),
                           ImageStorage.uploading == False)  # noqa: E712
                    .tuples())
        image_users = (Image.select(Image.storage, Image.id)
                       .where(Image.storage.in_(batch)).tuples())
        link_users = (UploadedBlob.select(UploadedBlob.blob, UploadedBlob.id)
                      .where(UploadedBlob.blob.in_(batch),
                             UploadedBlob.expires_at > self.now).tuples())
        used = {storage_id for storage_id, image_id in image_users
                if image_id not in doomed_images}
        used |= {storage_id for storage_id, link_id in link_users if link_id not in doomed_links}
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

            rows = batch() if self.dry_run else _write(batch)
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

        def write() -> bool:
            marked = list(locked(Repository.select(Repository.id).where(
                Repository.id == repository_id,
                Repository.state == RepositoryState.MARKED_FOR_DELETION)).tuples())
            return bool(marked) and bool(
                Repository.delete().where(Repository.id == repository_id).execute())

        try:
            purged = run_with_retry(write, retry_integrity_errors=False,
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
            used_by_image = Image.select(Image.id).where(Image.storage == ImageStorage.id)
            linked = UploadedBlob.select(UploadedBlob.id).where(
                UploadedBlob.blob == ImageStorage.id, UploadedBlob.expires_at > self.now)
            ids = [row[0] for row in ImageStorage.select(ImageStorage.id).where(
                ImageStorage.id > after, ImageStorage.id <= up_to_id,
                ImageStorage.uploading == False,  # noqa: E712
                ~fn.EXISTS(used_by_image), ~fn.EXISTS(linked))
                .order_by(ImageStorage.id).limit(self.batch_size).tuples()]
            self.collect_blobs(ids)
            if len(ids) < self.batch_size:
                return
            after = ids[-1]


def collect_all(store: BlobStore, now: Optional[int] = None, dry_run: bool = False,
                batch_size: int = DEFAULT_BATCH_SIZE, grace_s: int = DEFAULT_GRACE_S,
                start_after: int = 0, progress: Optional[Progress] = None) -> tuple:
    """The worker: collect every repository after ``start_after``, in id order; then the rest.

    Repositories are read ``batch_size`` at a time and each one is collected (or purged, when
    marked for deletion) as :meth:`Collector.collect_repository` does; then the blob records
    that nothing references are collected. Returns ``(counts, last repository id)``; a worker
    that stopped resumes with ``start_after`` set to the last id it reported through
    ``progress``. Two statements to start, one per batch of repositories.
    """
    collector = Collector(store, now, dry_run, batch_size, grace_s)
    after = blob_gc.check_count("start_after", start_after, 0)
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
