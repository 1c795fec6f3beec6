"""Docker manifest lists and OCI indexes: children with platforms, no blobs, OCI fields."""
import pytest

from registry_model.manifests import (
    DockerManifestList,
    ManifestFieldException,
    OCIIndex,
    Platform,
)
from registry_model.media_types import (
    DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE,
    OCI_INDEX_CONTENT_TYPE,
    OCI_MANIFEST_CONTENT_TYPE,
)

from .documents import (
    CHILD_AMD64,
    CHILD_ARM64,
    SUBJECT,
    descriptor,
    docker_list_document,
    dumps,
    oci_index_document,
)


def test_docker_list_children_and_platforms():
    manifest = DockerManifestList(dumps(docker_list_document()))

    assert manifest.is_manifest_list and manifest.is_index
    assert [child.digest for child in manifest.child_manifests] == [CHILD_AMD64, CHILD_ARM64]
    assert manifest.child_manifests[0].platform == Platform("amd64", "linux")
    assert manifest.child_manifests[1].platform == Platform("arm64", "linux", variant="v8",
                                                            features=("sse4",))
    assert manifest.child_manifests[1].size == 501
    assert (manifest.config, manifest.layers, manifest.blob_digests) == (None, (), ())
    assert manifest.layers_compressed_size is None
    assert (manifest.subject, manifest.artifact_type, dict(manifest.annotations)) == (
        None, None, {})


def test_docker_list_entries_need_a_platform():
    document = docker_list_document()
    del document["manifests"][1]["platform"]

    with pytest.raises(ManifestFieldException, match=r"^manifests\[1\]\.platform: is required"):
        DockerManifestList(dumps(document))


def test_docker_list_may_name_schema1_children():
    document = docker_list_document()
    document["manifests"][0]["mediaType"] = DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE
    manifest = DockerManifestList(dumps(document))
    assert manifest.child_manifests[0].media_type == DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE


def test_oci_index_fields():
    manifest = OCIIndex(dumps(oci_index_document()))

    children = manifest.child_manifests
    assert [child.digest for child in children][:2] == [CHILD_AMD64, CHILD_ARM64]
    assert children[0].platform == Platform("amd64", "windows", "10.0.20348.1", ("win32k",))
    assert children[2].platform is None
    assert children[2].artifact_type == "application/spdx+json"
    assert children[2].annotations["vnd.docker.reference.type"] == "attestation-manifest"
    assert manifest.artifact_type == "application/vnd.example.bundle"
    assert manifest.subject.digest == SUBJECT
    assert manifest.subject.media_type == OCI_INDEX_CONTENT_TYPE
    assert dict(manifest.annotations) == {"org.opencontainers.image.ref.name": "v1"}
    assert manifest.blob_digests == () and manifest.config is None


def test_an_index_without_artifact_type_has_none():
    document = oci_index_document()
    del document["artifactType"]
    assert OCIIndex(dumps(document)).artifact_type is None


def test_an_empty_index_is_an_index():
    document = oci_index_document()
    document["manifests"] = []
    assert OCIIndex(dumps(document)).child_manifests == ()


@pytest.mark.parametrize("cls, build", [(DockerManifestList, docker_list_document),
                                        (OCIIndex, oci_index_document)])
def test_manifests_is_required_and_each_entry_is_checked(cls, build):
    document = build()
    del document["manifests"]
    with pytest.raises(ManifestFieldException, match="^manifests: is required"):
        cls(dumps(document))

    document = build()
    document["manifests"].append(descriptor(OCI_MANIFEST_CONTENT_TYPE, "sha256:1", 1,
                                            platform={"architecture": "a", "os": "b"}))
    with pytest.raises(ManifestFieldException, match=r"^manifests\[\d\]\.digest: "):
        cls(dumps(document))


def test_a_platform_needs_architecture_and_os():
    document = oci_index_document()
    del document["manifests"][0]["platform"]["os"]
    with pytest.raises(ManifestFieldException, match=r"^manifests\[0\]\.platform\.os: "):
        OCIIndex(dumps(document))
