"""registry_model.oci_image_export: writing OCI-model images as OCI layouts, oci-archives and
docker-archives through registry_model.image_export.export_image."""
import hashlib
import json
import os

import pytest

from registry_model import errors
from registry_model.archive import ArchiveException, read_docker_archive
from registry_model.archive.oci_layout import make_layer_tar, write_oci_index, write_oci_layout
from registry_model.archive.oci_reader import open_oci_layout
from registry_model.blobstore import BlobNotFoundException, FilesystemBlobStore
from registry_model.image_export import export_image
from registry_model.images import import_archive

LAYERS = [make_layer_tar({"etc/os-release": "ID=test\n"}),
          make_layer_tar({"app/data.bin": bytes(range(256)) * 50})]
CONFIG = {"architecture": "amd64", "os": "linux"}


@pytest.fixture
def store(tmp_path):
    return FilesystemBlobStore(str(tmp_path / "blobs"))


def imported(oci_model, store, source, **options):
    return import_archive(source, "acme", "hello", store, None, "v1", model=oci_model,
                          **options)


@pytest.mark.parametrize("archive_format", ["oci", "oci-archive"])
def test_a_layout_export_reproduces_every_manifest_and_blob(oci_model, store, tmp_path,
                                                            archive_format):
    index = write_oci_index(tmp_path / "layout", [(LAYERS, CONFIG),
                                                  (LAYERS[:1], dict(CONFIG, os="windows"))],
                            "v1")
    imported(oci_model, store, tmp_path / "layout", all_platforms=True)
    result = export_image("acme", "hello", "v1", tmp_path / "out", store, model=oci_model,
                          archive_format=archive_format)
    assert result.manifest_digest == index.index_digest
    layout = open_oci_layout(tmp_path / "out")
    (entry,) = layout.entries
    assert (entry.digest, entry.ref_name, entry.media_type) == (
        index.index_digest, "v1", "application/vnd.oci.image.index.v1+json")
    source = tmp_path / "layout" / "blobs" / "sha256"
    for image in index.images:
        for digest in (image.manifest_digest, image.config_digest, *image.layer_digests):
            assert layout.read_blob(digest) == (source / digest.split(":")[1]).read_bytes()
    assert layout.read_blob(index.index_digest) == (
        source / index.index_digest.split(":")[1]).read_bytes()


def test_a_docker_archive_export_decompresses_gzip_layers_to_their_diff_ids(oci_model, store,
                                                                          tmp_path):
    image = write_oci_layout(tmp_path / "layout", LAYERS, CONFIG, "v1", compression="gzip")
    imported(oci_model, store, tmp_path / "layout")
    result = export_image("acme", "hello", "v1", tmp_path / "out.tar", store, model=oci_model)
    archive = read_docker_archive(tmp_path / "out.tar")
    assert archive.repo_tags == ("acme/hello:v1",)
    assert archive.config_bytes == image.config_bytes
    assert [layer.diff_id for layer in archive.layers] == list(image.diff_ids)
    for layer, data in zip(archive.layers, LAYERS, strict=True):
        with layer.open() as stream:
            assert stream.read() == data
    assert (result.manifest_digest, result.layer_digests) == (image.manifest_digest,
                                                              image.diff_ids)


def test_an_index_cannot_be_a_docker_archive_and_nothing_is_written(oci_model, store, tmp_path):
    write_oci_index(tmp_path / "layout", [(LAYERS, CONFIG)], "v1")
    imported(oci_model, store, tmp_path / "layout", all_platforms=True)
    with pytest.raises(ArchiveException, match="multi-platform index"):
        export_image("acme", "hello", "v1", tmp_path / "out.tar", store, model=oci_model)
    assert sorted(os.listdir(tmp_path)) == ["blobs", "layout"]


def test_a_blob_missing_from_the_store_fails_before_anything_is_written(oci_model, store,
                                                                        tmp_path):
    image = write_oci_layout(tmp_path / "layout", LAYERS, CONFIG, "v1")
    imported(oci_model, store, tmp_path / "layout")
    store.remove(image.layer_digests[0])
    for archive_format in ("oci", "oci-archive", "docker-archive"):
        with pytest.raises(BlobNotFoundException, match=image.layer_digests[0]):
            export_image("acme", "hello", "v1", tmp_path / "out", store, model=oci_model,
                         archive_format=archive_format)
    assert not os.path.exists(tmp_path / "out")
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".tmp-")]


def test_a_layout_is_not_written_over_a_folder_that_holds_something(oci_model, store, tmp_path):
    write_oci_layout(tmp_path / "layout", LAYERS, CONFIG, "v1")
    imported(oci_model, store, tmp_path / "layout")
    with pytest.raises(ArchiveException, match="exists already"):
        export_image("acme", "hello", "v1", tmp_path / "layout", store, model=oci_model,
                     archive_format="oci")
    (tmp_path / "empty").mkdir()
    export_image("acme", "hello", "v1", tmp_path / "empty", store, model=oci_model,
                 archive_format="oci")
    assert json.loads((tmp_path / "empty" / "index.json").read_bytes())["manifests"]


def test_unknown_tags_and_formats_are_one_line_errors(oci_model, registry_model, store,
                                                      tmp_path):
    with pytest.raises(errors.NotFoundException, match="repository acme/hello not found"):
        export_image("acme", "hello", "v1", tmp_path / "o", store, model=oci_model)
    with pytest.raises(errors.DataModelException, match="unknown archive format 'zip'"):
        export_image("acme", "hello", "v1", tmp_path / "o", store, model=oci_model,
                     archive_format="zip")
    with pytest.raises(errors.UnsupportedOperationException, match="docker-archive only"):
        export_image("acme", "hello", "v1", tmp_path / "o", store, model=registry_model,
                     archive_format="oci")


def test_an_exported_layout_imports_to_the_same_digest(oci_model, store, tmp_path):
    image = write_oci_layout(tmp_path / "layout", LAYERS, CONFIG, "v1")
    imported(oci_model, store, tmp_path / "layout")
    export_image("acme", "hello", "v1", tmp_path / "out.tar", store, model=oci_model,
                 archive_format="oci-archive")
    again = import_archive(tmp_path / "out.tar", "acme", "copy", store, None, model=oci_model)
    assert (again.manifest.digest, again.tag.name) == (image.manifest_digest, "v1")
    assert hashlib.sha256(again.manifest.manifest_bytes).hexdigest() == \
        image.manifest_digest.split(":")[1]
