"""Blobs and resumable uploads of PreOCIModel."""
import logging
from typing import Optional

from registry_model import clock
from registry_model.datatypes import Blob, BlobUpload, RepositoryReference, repository_id
from registry_model.model import blob as blob_model
from registry_model.model import lookup
from registry_model.model import storage as storage_model
from registry_model.model import upload as upload_model
from registry_model.replicas import stale_ok

logger = logging.getLogger(__name__)


def _upload(row) -> BlobUpload:
    return BlobUpload.for_upload(row, lookup.location_name(row.location_id))


class BlobsMixin:
    """get_repo_blob_by_digest, the blob upload methods and mounting."""

    @stale_ok(confirm_miss=True)
    def get_repo_blob_by_digest(self, repository_ref: RepositoryReference, blob_digest: str,
                                include_placements: bool = False) -> Optional[Blob]:
        """The finished Blob linked to the repository, or None."""
        row = blob_model.get_repository_blob(repository_id(repository_ref), blob_digest,
                                             clock.now_ts())
        if row is None:
            return None
        placements = storage_model.get_storage_locations(row.id) if include_placements else None
        return Blob.for_image_storage(row, placements)

    def create_blob_upload(self, repository_ref: RepositoryReference, upload_id: str,
                           location_name: str, storage_metadata: Optional[dict]) -> BlobUpload:
        """Start a resumable upload in the repository."""
        return _upload(upload_model.create_upload(repository_id(repository_ref), upload_id,
                                                  location_name, storage_metadata,
                                                  clock.now_ts()))

    def lookup_blob_upload(self, repository_ref: RepositoryReference,
                           blob_upload_id: str) -> Optional[BlobUpload]:
        """The repository's upload with that id, or None."""
        row = upload_model.get_upload(repository_id(repository_ref), blob_upload_id)
        return _upload(row) if row is not None else None

    def update_blob_upload(self, blob_upload: BlobUpload, uncompressed_byte_count: Optional[int],
                           storage_metadata: Optional[dict], byte_count: int, chunk_count: int,
                           sha_state: Optional[str]) -> Optional[BlobUpload]:
        """Record the upload's progress; the updated BlobUpload or None if gone."""
        if not upload_model.update_upload(blob_upload.upload_id, byte_count,
                                          uncompressed_byte_count, chunk_count, sha_state,
                                          storage_metadata):
            return None
        return blob_upload._replace(byte_count=byte_count,
                                    uncompressed_byte_count=uncompressed_byte_count,
                                    chunk_count=chunk_count, sha_state=sha_state,
                                    storage_metadata=storage_metadata or {})

    def delete_blob_upload(self, blob_upload: BlobUpload) -> None:
        """Forget the upload."""
        upload_model.delete_upload(blob_upload.upload_id)

    def commit_blob_upload(self, blob_upload: BlobUpload, blob_digest_str: str,
                           blob_expiration_seconds: int) -> Optional[Blob]:
        """Turn the upload into a Blob linked to its repository for a while."""
        row = upload_model.commit_upload(blob_upload.upload_id, blob_digest_str,
                                         blob_expiration_seconds, clock.now_ts())
        return Blob.for_image_storage(row) if row is not None else None

    def mount_blob_into_repository(self, blob: Blob, target_repository_ref: RepositoryReference,
                                   expiration_sec: int) -> bool:
        """Link the blob into another repository for ``expiration_sec``."""
        return blob_model.mount_blob(blob.id, repository_id(target_repository_ref), expiration_sec,
                                     clock.now_ts(), digest=blob.digest) is not None
