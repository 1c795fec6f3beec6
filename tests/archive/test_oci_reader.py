"""registry_model.archive.oci_reader: telling the formats apart and reading OCI layouts."""
import gzip
import hashlib
import io
import json
import os
import tarfile

import pytest

from registry_model.archive import ArchiveException, write_docker_archive
from registry_model.archive.oci_layout import make_layer_tar, write_oci_index, write_oci_layout
from registry_model.archive.oci_reader import (
    DOCKER_ARCHIVE,
    OCI_ARCHIVE,
    OCI_LAYOUT,
    detect_format,
    open_oci_layout,
)

LAYERS = [make_layer_tar({"etc/hello": "hello\n"}), make_layer_tar({"bin/tool": b"\x00" * 5000})]
CONFIG = {"architecture": "amd64", "os": "linux"}


def tar_of(folder, target, compress=False):
    """A tar of the folder's files as an oci-archive holds them (names relative to it)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for root, _, names in os.walk(folder):
            for name in sorted(names):
                path = os.path.join(root, name)
                tar.add(path, arcname=os.path.relpath(path, folder))
    data = buffer.getvalue()
    target.write_bytes(gzip.compress(data) if compress else data)
    return target


def docker_archive(path):
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in LAYERS]
    config = dict(CONFIG, rootfs={"type": "layers", "diff_ids": diff_ids})
    write_docker_archive(path, "acme/hello:v1", json.dumps(config).encode(),
                         [(d, len(layer), io.BytesIO(layer))
                          for d, layer in zip(diff_ids, LAYERS, strict=True)])
    return path


def test_a_folder_with_oci_layout_and_index_json_is_an_oci_layout(tmp_path):
    write_oci_layout(tmp_path / "layout", LAYERS, CONFIG, "v1")
    assert detect_format(tmp_path / "layout") == OCI_LAYOUT


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzipped"])
def test_a_tar_of_a_layout_is_an_oci_archive_whatever_its_name(tmp_path, compress):
    write_oci_layout(tmp_path / "layout", LAYERS, CONFIG, "v1")
    archive = tar_of(tmp_path / "layout", tmp_path / "looks-like-docker.tar", compress)
    assert detect_format(archive) == OCI_ARCHIVE


def test_a_docker_save_archive_is_a_docker_archive_whatever_its_name(tmp_path):
    assert detect_format(docker_archive(tmp_path / "image.oci")) == DOCKER_ARCHIVE


def test_a_tar_with_both_manifest_json_and_a_layout_is_read_as_an_oci_archive(tmp_path):
    """Docker 25's docker save writes both: the layout keeps the manifests byte for byte."""
    write_oci_layout(tmp_path / "layout", LAYERS, CONFIG, "v1")
    (tmp_path / "layout" / "manifest.json").write_text("[]")
    assert detect_format(tar_of(tmp_path / "layout", tmp_path / "both.tar")) == OCI_ARCHIVE


@pytest.mark.parametrize("content", [b"", b"not a tar at all" * 100])
def test_garbage_is_refused_with_one_line(tmp_path, content):
    (tmp_path / "junk").write_bytes(content)
    with pytest.raises(ArchiveException, match="tar"):
        detect_format(tmp_path / "junk")


def test_a_tar_of_something_else_and_a_plain_folder_are_refused(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "readme.txt").write_text("hello")
    with pytest.raises(ArchiveException, match="no OCI image layout"):
        detect_format(tmp_path / "folder")
    with pytest.raises(ArchiveException, match="neither an OCI layout"):
        detect_format(tar_of(tmp_path / "folder", tmp_path / "other.tar"))


@pytest.mark.parametrize("packed", [False, True], ids=["folder", "oci-archive"])
def test_a_layout_gives_its_entries_and_verified_blobs(tmp_path, packed):
    image = write_oci_layout(tmp_path / "layout", LAYERS, CONFIG, "v1", compression=None)
    source = tar_of(tmp_path / "layout", tmp_path / "l.tar") if packed else tmp_path / "layout"
    layout = open_oci_layout(source)
    (entry,) = layout.entries
    assert (entry.digest, entry.ref_name) == (image.manifest_digest, "v1")
    assert layout.entry("v1") == layout.entry(None) == entry
    manifest = json.loads(layout.read_blob(entry.digest))
    assert manifest["config"]["digest"] == image.config_digest
    assert layout.read_blob(image.config_digest) == image.config_bytes
    for digest, layer in zip(image.layer_digests, LAYERS, strict=True):
        assert layout.blob_size(digest) == len(layer)
        with layout.open_blob(digest) as stream:
            assert stream.read() == layer


def test_a_corrupt_blob_fails_when_read_and_a_missing_one_when_asked_for(tmp_path):
    image = write_oci_layout(tmp_path / "layout", LAYERS, CONFIG, "v1", compression=None)
    blob = tmp_path / "layout" / "blobs" / "sha256" / image.layer_digests[1].split(":")[1]
    blob.write_bytes(b"\x01" + blob.read_bytes()[1:])
    layout = open_oci_layout(tmp_path / "layout")
    with pytest.raises(ArchiveException, match="expected %s" % image.layer_digests[1]):
        with layout.open_blob(image.layer_digests[1]) as stream:
            stream.read()
    missing = "sha256:" + "0" * 64
    assert layout.has_blob(missing) is False
    with pytest.raises(ArchiveException, match="lacks blob"):
        layout.blob_size(missing)
    with pytest.raises(ArchiveException, match="sha256:<64 hex digits>"):
        layout.blob_size("sha256:../../etc/passwd")


def test_a_layout_of_several_images_needs_a_name_and_names_what_it_has(tmp_path):
    write_oci_layout(tmp_path / "layout", LAYERS, CONFIG, "v1")
    index = write_oci_index(tmp_path / "layout", [(LAYERS[:1], CONFIG),
                                                  (LAYERS, dict(CONFIG, architecture="arm64"))],
                            "multi")
    layout = open_oci_layout(tmp_path / "layout")
    assert layout.entry("multi").digest == index.index_digest
    with pytest.raises(ArchiveException, match=r"holds 2 images \(refs: multi, v1\)"):
        layout.entry(None)
    with pytest.raises(ArchiveException, match="no image named 'v2'"):
        layout.entry("v2")


def test_a_malformed_index_json_is_refused(tmp_path):
    write_oci_layout(tmp_path / "layout", LAYERS, CONFIG, "v1")
    (tmp_path / "layout" / "index.json").write_text('{"manifests": [{"digest": 3}]}')
    with pytest.raises(ArchiveException, match=r"manifests\[0\] is not a descriptor"):
        open_oci_layout(tmp_path / "layout")
    (tmp_path / "layout" / "index.json").write_text("{")
    with pytest.raises(ArchiveException, match="not valid JSON"):
        open_oci_layout(tmp_path / "layout")
