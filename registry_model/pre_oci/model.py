"""PreOCIModel: RegistryDataInterface on the pre-OCI schema (tags, tag manifests, V1 images).

This is the one place that decides what callers see: only alive tags unless a
method says otherwise, hidden tags never in listings, repositories marked for
deletion never found. It turns rows from :mod:`registry_model.model` into
datatypes; the SQL each method runs is in the model function it calls.
"""
import logging
from operator import itemgetter
from typing import Optional, Sequence

from registry_model import clock, errors, validation
from registry_model.common.blobs import BlobsMixin
from registry_model.common.collection import GarbageCollectionMixin
from registry_model.common.repositories import RepositoriesMixin
from registry_model.datatypes import (
    Label,
    LegacyImage,
    Manifest,
    RepositoryReference,
    Tag,
    manifest_id,
    repository_id,
    tag_id,
)
from registry_model.interface import RegistryDataInterface
from registry_model.model import lookup
from registry_model.pre_oci import image as image_model
from registry_model.pre_oci import label as label_model
from registry_model.pre_oci import manifest as manifest_model
from registry_model.pre_oci import tag as tag_model
from registry_model.pre_oci.ancestors import depth, parent_ids, parse_ancestors
from registry_model.pre_oci.collector import PreOCICollector
from registry_model.pre_oci.push import PushMixin
from registry_model.pre_oci.tags import TagLifecycleMixin, tag_datatype
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
        by_depth = sorted(images, key=lambda row: depth(ancestors(row)))
        built = LegacyImage.for_image_rows(columns, by_depth,
                                           parent_ids(map(ancestors, by_depth)),
                                           tags_by_image, strict=False)
        image_id = itemgetter(columns.index("id"))
        built = {image_id(row): built[image_id(row)] for row in images}
    return built


class PreOCIModel(RepositoriesMixin, BlobsMixin, PushMixin, TagLifecycleMixin,
                  GarbageCollectionMixin, RegistryDataInterface):
    """The registry data interface over the pre-OCI tables. Holds no state.

    The wing's seed methods live here; pushing and the tag lifecycle come from the
    mixins of :mod:`registry_model.pre_oci`; repositories, blobs and uploads and garbage
    collection from :mod:`registry_model.common`, written once for every implementation.
    Each method's promise and statement budget are its abstract method's, stated once in
    :mod:`registry_model.interface`.
    """

    collector_class = PreOCICollector

    @stale_ok(confirm_miss=True)
    def find_matching_tag(self, repository_ref: RepositoryReference,
                          tag_names: Sequence[str]) -> Optional[Tag]:
        """The alive, non-hidden Tag named first in ``tag_names``, or None."""
        names = validation.tag_name_list(tag_names)
        found = {row.name: row for row in
                 tag_model.find_alive_tags(repository_id(repository_ref), names,
                                           clock.now_ts())}
        for name in names:
            if name in found:
                return tag_datatype(found[name], repository_ref)
        return None

    @stale_ok(confirm_miss=True)
    def get_most_recent_tag(self, repository_ref: RepositoryReference) -> Optional[Tag]:
        """The alive, non-hidden Tag started last (ties: highest id), or None."""
        row = tag_model.get_most_recent_tag(repository_id(repository_ref), clock.now_ts())
        return tag_datatype(row, repository_ref) if row is not None else None

    @stale_ok(confirm_miss=True)
    def get_manifest_for_tag(self, tag: Tag) -> Optional[Manifest]:
        """The Manifest stored for the tag, or None."""
        row = manifest_model.get_tag_manifest(tag_id(tag))
        if row is None:
            return None
        return Manifest.for_tag_manifest(row, manifest_model.media_type_name(row))

    @stale_ok(confirm_miss=True)
    def lookup_manifest_by_digest(self, repository_ref: RepositoryReference,
                                  manifest_digest: str,
                                  allow_dead: bool = False) -> Optional[Manifest]:
        """The Manifest with that digest under an alive (allow_dead: any) tag."""
        row = manifest_model.find_manifest_by_digest(repository_id(repository_ref),
                                                     manifest_digest,
                                                     clock.now_ts(), allow_dead=allow_dead)
        if row is None:
            return None
        return Manifest.for_tag_manifest(row, manifest_model.media_type_name(row))

    @stale_ok
    def get_legacy_images(self, repository_ref: RepositoryReference) -> list:
        """Every LegacyImage of the repository with parents and tags filled."""
        columns, images = image_model.get_repository_image_tuples(repository_id(repository_ref))
        tags = tag_model.alive_tag_names_by_image(repository_ref.id, clock.now_ts())
        return list(_legacy_images(columns, images, tags).values())

    @stale_ok(confirm_miss=True)
    def get_legacy_image(self, repository_ref: RepositoryReference, docker_image_id: str,
                         include_parents: bool = False) -> Optional[LegacyImage]:
        """That LegacyImage or None; parents filled when asked."""
        row = image_model.get_image(repository_id(repository_ref), docker_image_id)
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
        """Create and return a Label on the manifest."""
        row = label_model.create_manifest_label(manifest_id(manifest), key, value, source_type_name,
                                                media_type_name, digest=manifest.digest,
                                                tag_id=manifest.tag_id)
        return _label(row)

    @stale_ok
    def list_manifest_labels(self, manifest: Manifest,
                             key_prefix: Optional[str] = None) -> list:
        """The manifest's labels in creation order, optionally by key prefix."""
        return _labels(label_model.list_manifest_labels(manifest_id(manifest), key_prefix,
                                                        manifest.digest, manifest.tag_id))

    @stale_ok(confirm_miss=True)
    def get_manifest_label(self, manifest: Manifest, label_uuid: str) -> Optional[Label]:
        """The manifest's Label with that uuid, or None."""
        row = label_model.get_manifest_label(manifest_id(manifest), label_uuid, manifest.digest,
                                             manifest.tag_id)
        return _label(row) if row is not None else None

    def delete_manifest_label(self, manifest: Manifest, label_uuid: str) -> Optional[Label]:
        """Delete and return the manifest's Label, or None; immutable ones raise."""
        row = label_model.delete_manifest_label(manifest_id(manifest), label_uuid, manifest.digest,
                                                manifest.tag_id)
        return _label(row) if row is not None else None

    def lookup_referrers(self, repository_ref: RepositoryReference, manifest_digest: str,
                         artifact_type: Optional[str] = None) -> list:
        """Always an empty list, without a statement: schema 1 manifests have no subject.

        The pre-OCI tables cannot hold a manifest that refers to another, so no manifest
        of this model is ever a referrer. The repository reference is still checked.
        """
        repository_id(repository_ref)
        return []

    def change_tag_immutability(self, tag: Tag, immutable: bool) -> Optional[Tag]:
        """Always UnsupportedOperationException, without a statement.

        The pre-OCI tag table has no immutability column; immutable tags need the OCI
        model (``registry_model.oci_model``).
        """
        if not isinstance(tag, Tag):
            raise TypeError("expected a Tag, got %r" % (tag,))
        raise errors.UnsupportedOperationException(
            "the pre-OCI model has no immutable tags; use the OCI model")
