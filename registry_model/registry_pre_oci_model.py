"""PreOCIModel: RegistryDataInterface on the pre-OCI schema (tags, tag manifests, V1 images).

This is the one place that decides what callers see: only alive tags unless a
method says otherwise, hidden tags never in listings, repositories marked for
deletion never found. It turns rows from :mod:`registry_model.model` into
datatypes; the SQL each method runs is in the model function it calls.
"""
import logging
from operator import itemgetter
from typing import Optional, Sequence

from registry_model import validation
from registry_model.database import parent_ids, parse_ancestors
from registry_model.datatypes import Label, LegacyImage, Manifest, RepositoryReference, Tag
from registry_model.interface import RegistryDataInterface
from registry_model.model import image as image_model
from registry_model.model import label as label_model
from registry_model.model import lookup
from registry_model.model import manifest as manifest_model
from registry_model.model import repository as repository_model
from registry_model.model import tag as tag_model
from registry_model.pre_oci.blobs import BlobsMixin
from registry_model.pre_oci.gc import GarbageCollectionMixin
from registry_model.pre_oci.push import PushMixin
from registry_model.pre_oci.tags import TagLifecycleMixin
from registry_model.replicas import stale_ok

logger = logging.getLogger(__name__)


def _label(row) -> Label:
    return Label.for_label(row, lookup.source_type_name(row.source_type_id),
                           lookup.media_type_name(row.media_type_id))


def _labels(rows: list) -> list:
    """Labels of many rows, the lookup names read once for all of them."""
    source_names, media_names = lookup.names("source_types"), lookup.names("media_types")
    return [Label.for_label(row, source_names[row.source_type_id],
                            media_names[row.media_type_id]) for row in rows]


def _legacy_images(columns: tuple, images: list, tags_by_image: Optional[dict]) -> dict:
    """LegacyImages by id in the order of ``images`` (tuples of ``columns``), chains shared.

    Rows in id order come parents first (an image is created after its parent, so its
    id is higher) and are built in one pass; otherwise they are built by depth.
    """
    ancestors = itemgetter(columns.index("ancestors"))
    built = LegacyImage.for_image_rows(columns, images, parent_ids(map(ancestors, images)),
                                       tags_by_image)
    if built is None:
        by_depth = sorted(images, key=lambda row: ancestors(row).count("/"))
        built = LegacyImage.for_image_rows(columns, by_depth,
                                           parent_ids(map(ancestors, by_depth)),
                                           tags_by_image, strict=False)
        image_id = itemgetter(columns.index("id"))
        built = {image_id(row): built[image_id(row)] for row in images}
    return built


class PreOCIModel(BlobsMixin, PushMixin, TagLifecycleMixin, GarbageCollectionMixin,
                  RegistryDataInterface):
    """The registry data interface over the pre-OCI tables. Holds no state.

    The seed methods live here; blobs and uploads, pushing, the tag lifecycle
    and garbage collection come from the mixins of :mod:`registry_model.pre_oci`.
    """

    def _tag(self, row, repository_ref: RepositoryReference) -> Tag:
        return Tag.for_repository_tag(row, row.docker_image_id, repository_ref)

    @stale_ok(confirm_miss=True)
    def find_matching_tag(self, repository_ref: RepositoryReference,
                          tag_names: Sequence[str]) -> Optional[Tag]:
        """The alive, non-hidden Tag named first in ``tag_names``, or None (1 statement)."""
        names = list(tag_names)
        found = {row.name: row for row in
                 tag_model.find_alive_tags(repository_ref.id, names, tag_model.now_ts())}
        for name in names:
            if name in found:
                return self._tag(found[name], repository_ref)
        return None

    @stale_ok(confirm_miss=True)
    def get_most_recent_tag(self, repository_ref: RepositoryReference) -> Optional[Tag]:
        """The alive, non-hidden Tag started last (ties: highest id), or None (1 statement)."""
        row = tag_model.get_most_recent_tag(repository_ref.id, tag_model.now_ts())
        return self._tag(row, repository_ref) if row is not None else None

    @stale_ok(confirm_miss=True)
    def lookup_repository(self, namespace_name: str, repo_name: str,
                          kind_filter: Optional[str] = None) -> Optional[RepositoryReference]:
        """The repository; None if absent, of another kind or being deleted (1 statement)."""
        kind_id = lookup.kind_id(kind_filter) if kind_filter is not None else None
        if not (validation.is_valid_namespace_name(namespace_name)
                and validation.is_valid_repository_name(repo_name)):
            return None
        row = repository_model.lookup_visible_repository(namespace_name, repo_name, kind_id)
        if row is None:
            return None
        return RepositoryReference.for_repo_obj(row, row.namespace_name,
                                                lookup.kind_name(row.kind_id),
                                                lookup.is_public(row.visibility_id))

    @stale_ok(confirm_miss=True)
    def get_manifest_for_tag(self, tag: Tag) -> Optional[Manifest]:
        """The Manifest stored for the tag, or None (1 statement)."""
        row = manifest_model.get_tag_manifest(tag.id)
        if row is None:
            return None
        return Manifest.for_tag_manifest(row, manifest_model.media_type_name(row))

    @stale_ok(confirm_miss=True)
    def lookup_manifest_by_digest(self, repository_ref: RepositoryReference,
                                  manifest_digest: str,
                                  allow_dead: bool = False) -> Optional[Manifest]:
        """The Manifest with that digest under an alive (allow_dead: any) tag (1 statement)."""
        row = manifest_model.find_manifest_by_digest(repository_ref.id, manifest_digest,
                                                     tag_model.now_ts(), allow_dead=allow_dead)
        if row is None:
            return None
        return Manifest.for_tag_manifest(row, manifest_model.media_type_name(row))

    @stale_ok
    def get_legacy_images(self, repository_ref: RepositoryReference) -> list:
        """Every LegacyImage of the repository with parents and tags filled (2 statements)."""
        columns, images = image_model.get_repository_image_tuples(repository_ref.id)
        tags = tag_model.alive_tag_names_by_image(repository_ref.id, tag_model.now_ts())
        return list(_legacy_images(columns, images, tags).values())

    @stale_ok(confirm_miss=True)
    def get_legacy_image(self, repository_ref: RepositoryReference, docker_image_id: str,
                         include_parents: bool = False) -> Optional[LegacyImage]:
        """That LegacyImage or None; parents filled when asked (1 statement, 2 with parents)."""
        row = image_model.get_image(repository_ref.id, docker_image_id)
        if row is None:
            return None
        if not include_parents:
            return LegacyImage.for_image(row)
        ancestor_ids = parse_ancestors(row.ancestors)
        ancestors = image_model.get_images_by_id(ancestor_ids)
        chain = [ancestors[image_id] for image_id in ancestor_ids if image_id in ancestors]
        built = _legacy_images(row._fields, chain + [row], tags_by_image=None)
        return built[row.id]

    def create_manifest_label(self, manifest: Manifest, key: str, value: str,
                              source_type_name: str,
                              media_type_name: Optional[str] = None) -> Label:
        """Create and return a Label on the manifest (3 statements, one transaction)."""
        row = label_model.create_manifest_label(manifest.id, key, value, source_type_name,
                                                media_type_name, digest=manifest.digest,
                                                tag_id=manifest.tag_id)
        return _label(row)

    @stale_ok
    def list_manifest_labels(self, manifest: Manifest,
                             key_prefix: Optional[str] = None) -> list:
        """The manifest's labels in creation order, optionally by key prefix (1 statement)."""
        return _labels(label_model.list_manifest_labels(manifest.id, key_prefix,
                                                        manifest.digest, manifest.tag_id))

    @stale_ok(confirm_miss=True)
    def get_manifest_label(self, manifest: Manifest, label_uuid: str) -> Optional[Label]:
        """The manifest's Label with that uuid, or None (1 statement)."""
        row = label_model.get_manifest_label(manifest.id, label_uuid, manifest.digest,
                                             manifest.tag_id)
        return _label(row) if row is not None else None

    def delete_manifest_label(self, manifest: Manifest, label_uuid: str) -> Optional[Label]:
        """Delete and return the manifest's Label, or None; immutable ones raise (3 statements)."""
        row = label_model.delete_manifest_label(manifest.id, label_uuid, manifest.digest,
                                                manifest.tag_id)
        return _label(row) if row is not None else None
