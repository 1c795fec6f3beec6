"""Pick the manifest class for a document: by the media type it was sent as, else by its own
``mediaType`` and ``schemaVersion``.

The declared media type is what a client sent as Content-Type. When there is none (or only
``application/json``, which Docker registries read as "look inside"), the document's own
``mediaType`` decides, and without one its shape does: schema 1, an OCI index (``manifests``) or
an OCI image manifest. Docker schema 2 and manifest lists always name their media type.
"""
from __future__ import annotations

from registry_model.manifests import fields
from registry_model.manifests.digests import DEFAULT_DIGEST_ALGORITHM
from registry_model.manifests.document import JsonManifest
from registry_model.manifests.errors import (
    ManifestException,
    ManifestFieldException,
    UnknownSchemaVersionException,
)
from registry_model.manifests.image_manifest import DockerSchema2Manifest, OCIManifest
from registry_model.manifests.manifest_list import DockerManifestList, OCIIndex
from registry_model.manifests.protocol import ParsedManifest
from registry_model.manifests.schema1 import DOCKER_SCHEMA1_CONTENT_TYPES, DockerSchema1Manifest
from registry_model.media_types import IMAGE_CONFIG_CONTENT_TYPES, schema1_media_type

JSON_MANIFEST_CLASSES: dict[str, type[JsonManifest]] = {
    cls.MEDIA_TYPE: cls
    for cls in (DockerSchema2Manifest, DockerManifestList, OCIManifest, OCIIndex)
}
# Media types read from the document rather than from the declaration.
_LOOK_INSIDE = (None, "application/json")
_SCHEMA1_DECLARED = DOCKER_SCHEMA1_CONTENT_TYPES - {"application/json"}
SUPPORTED_MEDIA_TYPES = frozenset(JSON_MANIFEST_CLASSES) | DOCKER_SCHEMA1_CONTENT_TYPES


def parse_manifest_from_bytes(manifest_bytes: bytes, media_type: str | None = None,
                              validate: bool = True,
                              digest_algorithm: str = DEFAULT_DIGEST_ALGORITHM,
                              ) -> ParsedManifest:
    """Parse manifest bytes, declared as ``media_type`` (the Content-Type sent) or undeclared.

    Reads Docker schema 1 (signed or not; with ``validate`` every signature must verify),
    Docker schema 2, Docker manifest lists, OCI image manifests and OCI indexes. A document's
    ``mediaType`` must agree with the declared type. ``digest_algorithm`` (``sha256`` or
    ``sha512``) is the one :attr:`digest` uses, as the descriptor or reference naming the
    manifest says. Raises :class:`ManifestException` (a subclass naming the field where one is
    at fault) for anything malformed, unverifiable, longer than
    ``validation.MAX_MANIFEST_BYTES``, or of a media type that is not a manifest's.
    """
    data = fields.check_size_limit(manifest_bytes)
    if media_type in _LOOK_INSIDE:
        return _parse_undeclared(data, validate, digest_algorithm)
    if not isinstance(media_type, str):
        raise ManifestException(f"media type must be a string, not {type(media_type).__name__}")
    if media_type in _SCHEMA1_DECLARED:
        return DockerSchema1Manifest(data, validate=validate, media_type=media_type,
                                     digest_algorithm=digest_algorithm)
    if media_type in JSON_MANIFEST_CLASSES:
        return JSON_MANIFEST_CLASSES[media_type](data, digest_algorithm)
    if media_type in IMAGE_CONFIG_CONTENT_TYPES:
        raise ManifestException(f"{media_type} is an image config media type, not a manifest")
    raise ManifestException(f"unknown manifest media type {media_type!r}")


def _parse_undeclared(data: bytes, validate: bool, digest_algorithm: str) -> ParsedManifest:
    document = fields.load_document(data)
    own_type = fields.read_string(document, "mediaType", "mediaType", required=False)
    if own_type in JSON_MANIFEST_CLASSES:
        return JSON_MANIFEST_CLASSES[own_type](data, digest_algorithm, document)
    if own_type in _SCHEMA1_DECLARED:
        return DockerSchema1Manifest(data, validate=validate, media_type=own_type,
                                     digest_algorithm=digest_algorithm)
    if own_type is not None:
        kind = "an image config" if own_type in IMAGE_CONFIG_CONTENT_TYPES else "an unknown"
        raise ManifestFieldException("mediaType", f"{own_type[:150]!r} is {kind} media type, "
                                     "not a manifest's")
    version = fields.read_schema_version(document)
    if version == 1:
        return DockerSchema1Manifest(data, validate=validate,
                                     media_type=schema1_media_type(data),
                                     digest_algorithm=digest_algorithm)
    if version == 2:
        # Docker formats must name their media type, so an unnamed version 2 is OCI.
        cls = OCIIndex if "manifests" in document else OCIManifest
        return cls(data, digest_algorithm, document)
    raise UnknownSchemaVersionException("schemaVersion", f"is {version}, not 1 or 2")
