"""registry_model.image_export: tagged images written back out as docker-save archives.

These run on ``initialized_db`` (rolled back per test) with a FilesystemBlobStore in a
temporary folder (fixtures ``store``, ``sample`` and ``key`` from tests/conftest.py).
"""
import os

import pytest

from registry_model import errors
from registry_model.archive import ArchiveException, read_docker_archive
from registry_model.blobstore import BlobNotFoundException
from registry_model.image_export import export_image
from registry_model.images import import_archive
from registry_model.sample import SAMPLE_LABELS, sample_layers


def test_export_writes_the_imported_image_back_byte_for_byte(registry_model, store, sample,
                                                            tmp_path, key):
    imported = import_archive(sample, "acme", "hello", store, key)
    seen = []
    result = export_image("acme", "hello", "latest", tmp_path / "out.tar", store,
                          progress=lambda stage, count, total: seen.append((stage, count)))

    original, exported = read_docker_archive(sample), read_docker_archive(tmp_path / "out.tar")
    assert exported.repo_tags == ("acme/hello:latest",)
    assert (result.repo_tag, result.manifest_digest) == ("acme/hello:latest",
                                                         imported.manifest.digest)
    assert result.config_digest == exported.config_digest
    assert [layer.diff_id for layer in exported.layers] == [
        layer.diff_id for layer in original.layers] == list(result.layer_digests)
    for layer, data in zip(exported.layers, sample_layers(), strict=True):
        with layer.open() as stream:
            assert stream.read() == data
    assert [layer.v1_id for layer in exported.layers] == [layer.v1_id for layer in
                                                          imported.layers]
    for key_name in ("architecture", "os", "config", "created", "author"):
        assert exported.config[key_name] == original.config[key_name]
    assert exported.config["config"]["Labels"] == SAMPLE_LABELS
    assert sum(count for _, count in seen) == sum(result.layer_sizes)
    assert {stage for stage, _ in seen} == {"export"}


@pytest.mark.parametrize("namespace, name, tag, message", [
    ("acme", "nope", "latest", "repository acme/nope not found"),
    ("acme", "hello", "nope", "tag acme/hello:nope not found"),
    ("acme", "hello", "bad tag", "tag acme/hello:bad tag not found"),
])
def test_export_of_an_unknown_repository_or_tag_raises(registry_model, store, sample, tmp_path,
                                                      key, namespace, name, tag, message):
    import_archive(sample, "acme", "hello", store, key)
    with pytest.raises(errors.NotFoundException, match=message):
        export_image(namespace, name, tag, tmp_path / "out.tar", store)
    assert not (tmp_path / "out.tar").exists()


def test_export_of_a_blob_missing_from_the_store_raises_and_leaves_no_file(
        registry_model, store, sample, tmp_path, key):
    imported = import_archive(sample, "acme", "hello", store, key)
    store.remove(imported.layers[1].digest)
    with pytest.raises(BlobNotFoundException, match=imported.layers[1].digest):
        export_image("acme", "hello", "latest", tmp_path / "out.tar", store)
    assert sorted(os.listdir(tmp_path)) == ["blobs", "sample.tar"]


def test_export_refuses_a_compressed_layer_blob(registry_model, store, sample, tmp_path, key):
    imported = import_archive(sample, "acme", "hello", store, key)
    # A blob whose bytes are gzip, as a registry client pushes them, under the same digest.
    path = os.path.join(store.root, "blobs", "sha256", imported.layers[0].digest[7:9],
                        imported.layers[0].digest[7:])
    with open(path, "wb") as blob:
        blob.write(b"\x1f\x8b" + b"\x00" * 30)
    with pytest.raises(ArchiveException, match="gzip-compressed"):
        export_image("acme", "hello", "latest", tmp_path / "out.tar", store)
