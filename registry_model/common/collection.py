"""Garbage collection and repository deletion, written once for every implementation.

What goes, in which order, and the locking protocol that keeps a concurrent push from losing
a blob are described in :mod:`registry_model.model.collection` and the wing's collector
(``collector_class`` of the model, e.g. :mod:`registry_model.pre_oci.collector`); these
methods pick the repository, the clock and the mode, and turn the counts into a
:class:`~registry_model.datatypes.GCSummary`.
"""
import logging
from typing import Iterable, Optional

from registry_model import errors
from registry_model.blobstore.base import BlobStore
from registry_model.datatypes import GCSummary, RepositoryReference, repository_id
from registry_model.model import blob_gc
from registry_model.model import collection as gc_model
from registry_model.model import repository as repository_model
from registry_model.model.tables import Repository, RepositoryState

logger = logging.getLogger(__name__)


class GarbageCollectionMixin:
    """garbage_collect_repository, mark/purge_repository, collect_garbage and the sweep.

    The model sets ``collector_class`` to its wing's subclass of
    :class:`registry_model.model.collection.Collector`.
    """

    collector_class: type = gc_model.Collector

    def garbage_collect_repository(self, repository_ref: RepositoryReference, store: BlobStore,
                                   dry_run: bool = False, now: Optional[int] = None,
                                   batch_size: int = gc_model.DEFAULT_BATCH_SIZE,
                                   grace_s: int = gc_model.DEFAULT_GRACE_S) -> GCSummary:
        """Collect the repository's garbage, purging it when marked (see the interface)."""
        collector = self.collector_class(store, now, dry_run, batch_size, grace_s)
        collector.collect_repository(repository_id(repository_ref))
        return GCSummary.for_counts(collector.counts)

    def mark_repository_for_deletion(self, repository_ref: RepositoryReference) -> None:
        """Mark the repository for deletion; lookups stop finding it."""
        repository_model.set_repository_state(Repository(id=repository_id(repository_ref)),
                                              RepositoryState.MARKED_FOR_DELETION)
        logger.info("marked repository %s (%d) for deletion", repository_ref.full_name,
                    repository_ref.id)

    def purge_repository(self, repository_ref: RepositoryReference, store: BlobStore,
                         dry_run: bool = False,
                         batch_size: int = gc_model.DEFAULT_BATCH_SIZE) -> GCSummary:
        """Delete a repository marked for deletion, rows and files (see the interface)."""
        collector = self.collector_class(store, dry_run=dry_run, batch_size=batch_size)
        if not collector.collect_repository(repository_id(repository_ref), purge=True):
            raise errors.NotFoundException("repository %s no longer exists" % repository_ref.id)
        return GCSummary.for_counts(collector.counts)

    def collect_garbage(self, store: BlobStore, batch_size: int = gc_model.DEFAULT_BATCH_SIZE,
                        dry_run: bool = False, now: Optional[int] = None,
                        grace_s: int = gc_model.DEFAULT_GRACE_S,
                        start_after: Optional[int] = None,
                        progress: Optional[gc_model.Progress] = None) -> GCSummary:
        """Collect every repository after ``start_after``, then stray blobs (see the interface)."""
        collector = self.collector_class(store, now, dry_run, batch_size, grace_s)
        counts, last = gc_model.collect_all(collector, start_after or 0, progress)
        return GCSummary.for_counts(counts, last)

    def sweep_orphan_blobs(self, store: BlobStore,
                           grace_period_s: int = gc_model.DEFAULT_GRACE_S,
                           dry_run: bool = False, now: Optional[int] = None) -> GCSummary:
        """Remove the blob files no record names, once older than the grace period."""
        return GCSummary.for_counts(blob_gc.sweep_orphan_blobs(store, grace_period_s, now,
                                                               dry_run))

    def release_blob_links(self, repository_ref: RepositoryReference,
                           blob_digests: Iterable[str]) -> int:
        """Drop the repository's temporary links of blobs its images use."""
        return blob_gc.release_blob_links(repository_id(repository_ref), blob_digests)
