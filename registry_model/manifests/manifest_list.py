"""Multi-platform manifests: Docker manifest lists and OCI image indexes.

Both are a ``manifests`` array of descriptors of other manifests. A Docker manifest list
(``...distribution.manifest.list.v2+json``) must name its media type and give every entry a
``platform``; an OCI index may leave ``mediaType`` out and the platforms too (attestations,
artifacts), and may carry ``artifactType``, ``subject`` and ``annotations``. A list needs no
blobs of its own: its children are manifests.
"""
from __future__ import annotations

from registry_model.manifests.descriptor import Descriptor, parse_descriptor_list
from registry_model.manifests.document import JsonManifest
from registry_model.media_types import (
    DOCKER_SCHEMA2_MANIFESTLIST_CONTENT_TYPE,
    OCI_INDEX_CONTENT_TYPE,
)


class ManifestList(JsonManifest):
    """The base of :class:`DockerManifestList` and :class:`OCIIndex`."""

    OWN_FIELDS = frozenset({"manifests"})
    PLATFORM_REQUIRED = False

    def _parse(self, document: dict) -> None:
        self._manifests = parse_descriptor_list(document, "manifests",
                                                platform_required=self.PLATFORM_REQUIRED)

    @property
    def child_manifests(self) -> tuple[Descriptor, ...]:
        """The entries of ``manifests`` in order, each with its ``platform`` (or None)."""
        return self._manifests

    @property
    def is_manifest_list(self) -> bool:
        """Always True."""
        return True


class DockerManifestList(ManifestList):
    """A Docker manifest list (fat manifest)."""

    MEDIA_TYPE = DOCKER_SCHEMA2_MANIFESTLIST_CONTENT_TYPE
    MEDIA_TYPE_REQUIRED = True
    READS_OCI_FIELDS = False
    PLATFORM_REQUIRED = True


class OCIIndex(ManifestList):
    """An OCI image index (image-spec v1.1)."""

    MEDIA_TYPE = OCI_INDEX_CONTENT_TYPE
    MEDIA_TYPE_REQUIRED = False
    READS_OCI_FIELDS = True
