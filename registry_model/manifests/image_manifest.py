"""Image manifests of one platform: Docker schema 2 and OCI image manifests.

Both shapes are a ``config`` descriptor and a ``layers`` array of descriptors, base layer
first. Docker schema 2 (``...distribution.manifest.v2+json``) must name its media type and
lists only Docker layer types; an OCI image manifest may leave ``mediaType`` out (image-spec
before 1.0.2 did), takes any layer media type (artifacts, zstd, encrypted layers) and may carry
``artifactType``, ``subject`` and ``annotations``.
"""
from __future__ import annotations

from registry_model.manifests import fields
from registry_model.manifests.descriptor import (
    Descriptor,
    parse_descriptor,
    parse_descriptor_list,
)
from registry_model.manifests.document import JsonManifest
from registry_model.manifests.errors import ManifestFieldException
from registry_model.media_types import (
    DOCKER_SCHEMA2_LAYER_CONTENT_TYPES,
    DOCKER_SCHEMA2_MANIFEST_CONTENT_TYPE,
    IMAGE_CONFIG_CONTENT_TYPES,
    OCI_EMPTY_CONTENT_TYPE,
    OCI_MANIFEST_CONTENT_TYPE,
)


class ImageManifest(JsonManifest):
    """A config and its layers; the base of :class:`DockerSchema2Manifest` and
    :class:`OCIManifest`."""

    OWN_FIELDS = frozenset({"config", "layers"})
    LAYER_MEDIA_TYPES: frozenset[str] | None = None

    def _parse(self, document: dict) -> None:
        self._config = parse_descriptor(fields.read_object(document, "config", "config"),
                                        "config")
        self._layers = parse_descriptor_list(document, "layers",
                                             allowed_media_types=self.LAYER_MEDIA_TYPES)

    @property
    def config(self) -> Descriptor:
        """The config descriptor (an image config, or an artifact's own config)."""
        return self._config

    @property
    def config_media_type(self) -> str:
        """The config descriptor's media type."""
        return self._config.media_type

    @property
    def layers(self) -> tuple[Descriptor, ...]:
        """The layer descriptors in the document's order: base layer first."""
        return self._layers

    @property
    def is_image(self) -> bool:
        """True when the config is a Docker or OCI image config (a runnable image), False for
        an artifact."""
        return self._config.media_type in IMAGE_CONFIG_CONTENT_TYPES

    @property
    def artifact_type(self) -> str | None:
        """``artifactType`` when set, else the config media type when it is not an image
        config (the image-spec rule for artifacts), else None."""
        if self._artifact_type is not None:
            return self._artifact_type
        return None if self.is_image else self._config.media_type

    @property
    def blob_digests(self) -> tuple[str, ...]:
        """Config then layer digests, each once, that the registry must hold: foreign layers
        that clients fetch from their ``urls`` are left out."""
        digests = [self._config.digest]
        digests += [layer.digest for layer in self._layers if not layer.fetched_from_urls]
        return tuple(dict.fromkeys(digests))

    @property
    def layers_compressed_size(self) -> int:
        """The sum of the layer sizes as stored (compressed), foreign layers included."""
        return sum(layer.size for layer in self._layers)


class DockerSchema2Manifest(ImageManifest):
    """A Docker image manifest v2, schema 2: always an image, never an artifact (Docker 1.10
    pushed its config as ``application/octet-stream``; that is still an image config)."""

    MEDIA_TYPE = DOCKER_SCHEMA2_MANIFEST_CONTENT_TYPE
    MEDIA_TYPE_REQUIRED = True
    READS_OCI_FIELDS = False
    LAYER_MEDIA_TYPES = DOCKER_SCHEMA2_LAYER_CONTENT_TYPES

    @property
    def is_image(self) -> bool:
        """Always True."""
        return True


class OCIManifest(ImageManifest):
    """An OCI image manifest (image-spec v1.1), image or artifact."""

    MEDIA_TYPE = OCI_MANIFEST_CONTENT_TYPE
    MEDIA_TYPE_REQUIRED = False
    READS_OCI_FIELDS = True

    def _parse(self, document: dict) -> None:
        super()._parse(document)
        # image-spec manifest.md: artifactType MUST be set when the config is the empty one.
        if self._config.media_type == OCI_EMPTY_CONTENT_TYPE and self._artifact_type is None:
            raise ManifestFieldException(
                "artifactType", f"is required when config.mediaType is {OCI_EMPTY_CONTENT_TYPE}")
