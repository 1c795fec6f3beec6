"""Image manifests: parse, verify and build them from their bytes, without a database.

:func:`parse_manifest_from_bytes` reads Docker schema 1 (signed ``...v1+prettyjws``, unsigned
``...v1+json``), Docker schema 2, Docker manifest lists, OCI image manifests and OCI indexes
(``subject``, ``artifactType``, annotations, foreign, zstd and encrypted layers). Every parsed
manifest has the common properties of :class:`ParsedManifest`; :class:`ImageConfig` reads the
config blob an image manifest points at. Every failure is a
:class:`ManifestException`, a :class:`registry_model.errors.DataModelException`; the ones about
one field are :class:`ManifestFieldException` and name it (``layers[2].digest``).

Typical use::

    from registry_model.manifests import parse_manifest_from_bytes
    manifest = parse_manifest_from_bytes(data, request_content_type)
    manifest.digest, manifest.blob_digests
"""
from __future__ import annotations

from registry_model.manifests.config import ConfigHistoryEntry, ImageConfig
from registry_model.manifests.descriptor import Descriptor, Platform
from registry_model.manifests.digests import compute_digest
from registry_model.manifests.dispatch import SUPPORTED_MEDIA_TYPES, parse_manifest_from_bytes
from registry_model.manifests.errors import (
    InvalidDigestException,
    ManifestException,
    ManifestFieldException,
    MediaTypeMismatchException,
    OversizedManifestException,
    UnknownSchemaVersionException,
)
from registry_model.manifests.image_manifest import (
    DockerSchema2Manifest,
    ImageManifest,
    OCIManifest,
)
from registry_model.manifests.jws import generate_signing_key
from registry_model.manifests.manifest_list import DockerManifestList, ManifestList, OCIIndex
from registry_model.manifests.protocol import ParsedManifest
from registry_model.manifests.schema1 import (
    DOCKER_SCHEMA1_CONTENT_TYPES,
    DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE,
    DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE,
    DockerSchema1Manifest,
    DockerSchema1ManifestBuilder,
    Schema1Layer,
    Schema1V1Metadata,
)

__all__ = [
    "DOCKER_SCHEMA1_CONTENT_TYPES",
    "DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE",
    "DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE",
    "SUPPORTED_MEDIA_TYPES",
    "ConfigHistoryEntry",
    "Descriptor",
    "DockerManifestList",
    "DockerSchema1Manifest",
    "DockerSchema1ManifestBuilder",
    "DockerSchema2Manifest",
    "ImageConfig",
    "ImageManifest",
    "InvalidDigestException",
    "ManifestException",
    "ManifestFieldException",
    "ManifestList",
    "MediaTypeMismatchException",
    "OCIIndex",
    "OCIManifest",
    "OversizedManifestException",
    "ParsedManifest",
    "Platform",
    "Schema1Layer",
    "Schema1V1Metadata",
    "UnknownSchemaVersionException",
    "compute_digest",
    "generate_signing_key",
    "parse_manifest_from_bytes",
]
