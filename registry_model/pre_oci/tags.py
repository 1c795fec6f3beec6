"""The tag lifecycle of PreOCIModel: listing, history, deletion and expiration."""
import calendar
import logging
from datetime import UTC, datetime
from typing import Optional

from registry_model import clock, errors
from registry_model.datatypes import LegacyImage, Manifest, RepositoryReference, Tag
from registry_model.model.lookup import is_public, kind_name
from registry_model.model.tables import Repository
from registry_model.pre_oci import image as image_model
from registry_model.pre_oci import manifest as manifest_model
from registry_model.pre_oci import tag as tag_model
from registry_model.replicas import stale_ok
from registry_model.transactions import run_with_retry, transaction

logger = logging.getLogger(__name__)


def tag_datatype(row, repository_ref: RepositoryReference) -> Tag:
    """A Tag from a flat tag row with its image's V1 id (and manifest digest, when joined)."""
    return Tag.for_repository_tag(row, row.docker_image_id, repository_ref,
                                  manifest_digest=tag_model.manifest_digest_of(row))


def repository_of(row) -> RepositoryReference:
    """The RepositoryReference of a tag row loaded with its repository and namespace."""
    repo = row.repository
    return RepositoryReference.for_repo_obj(repo, repo.namespace.name, kind_name(repo.kind_id),
                                            is_public(repo.visibility_id))


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
        """The alive, non-hidden Tag of that name, manifest digest loaded (1 statement)."""
        rows = tag_model.find_alive_tags(repository_ref.id, [tag_name], clock.now_ts(),
                                         with_manifest_digest=True)
        return tag_datatype(rows[0], repository_ref) if rows else None

    @stale_ok
    def list_all_active_repository_tags(self, repository_ref: RepositoryReference) -> list:
        """Every alive, non-hidden Tag of the repository, by name (1 statement)."""
        return [tag_datatype(row, repository_ref) for row in
                tag_model.list_alive_tags_page(repository_ref.id, clock.now_ts(),
                                               limit=None)]

    @stale_ok
    def lookup_active_repository_tags(self, repository_ref: RepositoryReference,
                                      last: Optional[str] = None, limit: int = 100) -> list:
        """Up to ``limit`` alive Tags named after ``last``, by name (1 statement)."""
        return [tag_datatype(row, repository_ref) for row in
                tag_model.list_alive_tags_page(repository_ref.id, clock.now_ts(), last,
                                               limit)]

    @stale_ok
    def list_repository_tag_history(self, repository_ref: RepositoryReference, page: int = 1,
                                    size: int = 100, specific_tag_name: Optional[str] = None,
                                    active_tags_only: bool = False) -> tuple:
        """A page of tag rows, newest first, and whether more follow (1 statement)."""
        rows, has_more = tag_model.list_tag_history_page(
            repository_ref.id, clock.now_ts(), page=page, size=size,
            tag_name=specific_tag_name, active_only=active_tags_only)
        return [tag_datatype(row, repository_ref) for row in rows], has_more

    def delete_tag(self, repository_ref: RepositoryReference, tag_name: str) -> Optional[Tag]:
        """End the alive tag of that name; the ended Tag or None (3 statements)."""
        ended = tag_model.delete_tag(Repository(id=repository_ref.id), tag_name)
        if ended is None:
            return None
        return Tag.for_repository_tag(ended, ended.image.docker_image_id, repository_ref)

    def delete_tags_for_manifest(self, manifest: Manifest) -> list:
        """End every alive tag whose manifest has this digest; the ended Tags (3 statements)."""
        now = clock.now_ts()
        with transaction():
            owner = manifest_model.get_manifest_owner(manifest.id, manifest.digest,
                                                      manifest.tag_id)
            if owner is None:
                return []
            repository_ref = repository_of(owner.tag)
            rows = tag_model.alive_tags_for_digest(repository_ref.id, manifest.digest, now)
            tag_model.end_tags([row.id for row in rows], now)
        return [tag_datatype(row._replace(lifetime_end_ts=now), repository_ref) for row in rows]

    def change_repository_tag_expiration(self, tag: Tag,
                                         expiration_date: Optional[datetime]) -> tuple:
        """Set when the alive tag ends (None: never): ``(previous, changed)`` (2 statements)."""
        previous, changed = tag_model.change_tag_expiration(
            tag.id, _timestamp(expiration_date), clock.now_ts(), name=tag.name,
            start=tag.lifetime_start_ts)
        if previous is not None:
            previous = datetime.fromtimestamp(previous, tz=UTC)
        return previous, changed

    def set_tags_expiration_for_manifest(self, manifest: Manifest, expiration_sec: int) -> None:
        """End every alive tag of the manifest ``expiration_sec`` after its start (3 statements)."""
        now = clock.now_ts()

        def write() -> None:
            owner = manifest_model.get_manifest_owner(manifest.id, manifest.digest,
                                                      manifest.tag_id)
            if owner is not None:
                tag_model.set_expiration_for_digest(owner.tag.repository_id, manifest.digest,
                                                    expiration_sec, now)

        run_with_retry(write, retry_integrity_errors=False,
                       conflict=errors.ConcurrentWriteException)

    @stale_ok
    def has_expired_tag(self, repository_ref: RepositoryReference, tag_name: str) -> bool:
        """True when an ended row of that tag name exists (1 statement)."""
        return tag_model.has_expired_tag(repository_ref.id, tag_name, clock.now_ts())

    def get_legacy_images_owned_by_tag(self, tag: Tag) -> list:
        """LegacyImages that only this tag reaches among the alive tags (3 statements)."""
        now = clock.now_ts()
        image = image_model.get_images_by_id([tag.image_id]).get(tag.image_id)
        if image is None:
            return []
        owned = set(image_model.parse_ancestors(image.ancestors)) | {image.id}
        for other_image_id, ancestors in tag_model.alive_image_ancestries(
                tag.repository.id, now, excluding_tag_id=tag.id):
            owned.discard(other_image_id)
            owned.difference_update(image_model.parse_ancestors(ancestors))
        if not owned:
            return []
        rows = image_model.get_images_by_id(owned)
        return [LegacyImage.for_image(rows[image_id]) for image_id in sorted(owned)]
