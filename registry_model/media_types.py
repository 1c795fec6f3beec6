"""Media types of stored manifests, shared by the datatypes and the model layer."""
import json

DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE = (
    "application/vnd.docker.distribution.manifest.v1+prettyjws")


def schema1_media_type(manifest_bytes: bytes | str) -> str:
    """The schema 1 media type of a stored manifest: signed when it carries signatures."""
    try:
        parsed = json.loads(manifest_bytes)
    except ValueError:
        return DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE
    if isinstance(parsed, dict) and not parsed.get("signatures"):
        return DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE
    return DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE


# Docker image manifest v2, schema 2 and manifest lists (distribution/distribution manifest-v2-2).
DOCKER_SCHEMA2_MANIFEST_CONTENT_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_SCHEMA2_MANIFESTLIST_CONTENT_TYPE = (
    "application/vnd.docker.distribution.manifest.list.v2+json")
DOCKER_SCHEMA2_CONFIG_CONTENT_TYPE = "application/vnd.docker.container.image.v1+json"
DOCKER_SCHEMA2_LAYER_CONTENT_TYPE = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_SCHEMA2_UNCOMPRESSED_LAYER_CONTENT_TYPE = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_SCHEMA2_FOREIGN_LAYER_CONTENT_TYPE = (
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip")
DOCKER_SCHEMA2_UNCOMPRESSED_FOREIGN_LAYER_CONTENT_TYPE = (
    "application/vnd.docker.image.rootfs.foreign.diff.tar")
# The layer types a schema 2 manifest may list (containers/image refuses any other, e.g. the
# never-specified "...rootfs.diff.tar.zstd").
DOCKER_SCHEMA2_LAYER_CONTENT_TYPES = frozenset({
    DOCKER_SCHEMA2_LAYER_CONTENT_TYPE,
    DOCKER_SCHEMA2_UNCOMPRESSED_LAYER_CONTENT_TYPE,
    DOCKER_SCHEMA2_FOREIGN_LAYER_CONTENT_TYPE,
    DOCKER_SCHEMA2_UNCOMPRESSED_FOREIGN_LAYER_CONTENT_TYPE,
})

# OCI image-spec v1.1 (media-types.md).
OCI_MANIFEST_CONTENT_TYPE = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX_CONTENT_TYPE = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG_CONTENT_TYPE = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY_CONTENT_TYPE = "application/vnd.oci.empty.v1+json"
OCI_DESCRIPTOR_CONTENT_TYPE = "application/vnd.oci.descriptor.v1+json"
OCI_LAYER_CONTENT_TYPE = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP_CONTENT_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD_CONTENT_TYPE = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_NONDISTRIBUTABLE_LAYER_CONTENT_TYPE = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_NONDISTRIBUTABLE_LAYER_GZIP_CONTENT_TYPE = (
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip")
OCI_NONDISTRIBUTABLE_LAYER_ZSTD_CONTENT_TYPE = (
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd")
# ocicrypt's encrypted layers: the plain layer type with "+encrypted" appended.
ENCRYPTED_SUFFIX = "+encrypted"
OCI_LAYER_ENCRYPTED_CONTENT_TYPE = OCI_LAYER_CONTENT_TYPE + ENCRYPTED_SUFFIX
OCI_LAYER_GZIP_ENCRYPTED_CONTENT_TYPE = OCI_LAYER_GZIP_CONTENT_TYPE + ENCRYPTED_SUFFIX
OCI_LAYER_ZSTD_ENCRYPTED_CONTENT_TYPE = OCI_LAYER_ZSTD_CONTENT_TYPE + ENCRYPTED_SUFFIX

# Layers clients fetch from their ``urls`` instead of the registry (Windows base layers, ...).
FOREIGN_LAYER_CONTENT_TYPES = frozenset({
    DOCKER_SCHEMA2_FOREIGN_LAYER_CONTENT_TYPE,
    DOCKER_SCHEMA2_UNCOMPRESSED_FOREIGN_LAYER_CONTENT_TYPE,
    OCI_NONDISTRIBUTABLE_LAYER_CONTENT_TYPE,
    OCI_NONDISTRIBUTABLE_LAYER_GZIP_CONTENT_TYPE,
    OCI_NONDISTRIBUTABLE_LAYER_ZSTD_CONTENT_TYPE,
})
# Configs that describe a runnable image; any other config media type makes an artifact.
IMAGE_CONFIG_CONTENT_TYPES = frozenset({
    DOCKER_SCHEMA2_CONFIG_CONTENT_TYPE,
    OCI_CONFIG_CONTENT_TYPE,
})
IMAGE_MANIFEST_CONTENT_TYPES = frozenset({
    DOCKER_SCHEMA2_MANIFEST_CONTENT_TYPE,
    OCI_MANIFEST_CONTENT_TYPE,
})
MANIFEST_LIST_CONTENT_TYPES = frozenset({
    DOCKER_SCHEMA2_MANIFESTLIST_CONTENT_TYPE,
    OCI_INDEX_CONTENT_TYPE,
})
