"""Schema 2 and OCI documents the tests build as dicts, serialize and mutate.

Each builder returns a fresh, valid document with every optional field its format has, so a test
can delete or replace one field and know that field is the only thing wrong.
"""
import json

from registry_model.media_types import (
    DOCKER_SCHEMA2_CONFIG_CONTENT_TYPE,
    DOCKER_SCHEMA2_FOREIGN_LAYER_CONTENT_TYPE,
    DOCKER_SCHEMA2_LAYER_CONTENT_TYPE,
    DOCKER_SCHEMA2_MANIFEST_CONTENT_TYPE,
    DOCKER_SCHEMA2_MANIFESTLIST_CONTENT_TYPE,
    OCI_CONFIG_CONTENT_TYPE,
    OCI_INDEX_CONTENT_TYPE,
    OCI_LAYER_GZIP_CONTENT_TYPE,
    OCI_LAYER_ZSTD_ENCRYPTED_CONTENT_TYPE,
    OCI_MANIFEST_CONTENT_TYPE,
    OCI_NONDISTRIBUTABLE_LAYER_GZIP_CONTENT_TYPE,
)

CONFIG = "sha256:" + "c" * 64
LAYER_A = "sha256:" + "a" * 64
LAYER_B = "sha512:" + "b" * 128
FOREIGN = "sha256:" + "f" * 64
CHILD_AMD64 = "sha256:" + "1" * 64
CHILD_ARM64 = "sha256:" + "2" * 64
SUBJECT = "sha256:" + "5" * 64
FOREIGN_URL = "https://mcr.example/layer"


def dumps(document: dict) -> bytes:
    """Serialize the way most clients do (indented, UTF-8)."""
    return json.dumps(document, indent=3, ensure_ascii=False).encode("utf-8")


def descriptor(media_type: str, digest: str, size: int, **extra) -> dict:
    return {"mediaType": media_type, "digest": digest, "size": size, **extra}


def schema2_document() -> dict:
    """A schema 2 manifest: config, a gzip layer, a foreign layer with urls."""
    return {
        "schemaVersion": 2,
        "mediaType": DOCKER_SCHEMA2_MANIFEST_CONTENT_TYPE,
        "config": descriptor(DOCKER_SCHEMA2_CONFIG_CONTENT_TYPE, CONFIG, 1500),
        "layers": [
            descriptor(DOCKER_SCHEMA2_LAYER_CONTENT_TYPE, LAYER_A, 100),
            descriptor(DOCKER_SCHEMA2_FOREIGN_LAYER_CONTENT_TYPE, FOREIGN, 300,
                       urls=[FOREIGN_URL]),
        ],
    }


def oci_manifest_document() -> dict:
    """An OCI image manifest with every field: subject, annotations, a sha512 encrypted layer,
    a non-distributable layer with urls."""
    return {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST_CONTENT_TYPE,
        "config": descriptor(OCI_CONFIG_CONTENT_TYPE, CONFIG, 1500),
        "layers": [
            descriptor(OCI_LAYER_GZIP_CONTENT_TYPE, LAYER_A, 100,
                       annotations={"org.opencontainers.image.title": "base.tar.gz"}),
            descriptor(OCI_LAYER_ZSTD_ENCRYPTED_CONTENT_TYPE, LAYER_B, 200,
                       annotations={"org.opencontainers.image.enc.pubopts": "e30="}),
            descriptor(OCI_NONDISTRIBUTABLE_LAYER_GZIP_CONTENT_TYPE, FOREIGN, 300,
                       urls=[FOREIGN_URL]),
        ],
        "subject": descriptor(OCI_MANIFEST_CONTENT_TYPE, SUBJECT, 700),
        "annotations": {"org.opencontainers.image.created": "2026-12-05T15:00:00Z"},
    }


def docker_list_document() -> dict:
    """A Docker manifest list of two platforms."""
    return {
        "schemaVersion": 2,
        "mediaType": DOCKER_SCHEMA2_MANIFESTLIST_CONTENT_TYPE,
        "manifests": [
            descriptor(DOCKER_SCHEMA2_MANIFEST_CONTENT_TYPE, CHILD_AMD64, 500,
                       platform={"architecture": "amd64", "os": "linux"}),
            descriptor(DOCKER_SCHEMA2_MANIFEST_CONTENT_TYPE, CHILD_ARM64, 501,
                       platform={"architecture": "arm64", "os": "linux", "variant": "v8",
                                 "features": ["sse4"]}),
        ],
    }


def oci_index_document() -> dict:
    """An OCI index: two platforms, an attestation without platform, subject, annotations,
    artifactType."""
    return {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX_CONTENT_TYPE,
        "artifactType": "application/vnd.example.bundle",
        "manifests": [
            descriptor(OCI_MANIFEST_CONTENT_TYPE, CHILD_AMD64, 500,
                       platform={"architecture": "amd64", "os": "windows",
                                 "os.version": "10.0.20348.1", "os.features": ["win32k"]}),
            descriptor(OCI_MANIFEST_CONTENT_TYPE, CHILD_ARM64, 501,
                       platform={"architecture": "arm64", "os": "linux", "variant": "v8"}),
            descriptor(OCI_MANIFEST_CONTENT_TYPE, "sha256:" + "3" * 64, 502,
                       artifactType="application/spdx+json",
                       annotations={"vnd.docker.reference.type": "attestation-manifest"}),
        ],
        "subject": descriptor(OCI_INDEX_CONTENT_TYPE, SUBJECT, 700),
        "annotations": {"org.opencontainers.image.ref.name": "v1"},
    }
