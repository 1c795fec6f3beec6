"""Docker schema 2 and OCI image manifests: config, layers, blobs, artifact type, OCI fields."""
import pytest

from registry_model.manifests import (
    DockerSchema2Manifest,
    ManifestFieldException,
    OCIManifest,
)
from registry_model.media_types import (
    DOCKER_SCHEMA2_CONFIG_CONTENT_TYPE,
    DOCKER_SCHEMA2_LAYER_CONTENT_TYPE,
    DOCKER_SCHEMA2_UNCOMPRESSED_FOREIGN_LAYER_CONTENT_TYPE,
    OCI_EMPTY_CONTENT_TYPE,
    OCI_LAYER_ZSTD_CONTENT_TYPE,
    OCI_MANIFEST_CONTENT_TYPE,
)

from .documents import (
    CONFIG,
    FOREIGN,
    LAYER_A,
    LAYER_B,
    SUBJECT,
    descriptor,
    dumps,
    oci_manifest_document,
    schema2_document,
)


def test_schema2_fields():
    manifest = DockerSchema2Manifest(dumps(schema2_document()))

    assert manifest.config.digest == CONFIG and manifest.config.size == 1500
    assert manifest.config_media_type == DOCKER_SCHEMA2_CONFIG_CONTENT_TYPE
    assert [layer.digest for layer in manifest.layers] == [LAYER_A, FOREIGN]
    assert manifest.layers[1].urls == ("https://mcr.example/layer",)
    assert manifest.layers_compressed_size == 400
    assert (manifest.subject, manifest.artifact_type, dict(manifest.annotations)) == (
        None, None, {})
    assert manifest.child_manifests == () and not manifest.is_manifest_list
    assert manifest.is_image and not manifest.is_index


def test_blob_digests_leave_out_foreign_layers_fetched_from_urls():
    manifest = DockerSchema2Manifest(dumps(schema2_document()))
    assert manifest.blob_digests == (CONFIG, LAYER_A)

    document = schema2_document()
    del document["layers"][1]["urls"]
    # Without urls the registry is the only place to get it from.
    assert DockerSchema2Manifest(dumps(document)).blob_digests == (CONFIG, LAYER_A, FOREIGN)


def test_blob_digests_name_a_repeated_blob_once_in_first_order():
    document = schema2_document()
    document["layers"] = [descriptor(DOCKER_SCHEMA2_LAYER_CONTENT_TYPE, digest, 32)
                          for digest in (LAYER_A, CONFIG, LAYER_A)]

    manifest = DockerSchema2Manifest(dumps(document))

    assert manifest.blob_digests == (CONFIG, LAYER_A)
    assert len(manifest.layers) == 3 and manifest.layers_compressed_size == 96


def test_schema2_refuses_layer_types_docker_never_specified():
    document = schema2_document()
    document["layers"][0]["mediaType"] = "application/vnd.docker.image.rootfs.diff.tar.zstd"

    with pytest.raises(ManifestFieldException, match=r"^layers\[0\]\.mediaType: "):
        DockerSchema2Manifest(dumps(document))


def test_schema2_accepts_uncompressed_foreign_layers():
    document = schema2_document()
    document["layers"][1]["mediaType"] = DOCKER_SCHEMA2_UNCOMPRESSED_FOREIGN_LAYER_CONTENT_TYPE
    assert DockerSchema2Manifest(dumps(document)).layers[1].fetched_from_urls


def test_schema2_ignores_oci_only_fields():
    document = schema2_document()
    document["subject"] = descriptor(OCI_MANIFEST_CONTENT_TYPE, SUBJECT, 1)
    document["artifactType"] = "application/x-not-docker"
    document["annotations"] = {"k": "v"}

    manifest = DockerSchema2Manifest(dumps(document))

    assert (manifest.subject, manifest.artifact_type, dict(manifest.annotations)) == (
        None, None, {})


def test_schema2_with_a_docker_1_10_octet_stream_config_is_an_image():
    document = schema2_document()
    document["config"]["mediaType"] = "application/octet-stream"
    manifest = DockerSchema2Manifest(dumps(document))
    assert manifest.is_image and manifest.artifact_type is None


def test_oci_manifest_fields():
    manifest = OCIManifest(dumps(oci_manifest_document()))

    assert manifest.config.digest == CONFIG
    assert [layer.digest for layer in manifest.layers] == [LAYER_A, LAYER_B, FOREIGN]
    assert [layer.is_encrypted for layer in manifest.layers] == [False, True, False]
    assert [layer.is_foreign for layer in manifest.layers] == [False, False, True]
    assert manifest.blob_digests == (CONFIG, LAYER_A, LAYER_B)
    assert manifest.layers_compressed_size == 600
    assert manifest.subject.digest == SUBJECT
    assert manifest.subject.media_type == OCI_MANIFEST_CONTENT_TYPE
    assert dict(manifest.annotations) == {
        "org.opencontainers.image.created": "2026-12-05T15:00:00Z"}
    assert manifest.layers[1].annotations["org.opencontainers.image.enc.pubopts"] == "e30="
    assert manifest.is_image and manifest.artifact_type is None


def test_oci_artifact_type_is_the_field_else_a_non_image_config_media_type():
    document = oci_manifest_document()
    document["config"]["mediaType"] = "application/vnd.cncf.helm.config.v1+json"
    assert OCIManifest(dumps(document)).artifact_type == "application/vnd.cncf.helm.config.v1+json"

    document["artifactType"] = "application/vnd.example.sbom"
    assert OCIManifest(dumps(document)).artifact_type == "application/vnd.example.sbom"

    image = oci_manifest_document()
    image["artifactType"] = "application/vnd.example.signed-image"
    assert OCIManifest(dumps(image)).artifact_type == "application/vnd.example.signed-image"


def test_an_artifact_with_the_empty_config_must_name_its_artifact_type():
    document = oci_manifest_document()
    document["config"] = descriptor(OCI_EMPTY_CONTENT_TYPE, "sha256:" + "4" * 64, 2,
                                    data="e30=")

    with pytest.raises(ManifestFieldException, match="^artifactType: is required when"):
        OCIManifest(dumps(document))
    document["artifactType"] = "application/vnd.example.signature"
    manifest = OCIManifest(dumps(document))
    assert manifest.artifact_type == "application/vnd.example.signature"
    assert manifest.config.data == b"{}" and not manifest.is_image


def test_oci_layers_may_be_of_any_media_type_and_may_be_empty():
    document = oci_manifest_document()
    document["layers"] = [descriptor(OCI_LAYER_ZSTD_CONTENT_TYPE, LAYER_A, 1),
                          descriptor("application/vnd.example.anything", LAYER_B, 2)]
    assert len(OCIManifest(dumps(document)).layers) == 2

    document["layers"] = []
    assert OCIManifest(dumps(document)).blob_digests == (CONFIG,)


@pytest.mark.parametrize("field_name", ["config", "layers"])
def test_config_and_layers_are_required(field_name):
    for cls, build in ((DockerSchema2Manifest, schema2_document),
                       (OCIManifest, oci_manifest_document)):
        document = build()
        del document[field_name]
        with pytest.raises(ManifestFieldException, match=f"^{field_name}: is required"):
            cls(dumps(document))


@pytest.mark.parametrize("field_name, value, path", [
    ("subject", "sha256:" + "5" * 64, "subject"),
    ("subject", {"mediaType": OCI_MANIFEST_CONTENT_TYPE, "size": 1}, "subject.digest"),
    ("artifactType", 3, "artifactType"),
    ("annotations", {"k": 1}, "annotations['k']"),
])
def test_bad_oci_fields_are_named(field_name, value, path):
    document = dict(oci_manifest_document(), **{field_name: value})

    with pytest.raises(ManifestFieldException) as raised:
        OCIManifest(dumps(document))
    assert raised.value.field == path
