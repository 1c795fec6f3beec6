"""Garbage collection and repository deletion.

``DEFAULT_BATCH_SIZE`` and ``DEFAULT_GRACE_S`` are the defaults of its methods. Part of
:class:`registry_model.interface.RegistryDataInterface`; see that package for what every
method shares (datatypes, budgets, transactions, replicas, stale handles).
"""
from abc import ABC, abstractmethod

from registry_model.model.collection import DEFAULT_BATCH_SIZE, DEFAULT_GRACE_S


class CollectionInterface(ABC):
    """Garbage collection and repository deletion."""

    @abstractmethod
    def garbage_collect_repository(self, repository_ref, store, dry_run=False, now=None,
                                   batch_size=DEFAULT_BATCH_SIZE, grace_s=DEFAULT_GRACE_S):
        """Collect the repository's garbage; a GCSummary. Purges it when marked for deletion.

        A repository that is gone gives a summary of zeros.

        Goes: tag rows that ended at least the namespace's time-machine window before ``now``
        (default: the current time; the hidden tag of a push by digest on the OCI model as
        soon as it ends), their manifests and labels; legacy images no remaining
        tag reaches (a kept image keeps its ancestors); expired temporary blob links; blob
        records nothing references any more in any repository. Alive tags, tags within the
        window and everything they reach are never touched. Blob files go only after the
        commit, when no record names them and they were not written within ``grace_s``. With
        ``dry_run`` nothing changes and the summary says what would go. Each batch of at most
        ``batch_size`` rows is its own transaction, and what a batch costs does not grow with
        its rows. Budget: 1 statement, plus 2 statements (to plan the images), 6 per batch of
        tags, 3 per batch of images, 2 per batch of links and 6 per batch of blobs (one of them
        after the commit). A phase that finds nothing costs 1, and one whose last batch is
        full 1 more.
        """

    @abstractmethod
    def mark_repository_for_deletion(self, repository_ref):
        """Mark the repository for deletion: lookups stop finding it at once.

        Its rows stay until :meth:`purge_repository` or a collection purges them; the name is
        taken until then. NotFoundException when the repository is gone. Budget: 1 statement.
        """

    @abstractmethod
    def purge_repository(self, repository_ref, store, dry_run=False,
                         batch_size=DEFAULT_BATCH_SIZE):
        """Delete a repository marked for deletion through the collector; a GCSummary.

        Every tag row regardless of the window, then what the collector removes, then the
        repository's uploads, links and the repository row itself. DataModelException when
        the repository is not marked for deletion. Budget: as garbage_collect_repository,
        plus 2 statements (for the repository row) and 2 per batch of uploads.
        """

    @abstractmethod
    def collect_garbage(self, store, batch_size=DEFAULT_BATCH_SIZE, dry_run=False, now=None,
                        grace_s=DEFAULT_GRACE_S, start_after=None, progress=None):
        """The worker: collect (or purge) every repository in id order, then stray blobs.

        Repositories after ``start_after`` are walked ``batch_size`` at a time, each collected
        as garbage_collect_repository does, then blob records nothing references (left by an
        interrupted run) are collected. ``progress(repository_id, done, total)`` is called
        after each repository; the summary's ``last_repository_id`` (or the last id reported)
        resumes a stopped walk. Budget: 2 statements, plus 1 per batch of repositories and 1
        per batch of stray blobs (beside each repository's collection, within the budget of
        garbage_collect_repository).
        """

    @abstractmethod
    def sweep_orphan_blobs(self, store, grace_period_s=DEFAULT_GRACE_S, dry_run=False,
                           now=None):
        """Remove blob files no record names, last written at least ``grace_period_s`` ago.

        What a crash between a collection's commit and its file removal leaves behind, or an
        upload that never committed. A GCSummary with ``orphan_files`` and ``orphan_bytes``.
        Budget: 1 statement per 100 files in the store.
        """
