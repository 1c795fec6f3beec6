"""Blobs of a repository, resumable uploads and cross-repository mounts.

Part of :class:`registry_model.interface.RegistryDataInterface`; see that package for what
every method shares (datatypes, budgets, transactions, replicas, stale handles).
"""
from abc import ABC, abstractmethod


class BlobsInterface(ABC):
    """Blobs of a repository, resumable uploads and cross-repository mounts."""

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

    @abstractmethod
    def release_blob_links(self, repository_ref, blob_digests):
        """Drop the repository's temporary links of those blobs once its images use them.

        A link protects a freshly uploaded blob until a manifest references it; after that it
        would only delay the blob's collection. Links of blobs that no image of the repository
        uses are kept. Returns how many were dropped. Budget: 1 statement.
        """
