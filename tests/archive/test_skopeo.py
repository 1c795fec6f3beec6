"""The real-client proof: archives skopeo writes are read, and archives we write skopeo reads.

An OCI layout made here goes through ``skopeo copy`` to a docker-archive, is read with
read_docker_archive, has its config rebuilt through the V1 round trip (as an export from the
pre-OCI schema would), is written again with write_docker_archive, and skopeo must then see the
same layers, labels, architecture and os, and copy out byte-identical layers. Everything is local
files: no registry, no network.

The ``skopeo`` fixture (tests/conftest.py) runs the real client; under CI a missing skopeo fails.
"""
import gzip
import io
import json

import pytest

from registry_model.archive import (
    config_from_v1_layers,
    read_docker_archive,
    v1_layers_from_config,
    write_docker_archive,
)
from registry_model.archive.oci_layout import make_layer_tar, write_oci_layout

LABELS = {"org.opencontainers.image.title": "archive-proof", "com.example.team": "storage"}
LAYERS = [
    make_layer_tar({"etc/os-release": "ID=proof\nVERSION_ID=1\n", "bin/busybox": b"\x7fELF" * 900}),
    make_layer_tar({"usr/share/doc/readme.txt": "layer two\n" * 200}),
    make_layer_tar({"app/main.py": "print('hello')\n", "app/data.bin": bytes(range(256)) * 64}),
]
CONFIG = {
    "architecture": "amd64",
    "os": "linux",
    "created": "2024-03-04T05:06:07Z",
    "author": "registry_model tests",
    "config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["python3", "/app/main.py"],
               "WorkingDir": "/app", "Labels": LABELS},
    "history": [
        {"created": "2024-03-01T00:00:00Z", "created_by": "ADD rootfs.tar /"},
        {"created": "2024-03-02T00:00:00Z", "created_by": "COPY readme.txt /usr/share/doc/"},
        {"created": "2024-03-03T00:00:00Z", "created_by": "LABEL com.example.team=storage",
         "empty_layer": True},
        {"created": "2024-03-04T05:06:07Z", "created_by": "COPY app /app"},
    ],
}


@pytest.mark.parametrize("compression", ["gzip", None], ids=["gzip-layers", "plain-layers"])
def test_skopeo_and_registry_model_archives_agree(tmp_path, skopeo, compression):
    layout = tmp_path / "layout"
    image = write_oci_layout(layout, LAYERS, CONFIG, "proof", compression=compression)

    # 1. skopeo writes a docker-archive (containers/image layout) that we read.
    skopeo_archive = tmp_path / "from-skopeo.tar"
    skopeo("copy", f"oci:{layout}:proof", f"docker-archive:{skopeo_archive}:ns/repo:tag")
    archive = read_docker_archive(skopeo_archive)

    assert archive.repo_tags == ("docker.io/ns/repo:tag",)
    assert archive.config_bytes == image.config_bytes
    assert [layer.diff_id for layer in archive.layers] == list(image.diff_ids)
    for layer, original in zip(archive.layers, LAYERS, strict=True):
        with layer.open() as stream:
            assert stream.read() == original
            assert stream.verified

    # 2. the config goes through the pre-OCI schema's V1 form and back, then we write an archive.
    diff_ids = [layer.diff_id for layer in archive.layers]
    rebuilt = config_from_v1_layers(v1_layers_from_config(archive.config_bytes, diff_ids),
                                    diff_ids)
    export = tmp_path / "export.tar"
    write_docker_archive(export, "ns/repo:tag", rebuilt,
                         ((layer.diff_id, layer.size, layer.open()) for layer in archive.layers))

    # 3. skopeo sees the same image in our archive.
    inspected = json.loads(skopeo("inspect", f"docker-archive:{export}"))
    assert inspected["Layers"] == list(image.diff_ids)
    assert inspected["Labels"] == LABELS
    assert (inspected["Architecture"], inspected["Os"]) == ("amd64", "linux")

    config = json.loads(skopeo("inspect", "--config", f"docker-archive:{export}"))
    assert config["rootfs"] == {"type": "layers", "diff_ids": list(image.diff_ids)}
    assert config["config"] == CONFIG["config"]
    assert (config["architecture"], config["os"]) == ("amd64", "linux")
    assert [h.get("created_by") for h in config["history"]] == [
        "ADD rootfs.tar /", "COPY readme.txt /usr/share/doc/", "COPY app /app"]

    # 4. skopeo copies our layers out byte for byte.
    out = tmp_path / "dir-out"
    skopeo("copy", f"docker-archive:{export}", f"dir:{out}")
    copied = json.loads((out / "manifest.json").read_text())
    assert [layer["digest"] for layer in copied["layers"]] == list(image.diff_ids)
    for digest, original in zip(image.diff_ids, LAYERS, strict=True):
        assert (out / digest.split(":", 1)[1]).read_bytes() == original
    assert (out / copied["config"]["digest"].split(":", 1)[1]).read_bytes() == rebuilt


def test_skopeo_reads_an_archive_written_straight_from_an_oci_config(tmp_path, skopeo):
    image = write_oci_layout(tmp_path / "layout", LAYERS[:1], CONFIG | {"history": []}, "one",
                             compression=None)
    export = tmp_path / "export.tar"
    write_docker_archive(export, "example.org:5000/team/app:1.0", image.config_bytes,
                         [(image.diff_ids[0], len(LAYERS[0]), io.BytesIO(LAYERS[0]))])

    out = tmp_path / "layout-out"
    skopeo("copy", f"docker-archive:{export}", f"oci:{out}:copied")
    index = json.loads((out / "index.json").read_text())
    manifest = json.loads(blob(out, index["manifests"][0]["digest"]))

    # An OCI destination re-serializes the config and gzips the layers: compare what they hold.
    config = json.loads(blob(out, manifest["config"]["digest"]))
    assert config["rootfs"]["diff_ids"] == list(image.diff_ids)
    assert config["config"]["Labels"] == LABELS
    assert (config["architecture"], config["os"]) == ("amd64", "linux")
    (layer,) = manifest["layers"]
    content = blob(out, layer["digest"])
    assert (gzip.decompress(content) if layer["mediaType"].endswith("+gzip") else content) \
        == LAYERS[0]


def blob(layout, digest):
    return (layout / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes()
