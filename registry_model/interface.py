"""RegistryDataInterface: the abstract API registry code programs to.

Every method returns datatypes from :mod:`registry_model.datatypes` (never a
peewee row), lists for several items. The budget in each docstring is the
largest number of SQL statements the method may send (BEGIN, COMMIT and
savepoints not counted, lookup tables cached), whatever the size of the data;
``tests/test_query_budgets.py`` holds every implementation to it.

With read replicas configured (:mod:`registry_model.replicas`), the lookups and
listings may be answered by a replica, a little behind the primary, outside a
transaction: find_matching_tag, get_most_recent_tag, lookup_repository,
get_repo_tag, get_manifest_for_tag, lookup_manifest_by_digest, get_legacy_images,
get_legacy_image, list_manifest_labels, get_manifest_label,
get_repo_blob_by_digest, list_all_active_repository_tags,
lookup_active_repository_tags, list_repository_tag_history and has_expired_tag.
Those returning one item or None ask the primary again before answering None
(one statement more), so what was just created is always found; a listing may
lack the newest rows. Every other method reads and writes on the primary:
lookup_blob_upload (the push flow reads the upload it has just written) and
get_legacy_images_owned_by_tag (it decides what a deletion removes) included.

Every write is one transaction. A write that the database ends as a deadlock victim,
by a serialization failure or a lock timeout never surfaces as a driver error: the
writes marked "retried" run again in a new transaction, up to eight times; a write that
is not retried, or keeps losing, raises ConcurrentWriteException having written nothing.
Any call raises DatabaseUnavailableException when the database server cannot be reached.

A datatype passed back in is checked against its row: a Manifest by its digest and tag row,
a LegacyImage by its V1 id, a Blob by its digest, a Tag by its name and start. One whose row
is gone names nothing (None, False, an empty list or NotFoundException, as for a row that
never existed), even where SQLite has given its id to a newer row.
"""
from abc import ABCMeta, abstractmethod

import six


@six.add_metaclass(ABCMeta)
class RegistryDataInterface:
    """What a registry needs from its data model: repositories, tags, manifests, images, labels."""

    @abstractmethod
    def find_matching_tag(self, repository_ref, tag_names):
        """The alive, non-hidden Tag whose name comes first in ``tag_names``, or None.

        Budget: 1 statement (0 for an empty list).
        """

    @abstractmethod
    def get_most_recent_tag(self, repository_ref):
        """The alive, non-hidden Tag with the latest start (ties: highest id), or None.

        Budget: 1 statement.
        """

    @abstractmethod
    def lookup_repository(self, namespace_name, repo_name, kind_filter=None):
        """The RepositoryReference of ``namespace_name/repo_name``, or None.

        None also when the repository is of another kind than ``kind_filter``
        or is marked for deletion. Budget: 1 statement.
        """

    @abstractmethod
    def get_manifest_for_tag(self, tag):
        """The Manifest stored for the Tag, or None. Budget: 1 statement."""

    @abstractmethod
    def lookup_manifest_by_digest(self, repository_ref, manifest_digest, allow_dead=False):
        """The Manifest with that digest under an alive tag of the repository, or None.

        Any tag, alive or in the time machine, counts when ``allow_dead``. A
        malformed digest gives None. Budget: 1 statement.
        """

    @abstractmethod
    def get_legacy_images(self, repository_ref):
        """Every LegacyImage of the repository, with ``parents`` and ``tags`` filled.

        Budget: 2 statements.
        """

    @abstractmethod
    def get_legacy_image(self, repository_ref, docker_image_id, include_parents=False):
        """That LegacyImage, or None; ``parents`` filled when asked, ``tags`` None.

        Budget: 1 statement, 2 with parents.
        """

    @abstractmethod
    def create_manifest_label(self, manifest, key, value, source_type_name,
                              media_type_name=None):
        """Create and return a Label on the Manifest.

        The key must follow the key rules unless the source type is
        ``manifest``; the value is at most ``validation.MAX_LABEL_VALUE_BYTES``
        (64 KiB) of UTF-8, else LabelValueTooLargeException before any write;
        the media type is inferred when None. A key with a
        handler (``quay.expires-after``) also changes the manifest's tags.
        Retried after a deadlock. Budget: 3 statements, 5 for a key with a handler.
        """

    @abstractmethod
    def list_manifest_labels(self, manifest, key_prefix=None):
        """The Manifest's labels in creation order, optionally only keys with that prefix.

        The prefix is case-sensitive and literal. Budget: 1 statement.
        """

    @abstractmethod
    def get_manifest_label(self, manifest, label_uuid):
        """The Manifest's Label with that uuid, or None. Budget: 1 statement."""

    @abstractmethod
    def delete_manifest_label(self, manifest, label_uuid):
        """Delete and return the Manifest's Label with that uuid, or None.

        ImmutableLabelException for a label of an immutable source type. Of
        concurrent deletes of one label, one returns it and the others None.
        Retried after a deadlock. Budget: 3 statements.
        """

    # Blobs and uploads.

    @abstractmethod
    def get_repo_blob_by_digest(self, repository_ref, blob_digest, include_placements=False):
        """The finished Blob with that digest linked to the repository, or None.

        A blob is linked by an image of the repository or by an unexpired
        temporary link (a recent upload or mount). ``placements`` is filled when
        asked. Budget: 1 statement, 2 with placements.
        """

    @abstractmethod
    def create_blob_upload(self, repository_ref, upload_id, location_name, storage_metadata):
        """Start a resumable upload with that UUID in the repository; return its BlobUpload.

        DuplicateException for an id in use. Budget: 1 statement.
        """

    @abstractmethod
    def lookup_blob_upload(self, repository_ref, blob_upload_id):
        """The repository's BlobUpload with that id, or None. Budget: 1 statement."""

    @abstractmethod
    def update_blob_upload(self, blob_upload, uncompressed_byte_count, storage_metadata,
                           byte_count, chunk_count, sha_state):
        """Record an upload's progress; the updated BlobUpload, or None when it is gone.

        ``sha_state`` is the serialised running hash a later worker resumes from.
        Every field is written by one statement, so a reader never sees a mixture of
        two writers' progress. Retried after a deadlock. Budget: 1 statement.
        """

    @abstractmethod
    def delete_blob_upload(self, blob_upload):
        """Forget an upload (cancelled or abandoned). Retried after a deadlock.

        Budget: 1 statement.
        """

    @abstractmethod
    def commit_blob_upload(self, blob_upload, blob_digest_str, blob_expiration_seconds):
        """Turn the upload into a Blob linked to its repository for ``blob_expiration_seconds``.

        The blob record is shared with other repositories holding the same
        digest, also by concurrent commits of it. None when the upload is gone: of
        concurrent commits of one upload, one returns the Blob and the others None.
        Retried after a deadlock. Budget: 6 statements.
        """

    @abstractmethod
    def mount_blob_into_repository(self, blob, target_repository_ref, expiration_sec):
        """Link an existing Blob into another repository for ``expiration_sec``; False if gone.

        The caller checks that the user may read the blob's source. Budget: 2 statements.
        """

    # Pushing manifests.

    @abstractmethod
    def create_manifest_and_retarget_tag(self, repository_ref, manifest_interface_instance,
                                         tag_name, storage):
        """Store a pushed schema 1 manifest and point ``tag_name`` at it: ``(Manifest, Tag)``.

        Every layer blob must be linked to the repository
        (ManifestBlobUnknownException otherwise). The legacy image chain is
        synthesized (clashing V1 ids rewritten), the tag moved (time machine
        kept) and the image config's labels stored as ``manifest`` labels, in
        one transaction, retried after a lost race. A manifest over
        ``validation.MAX_MANIFEST_BYTES`` (4 MiB) raises ManifestTooLargeException,
        a config label over the label limit LabelValueTooLargeException, before
        any write. Budget: 16 statements,
        whatever the number of layers.
        """

    # Tag lifecycle.

    @abstractmethod
    def get_repo_tag(self, repository_ref, tag_name):
        """The alive, non-hidden Tag of that name, with its manifest digest, or None.

        Budget: 1 statement.
        """

    @abstractmethod
    def list_all_active_repository_tags(self, repository_ref):
        """Every alive, non-hidden Tag of the repository, by name. Budget: 1 statement."""

    @abstractmethod
    def lookup_active_repository_tags(self, repository_ref, last=None, limit=100):
        """Up to ``limit`` alive, non-hidden Tags named after ``last``, sorted by name.

        The order and cursor of the OCI distribution tag list (``n``, ``last``).
        Budget: 1 statement.
        """

    @abstractmethod
    def list_repository_tag_history(self, repository_ref, page=1, size=100,
                                    specific_tag_name=None, active_tags_only=False):
        """One page of tag rows, alive and ended, newest first: ``(tags, has_more)``.

        Budget: 1 statement.
        """

    @abstractmethod
    def retarget_tag(self, repository_ref, tag_name, manifest_or_legacy_image, storage,
                     legacy_manifest_key, is_reversion=False):
        """Point ``tag_name`` at a Manifest or LegacyImage of the repository; the new Tag.

        With ``is_reversion`` the move restores an earlier state from the time
        machine and is marked so. A legacy image without a stored manifest gets
        a schema 1 manifest built for it (signed with ``legacy_manifest_key``
        when given); ManifestTooLargeException, before any write, when that
        manifest would exceed ``validation.MAX_MANIFEST_BYTES``. Retried after a
        lost race. Budget: 10 statements.
        """

    @abstractmethod
    def delete_tag(self, repository_ref, tag_name):
        """End the alive tag of that name; the ended Tag, or None.

        Retried after a lost race. Budget: 3 statements.
        """

    @abstractmethod
    def delete_tags_for_manifest(self, manifest):
        """End every alive tag whose manifest has this digest; the ended Tags.

        Budget: 3 statements.
        """

    @abstractmethod
    def change_repository_tag_expiration(self, tag, expiration_date):
        """Set when an alive tag ends (None: never): ``(previous expiration, changed)``.

        Datetimes are UTC. An expiration not after the tag's start changes
        nothing. Budget: 2 statements.
        """

    @abstractmethod
    def set_tags_expiration_for_manifest(self, manifest, expiration_sec):
        """End every alive tag pointing at the manifest ``expiration_sec`` after its start.

        Retried after a lost race. Budget: 3 statements.
        """

    @abstractmethod
    def has_expired_tag(self, repository_ref, tag_name):
        """True when the repository holds an ended row of that tag name. Budget: 1 statement."""

    @abstractmethod
    def get_legacy_images_owned_by_tag(self, tag):
        """The LegacyImages that only this tag uses (no other alive tag reaches them).

        Budget: 3 statements.
        """

    # Garbage collection (see registry_model.model.gc for what goes and the locking protocol).

    @abstractmethod
    def garbage_collect_repository(self, repository_ref, store, dry_run=False, now=None,
                                   batch_size=100, grace_s=3600):
        """Collect the repository's garbage; a GCSummary. Purges it when marked for deletion.

        A repository that is gone gives a summary of zeros.

        Goes: tag rows that ended at least the namespace's time-machine window before ``now``
        (default: the current time), their manifests and labels; legacy images no remaining
        tag reaches (a kept image keeps its ancestors); expired temporary blob links; blob
        records nothing references any more in any repository. Alive tags, tags within the
        window and everything they reach are never touched. Blob files go only after the
        commit, when no record names them and they were not written within ``grace_s``. With
        ``dry_run`` nothing changes and the summary says what would go. Each batch of at most
        ``batch_size`` rows is its own transaction, and what a batch costs does not grow with
        its rows. Budget: 1 statement, plus 6 per batch of tags, 3 per batch of images (plus
        2 to plan them), 2 per batch of links and 6 per batch of blobs (one of them after the
        commit); a phase that finds nothing costs 1, and one whose last batch is full 1 more.
        """

    @abstractmethod
    def mark_repository_for_deletion(self, repository_ref):
        """Mark the repository for deletion: lookups stop finding it at once.

        Its rows stay until :meth:`purge_repository` or a collection purges them; the name is
        taken until then. NotFoundException when the repository is gone. Budget: 1 statement.
        """

    @abstractmethod
    def purge_repository(self, repository_ref, store, dry_run=False, batch_size=100):
        """Delete a repository marked for deletion through the collector; a GCSummary.

        Every tag row regardless of the window, then what the collector removes, then the
        repository's uploads, links and the repository row itself. DataModelException when
        the repository is not marked for deletion. Budget: as garbage_collect_repository,
        plus 2 statements per batch of uploads and 2 for the repository row.
        """

    @abstractmethod
    def collect_garbage(self, store, batch_size=100, dry_run=False, now=None, grace_s=3600,
                        start_after=None, progress=None):
        """The worker: collect (or purge) every repository in id order, then stray blobs.

        Repositories after ``start_after`` are walked ``batch_size`` at a time, each collected
        as garbage_collect_repository does, then blob records nothing references (left by an
        interrupted run) are collected. ``progress(repository_id, done, total)`` is called
        after each repository; the summary's ``last_repository_id`` (or the last id reported)
        resumes a stopped walk. Budget: 2 statements, plus 1 per batch of repositories and 1
        per batch of stray blobs, plus each repository's collection.
        """

    @abstractmethod
    def sweep_orphan_blobs(self, store, grace_period_s=3600, dry_run=False, now=None):
        """Remove blob files no record names, last written at least ``grace_period_s`` ago.

        What a crash between a collection's commit and its file removal leaves behind, or an
        upload that never committed. A GCSummary with ``orphan_files`` and ``orphan_bytes``.
        Budget: 1 statement per 100 files in the store.
        """

    @abstractmethod
    def release_blob_links(self, repository_ref, blob_digests):
        """Drop the repository's temporary links of those blobs once its images use them.

        A link protects a freshly uploaded blob until a manifest references it; after that it
        would only delay the blob's collection. Links of blobs that no image of the repository
        uses are kept. Returns how many were dropped. Budget: 1 statement.
        """

    # Namespaces.
    # ---------------------------------------------------------------------------------------
    # The owners of repositories and their time-machine window (how long ended tags stay
    # restorable, and so what garbage collection may remove).

    @abstractmethod
    def create_namespace(self, namespace_name, removed_tag_expiration_s=None):
        """Create the namespace and return it as a Namespace.

        ``removed_tag_expiration_s`` is its time-machine window (None: the default, 14
        days). InvalidNameException for a bad name, InvalidExpirationException for a
        negative or non-integer window, DuplicateException when the name is taken; nothing
        is written then. Budget: 1 statement.
        """

    @abstractmethod
    def get_namespace(self, namespace_name):
        """The Namespace of that name, or None (also for a name that cannot exist).

        Budget: 1 statement (0 for an invalid name).
        """

    @abstractmethod
    def set_namespace_tag_expiration(self, namespace_name, removed_tag_expiration_s):
        """Set the namespace's time-machine window, in seconds; the updated Namespace.

        Ended tags older than the window become collectable at once (0: as soon as they
        end). NotFoundException when the namespace does not exist, InvalidExpirationException
        for a negative or non-integer window; nothing is written then. Budget: 2 statements.
        """
