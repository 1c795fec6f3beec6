"""The tag lifecycle of PreOCIModel: listing, history, deletion and expiration."""
import calendar
import logging
from datetime import UTC, datetime
from typing import Optional

from registry_model import clock
from registry_model.datatypes import (
    LegacyImage,
    Manifest,
    RepositoryReference,
    Tag,
    manifest_id,
    repository_id,
    tag_id,
)
from registry_model.model.tables import Repository
from registry_model.pre_oci import image as image_model
from registry_model.pre_oci import manifest as manifest_model
from registry_model.pre_oci import tag as tag_model
from registry_model.replicas import stale_ok

logger = logging.getLogger(__name__)


def tag_datatype(row, repository_ref: RepositoryReference) -> Tag:
    """A Tag from a flat tag row with its image's V1 id and manifest digest.

    Every method returning Tags builds them here, so a tag has the same fields whichever
    method returned it.
    """
    return Tag.for_repository_tag(row, row.docker_image_id, repository_ref,
                                  manifest_digest=row.manifest_digest)


def _timestamp(value: Optional[datetime]) -> Optional[int]:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return calendar.timegm(value.timetuple())


class TagLifecycleMixin:
    """Tag listings, history, deletion, expiration and the images a tag owns."""

    @stale_ok(confirm_miss=True)
    def get_repo_tag(self, repository_ref: RepositoryReference, tag_name: str) -> Optional[Tag]:
        """The alive, non-hidden Tag of that name, manifest digest loaded."""
        rows = tag_model.find_alive_tags(repository_id(repository_ref), [tag_name], clock.now_ts())
        return tag_datatype(rows[0], repository_ref) if rows else None

    @stale_ok
    def list_all_active_repository_tags(self, repository_ref: RepositoryReference) -> list:
        """Every alive, non-hidden Tag of the repository, by name."""
        return [tag_datatype(row, repository_ref) for row in
                tag_model.list_alive_tags_page(repository_id(repository_ref), clock.now_ts(),
                                               limit=None)]

    @stale_ok
    def lookup_active_repository_tags(self, repository_ref: RepositoryReference,
                                      last: Optional[str] = None, limit: int = 100) -> list:
        """Up to ``limit`` alive Tags named after ``last``, by name."""
        return [tag_datatype(row, repository_ref) for row in
                tag_model.list_alive_tags_page(repository_id(repository_ref), clock.now_ts(), last,
                                               limit)]

    @stale_ok
    def list_repository_tag_history(self, repository_ref: RepositoryReference, page: int = 1,
                                    size: int = 100, specific_tag_name: Optional[str] = None,
                                    active_tags_only: bool = False) -> tuple:
        """A page of tag rows, newest first, and whether more follow."""
        rows, has_more = tag_model.list_tag_history_page(
            repository_id(repository_ref), clock.now_ts(), page=page, size=size,
            tag_name=specific_tag_name, active_only=active_tags_only)
        return [tag_datatype(row, repository_ref) for row in rows], has_more

    def delete_tag(self, repository_ref: RepositoryReference, tag_name: str) -> Optional[Tag]:
        """End the alive tag of that name; the ended Tag or None."""
        ended = tag_model.delete_tag(Repository(id=repository_id(repository_ref)), tag_name)
        if ended is None:
            return None
        return Tag.for_repository_tag(ended, ended.image.docker_image_id, repository_ref,
                                      manifest_digest=ended.manifest_digest)

    def delete_tags_for_manifest(self, manifest: Manifest) -> list:
        """End every alive tag whose manifest has this digest; the ended Tags."""
        repository, rows = manifest_model.end_tags_of_manifest(
            manifest_id(manifest), manifest.digest, manifest.tag_id, clock.now_ts())
        if repository is None:
            return []
        repository_ref = RepositoryReference.for_repo_obj(repository)
        return [tag_datatype(row, repository_ref) for row in rows]

    def delete_manifest(self, repository_ref: RepositoryReference,
                        manifest_digest: str) -> Optional[list]:
        """End every alive tag of the manifest found by digest; None when none is found.

        The pre-OCI schema has no hidden tags: this is lookup_manifest_by_digest (1
        statement) then delete_tags_for_manifest (3).
        """
        manifest = self.lookup_manifest_by_digest(repository_ref, manifest_digest)
        if manifest is None:
            return None
        return self.delete_tags_for_manifest(manifest)

    def change_repository_tag_expiration(self, tag: Tag,
                                         expiration_date: Optional[datetime]) -> tuple:
        """Set when the alive tag ends (None: never): ``(previous, changed)``."""
        previous, changed = tag_model.change_tag_expiration(
            tag_id(tag), _timestamp(expiration_date), clock.now_ts(), name=tag.name,
            start=tag.lifetime_start_ts)
        if previous is not None:
            previous = datetime.fromtimestamp(previous, tz=UTC)
        return previous, changed

    def set_tags_expiration_for_manifest(self, manifest: Manifest, expiration_sec: int) -> None:
        """End every alive tag of the manifest ``expiration_sec`` after its start."""
        manifest_model.set_expiration_of_manifest_tags(manifest_id(manifest), manifest.digest,
                                                       manifest.tag_id, expiration_sec,
                                                       clock.now_ts())

    def has_any_tag(self) -> bool:
        """True when any RepositoryTag row exists (asked of the primary)."""
        return tag_model.any_tag_exists()

    @stale_ok
    def has_expired_tag(self, repository_ref: RepositoryReference, tag_name: str) -> bool:
        """True when an ended row of that tag name exists."""
        return tag_model.has_expired_tag(repository_id(repository_ref), tag_name, clock.now_ts())

    def get_legacy_images_owned_by_tag(self, tag: Tag) -> list:
        """LegacyImages that only this tag reaches among the alive tags."""
        excluded = tag_id(tag)
        now = clock.now_ts()
        image = image_model.get_images_by_id([tag.image_id]).get(tag.image_id)
        if image is None:
            return []
        owned = set(image_model.parse_ancestors(image.ancestors)) | {image.id}
        for other_image_id, ancestors in tag_model.alive_image_ancestries(
                tag.repository.id, now, excluding_tag_id=excluded):
            owned.discard(other_image_id)
            owned.difference_update(image_model.parse_ancestors(ancestors))
        if not owned:
            return []
        rows = image_model.get_images_by_id(owned)
        return [LegacyImage.for_image(rows[image_id]) for image_id in sorted(owned)]
