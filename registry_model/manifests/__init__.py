"""Image manifests: parse, verify and build them from their bytes, without a database.

Only Docker schema 1 is handled so far (signed ``...v1+prettyjws``, unsigned ``...v1+json``,
and ``application/json`` as schema 1); Docker schema 2 and OCI media types are recognised and
refused with a clear :class:`ManifestException`. Every failure is a ManifestException, a
:class:`registry_model.errors.DataModelException`.

Typical use::

    from registry_model.manifests import parse_manifest_from_bytes
    manifest = parse_manifest_from_bytes(data, request_content_type)
    manifest.digest, manifest.blob_digests
"""
from __future__ import annotations

from registry_model.manifests.errors import ManifestException
from registry_model.manifests.jws import generate_signing_key
from registry_model.manifests.schema1 import (
    DOCKER_SCHEMA1_CONTENT_TYPES,
    DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE,
    DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE,
    DockerSchema1Manifest,
    DockerSchema1ManifestBuilder,
    Schema1Layer,
    Schema1V1Metadata,
)

_NOT_YET_SUPPORTED = {
    "application/vnd.docker.distribution.manifest.v2+json": "Docker schema 2 manifests",
    "application/vnd.docker.distribution.manifest.list.v2+json": "Docker manifest lists",
    "application/vnd.oci.image.manifest.v1+json": "OCI image manifests",
    "application/vnd.oci.image.index.v1+json": "OCI image indexes",
}
_NOT_MANIFESTS = {
    "application/vnd.docker.container.image.v1+json",
    "application/vnd.oci.image.config.v1+json",
}


def parse_manifest_from_bytes(manifest_bytes: bytes, media_type: str,
                              validate: bool = True) -> DockerSchema1Manifest:
    """Parse manifest bytes received with ``media_type`` into a manifest object.

    With ``validate`` every signature must verify. Raises :class:`ManifestException` for
    anything malformed or unverifiable, and for media types that are not (yet) supported:
    Docker schema 2, manifest lists and OCI are recognised but not parsed yet.
    """
    if isinstance(media_type, str) and media_type in DOCKER_SCHEMA1_CONTENT_TYPES:
        return DockerSchema1Manifest(manifest_bytes, validate=validate, media_type=media_type)
    if isinstance(media_type, str) and media_type in _NOT_YET_SUPPORTED:
        raise ManifestException(
            f"{_NOT_YET_SUPPORTED[media_type]} ({media_type}) are not supported yet: only "
            "Docker schema 1 manifests can be parsed; schema 2 and OCI support is still to come")
    if isinstance(media_type, str) and media_type in _NOT_MANIFESTS:
        raise ManifestException(f"{media_type} is an image config media type, not a manifest")
    raise ManifestException(f"unknown manifest media type {media_type!r}")


__all__ = [
    "DOCKER_SCHEMA1_CONTENT_TYPES",
    "DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE",
    "DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE",
    "DockerSchema1Manifest",
    "DockerSchema1ManifestBuilder",
    "ManifestException",
    "Schema1Layer",
    "Schema1V1Metadata",
    "generate_signing_key",
    "parse_manifest_from_bytes",
]
