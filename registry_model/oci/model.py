"""OCIModel: RegistryDataInterface on the OCI wing (every manifest format, referrers,
immutable tags), with the same datatypes and budgets as the pre-OCI model.

This is the one place that decides what callers see of the OCI tables: only alive
tags unless a method says otherwise, hidden tags (a push by digest) never listed, a
manifest found by digest while an alive tag keeps it, or a list or index so found names
it as a child, or a manifest so found is its subject (at any depth: an image in an index
in a tagged index too). Tag lifetimes are kept in milliseconds and shown in seconds.
Pushing and the tag lifecycle come from :mod:`registry_model.oci.push` and
:mod:`registry_model.oci.tags`; repositories, blobs and uploads and garbage collection
from :mod:`registry_model.common`, collection by :class:`OCICollector`.
"""
import logging
from typing import Optional

from registry_model import clock
from registry_model.common.blobs import BlobsMixin
from registry_model.common.collection import GarbageCollectionMixin
from registry_model.common.repositories import RepositoriesMixin
from registry_model.datatypes import (
    Label,
    LegacyImage,
    Manifest,
    Referrer,
    RepositoryReference,
    Tag,
    manifest_id,
    repository_id,
    tag_id,
)
from registry_model.interface import RegistryDataInterface
from registry_model.model import lookup
from registry_model.oci import label as label_model
from registry_model.oci import legacy
from registry_model.oci import manifest as manifest_model
from registry_model.oci import tag as tag_model
from registry_model.oci.collector import OCICollector
from registry_model.oci.push import PushMixin, manifest_datatype
from registry_model.oci.tags import TagLifecycleMixin
from registry_model.replicas import stale_ok

logger = logging.getLogger(__name__)


def _labels(rows: list) -> list:
    """Labels of many rows, the lookup names read once for all of them."""
    source_names, media_names = lookup.names("source_types"), lookup.names("media_types")
    return [Label.for_label(row, source_names[row.source_type_id],
                            media_names[row.media_type_id]) for row in rows]


class OCIModel(RepositoriesMixin, BlobsMixin, PushMixin, TagLifecycleMixin,
               GarbageCollectionMixin, RegistryDataInterface):
    """The registry data interface over the OCI tables. Holds no state.

    Pushing and the tag lifecycle come from the mixins of :mod:`registry_model.oci`;
    repositories, blobs and uploads and garbage collection from :mod:`registry_model.common`.
    Each method's promise and statement budget are its abstract method's, stated once in
    :mod:`registry_model.interface`.
    """

    collector_class = OCICollector

    @stale_ok(confirm_miss=True)
    def get_manifest_for_tag(self, tag: Tag) -> Optional[Manifest]:
        """The Manifest the tag points at, or None."""
        tag_id(tag)
        row = manifest_model.get_manifest_for_tag(tag.id, tag.name, datatype_only=True)
        return manifest_datatype(row) if row is not None else None

    @stale_ok(confirm_miss=True)
    def lookup_manifest_by_digest(self, repository_ref: RepositoryReference,
                                  manifest_digest: str,
                                  allow_dead: bool = False) -> Optional[Manifest]:
        """The visible Manifest with that digest (allow_dead: under any tag row).

        Visible: an alive tag points at it, it is a child of a visible list or index, or
        its subject is a visible manifest, at any depth (an index's child listed by a
        tagged index, a referrer of a referrer too).
        """
        row = manifest_model.find_manifest_by_digest(repository_id(repository_ref),
                                                     manifest_digest, clock.now_ms(),
                                                     allow_dead=allow_dead,
                                                     datatype_only=True)
        return manifest_datatype(row) if row is not None else None

    @stale_ok
    def lookup_referrers(self, repository_ref: RepositoryReference, manifest_digest: str,
                         artifact_type: Optional[str] = None) -> list:
        """The Referrers of that digest in the repository, oldest first."""
        rows = manifest_model.find_referrers(repository_id(repository_ref), manifest_digest,
                                             artifact_type)
        return Referrer.for_rows(rows, lookup.names("media_types"))

    # --- labels ----------------------------------------------------------------------

    def create_manifest_label(self, manifest: Manifest, key: str, value: str,
                              source_type_name: str,
                              media_type_name: Optional[str] = None) -> Label:
        """Create and return a Label on the manifest."""
        manifest_id(manifest)
        row = label_model.create_manifest_label(manifest.id, manifest.digest, key, value,
                                                source_type_name, media_type_name,
                                                clock.now_ms())
        return _labels([row])[0]

    @stale_ok
    def list_manifest_labels(self, manifest: Manifest, key_prefix: Optional[str] = None) -> list:
        """The manifest's labels in creation order, optionally by key prefix."""
        manifest_id(manifest)
        return _labels(label_model.list_manifest_labels(manifest.id, key_prefix,
                                                        manifest.digest))

    @stale_ok(confirm_miss=True)
    def get_manifest_label(self, manifest: Manifest, label_uuid: str) -> Optional[Label]:
        """The manifest's Label with that uuid, or None."""
        manifest_id(manifest)
        row = label_model.get_manifest_label(manifest.id, label_uuid, manifest.digest)
        return _labels([row])[0] if row is not None else None

    def delete_manifest_label(self, manifest: Manifest, label_uuid: str) -> Optional[Label]:
        """Delete and return the manifest's Label, or None; immutable ones raise."""
        manifest_id(manifest)
        row = label_model.delete_manifest_label(manifest.id, label_uuid, manifest.digest)
        return _labels([row])[0] if row is not None else None

    # --- the legacy (V1) view --------------------------------------------------------

    @stale_ok
    def get_legacy_images(self, repository_ref: RepositoryReference) -> list:
        """One LegacyImage per layer of every image manifest, parents and tags filled
        (2 statements). Top layers first within each manifest, manifests in push order."""
        rows = manifest_model.image_manifests(repository_id(repository_ref))
        tags = tag_model.alive_tag_names_by_manifest(repository_ref.id, clock.now_ms())
        return legacy.repository_images(rows, tags)

    @stale_ok(confirm_miss=True)
    def get_legacy_image(self, repository_ref: RepositoryReference, docker_image_id: str,
                         include_parents: bool = False) -> Optional[LegacyImage]:
        """That LegacyImage or None; parents filled when asked.

        A synthetic id is found by its manifest's digest (1 statement); any other V1 id
        (a backfilled schema 1 image's own), or a synthetic-looking one no manifest
        holds, by a search of the repository's kept histories (1 more).
        """
        repo_id = repository_id(repository_ref)
        parsed = legacy.parse_legacy_image_id(docker_image_id)
        if parsed is None:
            return None
        prefix, place = parsed
        if place < legacy.ID_STRIDE:
            row = manifest_model.find_image_manifest_by_prefix(repo_id, prefix)
            image = legacy.find_image(row, docker_image_id, place, include_parents) \
                if row is not None else None
            if image is not None:
                return image
        # Not a synthetic id (or a schema 1 image's own id that reads as one, one V1 id
        # in 65536): a backfilled schema 1 image's, searched in the kept histories.
        row = manifest_model.find_schema1_manifest_by_v1_id(repo_id, docker_image_id)
        if row is None:
            return None
        return legacy.find_image(row, docker_image_id, place, include_parents)

    def get_legacy_images_owned_by_tag(self, tag: Tag) -> list:
        """The tag's manifest's LegacyImages when no other alive tag points at that manifest
        (1 statement)."""
        tag_id(tag)
        row = manifest_model.get_owned_image_manifest(tag.id, tag.name, clock.now_ms())
        if row is None or row.layer_history is None:
            return []
        return legacy.legacy_images(row, with_parents=False)
