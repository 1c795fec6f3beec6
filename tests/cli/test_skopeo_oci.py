"""The real-client proof on the OCI model: skopeo -> registry-model import/export -> skopeo.

A single image and a two-platform index are built here (registry_model.archive.oci_layout),
copied by the real ``skopeo copy`` (``--all`` for the index) into an OCI layout and an
oci-archive, imported with ``registry-model import``, exported with ``registry-model export
--format oci|oci-archive``, and ``skopeo inspect --raw`` of the export must give the bytes of
the digest skopeo wrote; skopeo then copies the export out again, checking every blob. Local
files only. The ``skopeo`` fixture (tests/conftest.py) fails under CI when skopeo is missing.
"""
import hashlib
import json

import pytest
from click.testing import CliRunner

from registry_model.archive.oci_layout import make_layer_tar, write_oci_index, write_oci_layout
from registry_model.cli import MODEL_VARIABLE, main
from registry_model.testing.databases import scratch_database

LAYERS = [
    make_layer_tar({"etc/os-release": "ID=proof\n", "bin/tool": b"\x7fELF" * 3000}),
    make_layer_tar({"app/main.py": "print('hello')\n", "app/data.bin": bytes(range(256)) * 64}),
]
AMD64 = {"architecture": "amd64", "os": "linux", "created": "2024-05-06T07:08:09Z",
         "config": {"Cmd": ["python3", "/app/main.py"], "Labels": {"com.example.team": "oci"}}}
ARM64 = dict(AMD64, architecture="arm64", variant="v8")


@pytest.fixture
def uri(monkeypatch):
    monkeypatch.delenv(MODEL_VARIABLE, raising=False)  # the default model: oci
    with scratch_database() as scratch:
        yield scratch


def registry_model_command(uri, *args):
    result = CliRunner().invoke(main, ["--db", uri, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def raw_digest(skopeo, reference: str) -> str:
    raw = skopeo("inspect", "--raw", reference)
    return "sha256:" + hashlib.sha256(raw.encode("utf-8")).hexdigest()


def round_trip(skopeo, uri, tmp_path, source: str, name: str, copy_all: bool) -> str:
    """Copy ``source`` with skopeo into a layout and an oci-archive, import both, export each
    both ways, and check every export against the digest skopeo wrote; that digest."""
    flags = ["--all"] if copy_all else []
    skopeo("copy", *flags, source, f"oci:{tmp_path / 'in-layout'}:1.0")
    skopeo("copy", *flags, source, f"oci-archive:{tmp_path / 'in.tar'}:1.0")
    original = raw_digest(skopeo, f"oci:{tmp_path / 'in-layout'}:1.0")
    assert raw_digest(skopeo, f"oci-archive:{tmp_path / 'in.tar'}") == original
    storage = str(tmp_path / "blobs")
    for number, incoming in enumerate([tmp_path / "in-layout", tmp_path / "in.tar"]):
        imported = json.loads(registry_model_command(
            uri, "import", str(incoming), f"team/{name}{number}", "--storage", storage,
            "--json", *flags))
        assert (imported["tag"], imported["manifest_digest"]) == ("1.0", original)
        layout, archive = tmp_path / f"out-{number}", tmp_path / f"out-{number}.tar"
        for target, archive_format in ((layout, "oci"), (archive, "oci-archive")):
            registry_model_command(uri, "export", f"team/{name}{number}:1.0", str(target),
                                   "--format", archive_format, "--storage", storage)
        assert raw_digest(skopeo, f"oci:{layout}:1.0") == original
        assert raw_digest(skopeo, f"oci-archive:{archive}") == original
        # skopeo reads every blob of the export back, checking each digest.
        skopeo("copy", *flags, f"oci:{layout}:1.0", f"oci:{tmp_path / 'again'}:{number}")
        skopeo("copy", *flags, f"oci-archive:{archive}", f"oci:{tmp_path / 'again'}:a{number}")
        assert raw_digest(skopeo, f"oci:{tmp_path / 'again'}:{number}") == original
    return original


@pytest.mark.parametrize("compression", ["gzip", None], ids=["gzip-layers", "plain-layers"])
def test_a_single_image_keeps_its_digest_through_import_and_export(tmp_path, skopeo, uri,
                                                                  compression):
    image = write_oci_layout(tmp_path / "built", LAYERS, AMD64, "proof", compression)
    digest = round_trip(skopeo, uri, tmp_path, f"oci:{tmp_path / 'built'}:proof", "single",
                        copy_all=False)
    if compression == "gzip":
        assert digest == image.manifest_digest
    # else skopeo compressed the plain layers while copying: the digest is of its manifest,
    # which round_trip held the exports to.

    # As docker save writes it: skopeo sees the same config and diff_ids.
    registry_model_command(uri, "export", "team/single0:1.0", str(tmp_path / "docker.tar"),
                           "--storage", str(tmp_path / "blobs"))
    config = json.loads(skopeo("inspect", "--config", f"docker-archive:{tmp_path / 'docker.tar'}"))
    assert config["rootfs"]["diff_ids"] == list(image.diff_ids)
    assert config["config"] == AMD64["config"]


def test_a_two_platform_index_keeps_its_digest_and_its_children_through_all(tmp_path, skopeo,
                                                                           uri):
    index = write_oci_index(tmp_path / "built", [(LAYERS, AMD64), (LAYERS[:1], ARM64)], "multi")
    digest = round_trip(skopeo, uri, tmp_path, f"oci:{tmp_path / 'built'}:multi", "multi",
                        copy_all=True)
    assert digest == index.index_digest
    exported = json.loads(skopeo("inspect", "--raw", f"oci:{tmp_path / 'out-0'}:1.0"))
    assert [child["digest"] for child in exported["manifests"]] == [
        image.manifest_digest for image in index.images]
    # Without --all skopeo picks one platform's child out of our index.
    for image, arch in zip(index.images, ("amd64", "arm64"), strict=True):
        skopeo("--override-arch", arch, "copy", f"oci:{tmp_path / 'out-1'}:1.0",
               f"oci:{tmp_path / 'children'}:{arch}")
        assert raw_digest(skopeo, f"oci:{tmp_path / 'children'}:{arch}") == image.manifest_digest
