"""The tags of OCIModel: lookups, listings, history, deletion, expiration, immutability.

Tag rows keep milliseconds; callers see Unix seconds (``Tag.lifetime_start_ts`` is
``lifetime_start_ms // 1000``) as on the pre-OCI model, and datetimes given to
:meth:`change_repository_tag_expiration` keep their milliseconds.
"""
import logging
from datetime import UTC, datetime
from typing import Optional, Sequence

from registry_model import clock, validation
from registry_model.datatypes import (
    Manifest,
    RepositoryReference,
    Tag,
    manifest_id,
    repository_id,
    tag_id,
)
from registry_model.oci import manifest as manifest_model
from registry_model.oci import tag as tag_model
from registry_model.oci.legacy import legacy_image_id
from registry_model.replicas import stale_ok
from registry_model.transactions import run_with_retry

logger = logging.getLogger(__name__)


def tag_datatype(row, repository_ref: RepositoryReference) -> Tag:
    """A Tag from a flat tag row with its manifest's digest and layers' size.

    Every method returning Tags builds them here, so a tag has the same fields whichever
    method returned it; an image manifest's tag shows the V1 id of its top layer.
    """
    docker_image_id = (legacy_image_id(row.manifest_digest, 0)
                       if row.manifest_layers_size is not None else None)
    return Tag.for_oci_tag(row, repository_ref, docker_image_id)


def tag_datatypes(rows: list, repository_ref: RepositoryReference) -> list:
    """Tags of many rows (as :func:`tag_datatype`), each manifest's V1 id made once: tags
    of a repository share a few manifests."""
    docker_ids: dict = {}
    tags = []
    for row in rows:
        if row.manifest_layers_size is None:
            docker_image_id = None
        else:
            docker_image_id = docker_ids.get(row.manifest_digest)
            if docker_image_id is None:
                docker_image_id = docker_ids[row.manifest_digest] = legacy_image_id(
                    row.manifest_digest, 0)
        tags.append(Tag.for_oci_tag(row, repository_ref, docker_image_id))
    return tags


def _milliseconds(value: Optional[datetime]) -> Optional[int]:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


class TagLifecycleMixin:
    """Tag lookups and listings, history, deletion, expiration and immutability."""

    @stale_ok(confirm_miss=True)
    def find_matching_tag(self, repository_ref: RepositoryReference,
                          tag_names: Sequence[str]) -> Optional[Tag]:
        """The alive, non-hidden Tag named first in ``tag_names``, or None."""
        names = validation.tag_name_list(tag_names)
        found = {row.name: row for row in tag_model.find_alive_tags(
            repository_id(repository_ref), names, clock.now_ms())}
        for name in names:
            if name in found:
                return tag_datatype(found[name], repository_ref)
        return None

    @stale_ok(confirm_miss=True)
    def get_most_recent_tag(self, repository_ref: RepositoryReference) -> Optional[Tag]:
        """The alive, non-hidden Tag started last (ties: highest id), or None."""
        row = tag_model.get_most_recent_tag(repository_id(repository_ref), clock.now_ms())
        return tag_datatype(row, repository_ref) if row is not None else None

    @stale_ok(confirm_miss=True)
    def get_repo_tag(self, repository_ref: RepositoryReference, tag_name: str) -> Optional[Tag]:
        """The alive, non-hidden Tag of that name, or None."""
        rows = tag_model.find_alive_tags(repository_id(repository_ref), [tag_name],
                                         clock.now_ms())
        return tag_datatype(rows[0], repository_ref) if rows else None

    @stale_ok
    def list_all_active_repository_tags(self, repository_ref: RepositoryReference) -> list:
        """Every alive, non-hidden Tag of the repository, by name."""
        return tag_datatypes(tag_model.list_alive_tags_page(
            repository_id(repository_ref), clock.now_ms(), limit=None), repository_ref)

    @stale_ok
    def lookup_active_repository_tags(self, repository_ref: RepositoryReference,
                                      last: Optional[str] = None, limit: int = 100) -> list:
        """Up to ``limit`` alive, non-hidden Tags named after ``last``, by name."""
        return tag_datatypes(tag_model.list_alive_tags_page(
            repository_id(repository_ref), clock.now_ms(), last, limit), repository_ref)

    @stale_ok
    def list_repository_tag_history(self, repository_ref: RepositoryReference, page: int = 1,
                                    size: int = 100, specific_tag_name: Optional[str] = None,
                                    active_tags_only: bool = False) -> tuple:
        """A page of tag rows, newest first, and whether more follow."""
        rows, has_more = tag_model.list_tag_history_page(
            repository_id(repository_ref), clock.now_ms(), page=page, size=size,
            tag_name=specific_tag_name, active_only=active_tags_only)
        return tag_datatypes(rows, repository_ref), has_more

    def has_any_tag(self) -> bool:
        """True when any OCI Tag row exists (asked of the primary)."""
        return tag_model.any_tag_exists()

    @stale_ok
    def has_expired_tag(self, repository_ref: RepositoryReference, tag_name: str) -> bool:
        """True when an ended, non-hidden row of that name exists."""
        return tag_model.has_expired_tag(repository_id(repository_ref), tag_name,
                                         clock.now_ms())

    def delete_tag(self, repository_ref: RepositoryReference, tag_name: str) -> Optional[Tag]:
        """End the alive tag of that name; the ended Tag or None (2 statements, 3 on
        PostgreSQL). ImmutableTagException for an immutable tag, nothing changed."""
        ended = tag_model.delete_tag(repository_id(repository_ref), tag_name)
        return tag_datatype(ended, repository_ref) if ended is not None else None

    def delete_tags_for_manifest(self, manifest: Manifest) -> list:
        """End every alive, non-hidden tag of the manifest; the ended Tags.

        ImmutableTagException when one of them is immutable, nothing changed.
        """
        manifest_id(manifest)
        repository = manifest_model.manifest_repository(manifest.id, manifest.digest)
        if repository is None:
            return []
        rows = tag_model.end_tags_of_manifest(manifest.id, clock.now_ms())
        repository_ref = RepositoryReference.for_repo_obj(repository)
        return [tag_datatype(row, repository_ref) for row in rows]

    def delete_manifest(self, repository_ref: RepositoryReference,
                        manifest_digest: str) -> Optional[list]:
        """End every alive tag of the visible manifest, hidden ones too; the ended Tags
        that were listed, or None when no manifest of that digest is visible (3 statements).
        ImmutableTagException when one of them is immutable, nothing changed."""
        repo_id = repository_id(repository_ref)

        def write() -> Optional[list]:
            now_ms = clock.now_ms()
            row = manifest_model.find_manifest_by_digest(repo_id, manifest_digest, now_ms)
            if row is None:
                return None
            return tag_model.end_tags_of_manifest(row.id, now_ms, include_hidden=True)

        rows = run_with_retry(write)
        if rows is None:
            return None
        return [tag_datatype(row, repository_ref) for row in rows if not row.hidden]

    def change_repository_tag_expiration(self, tag: Tag,
                                         expiration_date: Optional[datetime]) -> tuple:
        """Set when the alive tag ends (None: never): ``(previous, changed)``.

        ImmutableTagException for an immutable tag, nothing changed.
        """
        tag_id(tag)
        previous, changed = tag_model.change_tag_expiration(
            tag.id, _milliseconds(expiration_date), clock.now_ms(), name=tag.name,
            start_s=tag.lifetime_start_ts)
        if previous is not None:
            previous = datetime.fromtimestamp(previous / 1000, tz=UTC)
        return previous, changed

    def set_tags_expiration_for_manifest(self, manifest: Manifest, expiration_sec: int) -> None:
        """End every alive tag of the manifest ``expiration_sec`` after its start.

        ImmutableTagException when one of them is immutable, nothing changed.
        """
        manifest_id(manifest)
        if manifest_model.get_manifest(manifest.id, manifest.digest) is None:
            return
        tag_model.set_expiration_of_manifest_tags(manifest.id, int(expiration_sec) * 1000,
                                                  clock.now_ms())

    def change_tag_immutability(self, tag: Tag, immutable: bool) -> Optional[Tag]:
        """Make an alive tag immutable or mutable again; the updated Tag, or None.

        A tag with a scheduled end cannot become immutable (DataModelException).
        """
        tag_id(tag)
        row = tag_model.change_tag_immutability(tag.id, bool(immutable), clock.now_ms(),
                                                name=tag.name, start_s=tag.lifetime_start_ts)
        if row is None:
            return None
        return tag._replace(immutable=bool(row.immutable))
