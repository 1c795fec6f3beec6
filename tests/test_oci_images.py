"""registry_model.oci_images: importing layouts, oci-archives and docker-archives into the OCI
model through registry_model.images.import_archive, manifests byte for byte."""
import gzip
import hashlib
import io
import json
import os
import tarfile

import pytest

from registry_model import errors
from registry_model.archive import ArchiveException, read_docker_archive, write_docker_archive
from registry_model.archive.oci_layout import make_layer_tar, write_oci_index, write_oci_layout
from registry_model.blobstore import FilesystemBlobStore
from registry_model.images import import_archive
from registry_model.manifests import parse_manifest_from_bytes
from registry_model.oci.model import OCIModel
from registry_model.oci_images import PlatformSpec, docker_archive_manifest_bytes
from registry_model.testing.databases import snapshot_rows

LAYERS = [make_layer_tar({"etc/os-release": "ID=test\n"}),
          make_layer_tar({"app/data.bin": bytes(range(256)) * 50})]
CONFIG = {"architecture": "amd64", "os": "linux",
          "config": {"Labels": {"com.example.team": "storage"}},
          "history": [{"created_by": "ADD rootfs /"}, {"created_by": "COPY app /app"}]}
ARM = dict(CONFIG, architecture="arm64", variant="v8")


@pytest.fixture
def store(tmp_path):
    return FilesystemBlobStore(str(tmp_path / "blobs"))


def layout_tar(folder, target):
    with tarfile.open(target, "w") as tar:
        for name in sorted(os.listdir(folder)):
            tar.add(os.path.join(folder, name), arcname=name)
    return target


def two_platforms(folder):
    return write_oci_index(folder, [(LAYERS, CONFIG), (LAYERS[:1], ARM)], "multi")


def docker_archive(path, layers=LAYERS, repo_tag="acme/hello:v7"):
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    config = dict(CONFIG, rootfs={"type": "layers", "diff_ids": diff_ids})
    write_docker_archive(path, repo_tag, json.dumps(config).encode(),
                         [(d, len(layer), io.BytesIO(layer))
                          for d, layer in zip(diff_ids, layers, strict=True)])
    return path


@pytest.mark.parametrize("packed", [False, True], ids=["layout-folder", "oci-archive"])
def test_an_oci_image_is_stored_byte_for_byte_under_the_layout_s_ref_name(
        oci_model, store, tmp_path, packed):
    image = write_oci_layout(tmp_path / "layout", LAYERS, CONFIG, "v1")
    source = layout_tar(tmp_path / "layout", tmp_path / "in.tar") if packed \
        else tmp_path / "layout"
    result = import_archive(source, "acme", "hello", store, None, model=oci_model)
    assert (result.tag.name, result.manifest.digest, result.created_repository) == (
        "v1", image.manifest_digest, True)
    manifest_bytes = (tmp_path / "layout" / "blobs" / "sha256" /
                      image.manifest_digest.split(":")[1]).read_bytes()
    assert result.manifest.manifest_bytes == manifest_bytes
    assert store.read(image.config_digest) == image.config_bytes
    assert [blob.digest for blob in result.layers] == [image.config_digest,
                                                      *image.layer_digests]
    assert all(blob.uploaded and blob.v1_id is None for blob in result.layers)
    labels = oci_model.list_manifest_labels(result.manifest)
    assert {label.key: label.value for label in labels} == {"com.example.team": "storage"}
    assert oci_model.get_repo_tag(result.repository, "v1").manifest_digest == \
        image.manifest_digest


def test_importing_again_uploads_nothing_and_an_explicit_tag_wins(oci_model, store, tmp_path):
    image = write_oci_layout(tmp_path / "layout", LAYERS, CONFIG, "v1")
    import_archive(tmp_path / "layout", "acme", "hello", store, None, model=oci_model)
    again = import_archive(tmp_path / "layout", "acme", "hello", store, None, "stable",
                           model=oci_model)
    assert (again.tag.name, again.manifest.digest, again.uploaded_bytes) == (
        "stable", image.manifest_digest, 0)
    assert not any(blob.uploaded for blob in again.layers)


def test_a_docker_archive_gets_a_schema_2_manifest_never_a_schema_1_one(oci_model, store,
                                                                       tmp_path):
    archive = docker_archive(tmp_path / "in.tar")
    result = import_archive(archive, "acme", "hello", store, None, model=oci_model)
    assert result.manifest.media_type == "application/vnd.docker.distribution.manifest.v2+json"
    parsed = parse_manifest_from_bytes(result.manifest.manifest_bytes)
    assert [layer.digest for layer in parsed.layers] == [
        "sha256:" + hashlib.sha256(layer).hexdigest() for layer in LAYERS]
    assert result.tag.name == "v7"  # the archive's own tag
    second = import_archive(archive, "acme", "other", store, None, model=oci_model)
    assert second.manifest.digest == result.manifest.digest  # deterministic bytes
    assert result.manifest.manifest_bytes == docker_archive_manifest_bytes(
        read_docker_archive(archive))


def test_all_platforms_stores_every_child_by_digest_then_the_index_under_the_tag(
        oci_model, store, tmp_path):
    index = two_platforms(tmp_path / "layout")
    result = import_archive(tmp_path / "layout", "acme", "multi", store, None, "latest",
                            model=oci_model, all_platforms=True)
    assert result.manifest.digest == index.index_digest
    assert result.manifest.media_type == "application/vnd.oci.image.index.v1+json"
    assert [child.digest for child in result.children] == [
        image.manifest_digest for image in index.images]
    for image in index.images:
        found = oci_model.lookup_manifest_by_digest(result.repository, image.manifest_digest)
        assert found is not None
    assert [tag.name for tag in oci_model.list_all_active_repository_tags(result.repository)
            ] == ["latest"]


def test_one_platform_stores_that_child_alone_under_the_tag(oci_model, store, tmp_path):
    index = two_platforms(tmp_path / "layout")
    result = import_archive(tmp_path / "layout", "acme", "arm", store, None, "latest",
                            model=oci_model, platform="linux/arm64")
    assert result.manifest.digest == index.images[1].manifest_digest
    assert result.children == ()
    assert oci_model.lookup_manifest_by_digest(result.repository, index.index_digest) is None


@pytest.mark.parametrize("options, message", [
    ({}, r"multi-platform index \(linux/amd64, linux/arm64/v8\): import all of it"),
    ({"platform": "linux/s390x"}, "has no platform linux/s390x"),
    ({"platform": "linux"}, "not of the form os/architecture"),
])
def test_an_index_without_a_usable_choice_is_refused_and_writes_nothing(
        oci_model, store, tmp_path, options, message):
    two_platforms(tmp_path / "layout")
    before = snapshot_rows()
    with pytest.raises(errors.DataModelException, match=message):
        import_archive(tmp_path / "layout", "acme", "multi", store, None, model=oci_model,
                       **options)
    assert snapshot_rows() == before
    assert not os.path.exists(store.root) or not any(
        files for _, _, files in os.walk(os.path.join(store.root, "blobs")))


def test_an_index_whose_child_is_missing_names_it(oci_model, store, tmp_path):
    index = two_platforms(tmp_path / "layout")
    os.remove(tmp_path / "layout" / "blobs" / "sha256" /
              index.images[1].manifest_digest.split(":")[1])
    with pytest.raises(ArchiveException, match="lacks child manifest %s"
                       % index.images[1].manifest_digest):
        import_archive(tmp_path / "layout", "acme", "multi", store, None, model=oci_model,
                       all_platforms=True)


def test_a_corrupt_layer_is_found_before_anything_is_written(oci_model, store, tmp_path):
    image = write_oci_layout(tmp_path / "layout", LAYERS, CONFIG, "v1")
    blob = tmp_path / "layout" / "blobs" / "sha256" / image.layer_digests[1].split(":")[1]
    blob.write_bytes(gzip.compress(b"something else", mtime=0))
    before = snapshot_rows()
    with pytest.raises(ArchiveException, match="expected %s" % image.layer_digests[1]):
        import_archive(tmp_path / "layout", "acme", "hello", store, None, model=oci_model)
    assert snapshot_rows() == before


def test_the_pre_oci_model_refuses_a_layout_and_the_python_api_defaults_to_it(
        registry_model, store, tmp_path):
    write_oci_layout(tmp_path / "layout", LAYERS, CONFIG, "v1")
    with pytest.raises(errors.UnsupportedOperationException, match="docker save archives only"):
        import_archive(tmp_path / "layout", "acme", "hello", store, None)


def test_the_pre_oci_model_still_synthesizes_schema_1_from_a_docker_archive(
        registry_model, store, tmp_path):
    result = import_archive(docker_archive(tmp_path / "in.tar"), "acme", "hello", store, None,
                            model=registry_model)
    assert result.manifest.media_type.startswith(
        "application/vnd.docker.distribution.manifest.v1")


@pytest.mark.parametrize("text, expected", [
    ("linux/amd64", PlatformSpec("linux", "amd64", None)),
    ("linux/arm64/v8", PlatformSpec("linux", "arm64", "v8")),
])
def test_a_platform_is_os_architecture_and_an_optional_variant(text, expected):
    assert PlatformSpec.parse(text) == expected


@pytest.mark.parametrize("text", ["linux", "linux/", "/amd64", "a/b/c/d"])
def test_a_malformed_platform_is_refused(text):
    with pytest.raises(errors.DataModelException, match="os/architecture"):
        PlatformSpec.parse(text)


class RecordingOCIModel(OCIModel):
    """An OCIModel that records the byte counts of the upload updates made through it."""

    def __init__(self):
        self.updates = []

    def update_blob_upload(self, upload, uncompressed_byte_count, storage_metadata,
                           byte_count, chunk_count, sha_state):
        self.updates.append((upload.upload_id, byte_count))
        return super().update_blob_upload(upload, uncompressed_byte_count, storage_metadata,
                                          byte_count, chunk_count, sha_state)


def test_a_layer_is_streamed_into_the_store_in_chunks_never_whole(initialized_db, store,
                                                                  tmp_path, monkeypatch):
    monkeypatch.setattr("registry_model.images.UPLOAD_CHUNK_SIZE", 4096)
    big = make_layer_tar({"data.bin": os.urandom(40_000)})
    image = write_oci_layout(tmp_path / "layout", [big], CONFIG, "v1", compression=None)
    model = RecordingOCIModel()
    import_archive(tmp_path / "layout", "acme", "hello", store, None, model=model)
    counts = [count for _, count in model.updates]
    assert len(counts) == -(-len(big) // 4096) + 1  # the layer's chunks, and the config's one
    assert max(count for count in counts) == len(big)
    assert store.read(image.layer_digests[0]) == big
