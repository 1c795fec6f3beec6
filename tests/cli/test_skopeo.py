"""The real-client proof through our command: skopeo -> registry-model import/export -> skopeo.

An OCI layout built here (registry_model.archive.oci_layout) is copied by ``skopeo copy`` into a
docker-archive, imported with ``registry-model import``, exported with ``registry-model
export``, and skopeo must then see the original image in our archive: the same diff_ids,
labels, architecture and OS, and layers it copies out byte for byte. Local files only.

The ``skopeo`` fixture (tests/conftest.py) runs the real client; under CI a missing skopeo fails.
"""
import json

import pytest
from click.testing import CliRunner

from registry_model.archive.oci_layout import make_layer_tar, write_oci_layout
from registry_model.cli import main
from registry_model.testing.databases import scratch_database

LABELS = {"org.opencontainers.image.title": "cli-proof", "com.example.team": "storage",
          "com.example.settings": '{"replicas": 3, "debug": false}'}
LAYERS = [
    make_layer_tar({"etc/os-release": "ID=proof\nVERSION_ID=1\n", "bin/tool": b"\x7fELF" * 2000}),
    make_layer_tar({"usr/share/doc/readme.txt": "layer two\n" * 300}),
    make_layer_tar({"app/main.py": "print('hello')\n", "app/data.bin": bytes(range(256)) * 100}),
]
CONFIG = {
    "architecture": "arm64",
    "os": "linux",
    "created": "2024-05-06T07:08:09Z",
    "config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["python3", "/app/main.py"],
               "WorkingDir": "/app", "Labels": LABELS},
    "history": [
        {"created": "2024-05-01T00:00:00Z", "created_by": "ADD rootfs.tar /"},
        {"created": "2024-05-02T00:00:00Z", "created_by": "COPY readme.txt /usr/share/doc/"},
        {"created": "2024-05-03T00:00:00Z", "created_by": "LABEL com.example.team=storage",
         "empty_layer": True},
        {"created": "2024-05-06T07:08:09Z", "created_by": "COPY app /app"},
    ],
}


@pytest.fixture
def uri():
    with scratch_database() as scratch:
        yield scratch


def registry_model_command(uri, *args):
    result = CliRunner().invoke(main, ["--db", uri, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("compression", ["gzip", None], ids=["gzip-layers", "plain-layers"])
def test_an_image_from_skopeo_goes_through_import_and_export_unchanged(tmp_path, skopeo, uri,
                                                                       compression):
    image = write_oci_layout(tmp_path / "layout", LAYERS, CONFIG, "proof",
                             compression=compression)
    incoming = tmp_path / "in.tar"
    skopeo("copy", f"oci:{tmp_path / 'layout'}:proof",
           f"docker-archive:{incoming}:team/proof:1.0")

    storage = str(tmp_path / "blobs")
    # No tag given: skopeo wrote docker.io/team/proof:1.0, whose tag is taken.
    imported = json.loads(registry_model_command(uri, "import", str(incoming), "team/proof",
                                                 "--storage", storage, "--json"))
    assert (imported["repository"], imported["tag"]) == ("team/proof", "1.0")
    assert [layer["digest"] for layer in imported["layers"]] == list(image.diff_ids)
    labels = json.loads(registry_model_command(uri, "labels", "team/proof:1.0", "--json"))
    assert {row["key"]: row["value"] for row in labels} == LABELS

    outgoing = tmp_path / "out.tar"
    registry_model_command(uri, "export", "team/proof:1.0", str(outgoing), "--storage", storage)

    inspected = json.loads(skopeo("inspect", f"docker-archive:{outgoing}"))
    assert inspected["Layers"] == list(image.diff_ids)
    assert inspected["Labels"] == LABELS
    assert (inspected["Architecture"], inspected["Os"]) == ("arm64", "linux")

    config = json.loads(skopeo("inspect", "--config", f"docker-archive:{outgoing}"))
    assert config["rootfs"] == {"type": "layers", "diff_ids": list(image.diff_ids)}
    assert config["config"] == CONFIG["config"]
    assert (config["architecture"], config["os"], config["created"]) == (
        "arm64", "linux", CONFIG["created"])
    assert [entry.get("created_by") for entry in config["history"]] == [
        "ADD rootfs.tar /", "COPY readme.txt /usr/share/doc/", "COPY app /app"]

    copied_to = tmp_path / "dir-out"
    skopeo("copy", f"docker-archive:{outgoing}", f"dir:{copied_to}")
    copied = json.loads((copied_to / "manifest.json").read_text())
    assert [layer["digest"] for layer in copied["layers"]] == list(image.diff_ids)
    for digest, original in zip(image.diff_ids, LAYERS, strict=True):
        assert (copied_to / digest.split(":", 1)[1]).read_bytes() == original
