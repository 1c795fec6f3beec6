"""registry-model import/export on the OCI model (the default), and --model.

The rest of tests/cli runs with ``--model pre-oci`` through its variable (conftest.py); these
tests drop the variable, so the command runs as a user's shell would, on the OCI model.
"""
import json
import re

import pytest

from registry_model.archive.oci_layout import make_layer_tar, write_oci_index, write_oci_layout
from registry_model.archive.oci_reader import open_oci_layout
from registry_model.cli import MODEL_VARIABLE
from registry_model.sample import write_sample_archive

from . import assert_fails, invoke, succeeds

LAYERS = [make_layer_tar({"etc/os-release": "ID=cli\n"}),
          make_layer_tar({"app/run.sh": "echo hello\n" * 100})]
CONFIG = {"architecture": "amd64", "os": "linux", "config": {"Labels": {"team": "storage"}}}


@pytest.fixture(autouse=True)
def on_the_default_model(monkeypatch):
    monkeypatch.delenv(MODEL_VARIABLE, raising=False)


@pytest.fixture
def index(tmp_path):
    return write_oci_index(tmp_path / "multi", [(LAYERS, CONFIG),
                                                (LAYERS[:1], dict(CONFIG, architecture="arm64"))],
                           "v2")


def test_a_layout_imports_and_exports_with_its_digest_on_the_default_model(migrated_uri,
                                                                          tmp_path):
    image = write_oci_layout(tmp_path / "layout", LAYERS, CONFIG, "v1")
    line = succeeds(migrated_uri, "import", str(tmp_path / "layout"), "acme/hello",
                    "--storage", str(tmp_path / "blobs"))
    assert line == ("imported acme/hello:v1 %s (3 blobs: 3 uploaded, %s; 0 already present)\n"
                    % (image.manifest_digest, line.split(", ")[1].split(";")[0]))
    exported = json.loads(succeeds(migrated_uri, "export", "acme/hello:v1",
                                   str(tmp_path / "out"), "--format", "oci", "--json",
                                   "--storage", str(tmp_path / "blobs")))
    assert (exported["manifest_digest"], exported["format"]) == (image.manifest_digest, "oci")
    assert open_oci_layout(tmp_path / "out").entry("v1").digest == image.manifest_digest
    shown = succeeds(migrated_uri, "inspect", "acme/hello:v1", "--json")
    assert [layer["digest"] for layer in json.loads(shown)["layers"]] == list(
        image.layer_digests)


def test_all_imports_an_index_and_its_children_and_export_keeps_them(migrated_uri, tmp_path,
                                                                     index):
    result = json.loads(succeeds(migrated_uri, "import", str(tmp_path / "multi"), "acme/multi",
                                 "--all", "--json", "--storage", str(tmp_path / "blobs")))
    assert (result["tag"], result["manifest_digest"], result["children"]) == (
        "v2", index.index_digest, [image.manifest_digest for image in index.images])
    shown = json.loads(succeeds(migrated_uri, "inspect", "acme/multi:v2", "--json"))
    assert [(child["digest"], child["platform"]) for child in shown["manifests"]] == [
        (index.images[0].manifest_digest, "linux/amd64"),
        (index.images[1].manifest_digest, "linux/arm64")]
    succeeds(migrated_uri, "export", "acme/multi:v2", str(tmp_path / "out.tar"), "--format",
             "oci-archive", "--storage", str(tmp_path / "blobs"))
    layout = open_oci_layout(tmp_path / "out.tar")
    assert layout.entry("v2").digest == index.index_digest
    assert all(layout.has_blob(image.manifest_digest) for image in index.images)


def test_platform_imports_one_child_and_an_index_without_a_choice_is_one_line(
        migrated_uri, tmp_path, index):
    assert_fails(invoke(migrated_uri, "import", str(tmp_path / "multi"), "acme/multi",
                        "--storage", str(tmp_path / "blobs")),
                 "multi-platform index", "--all", "--platform")
    result = json.loads(succeeds(migrated_uri, "import", str(tmp_path / "multi"),
                                 "acme/multi:arm", "--platform", "linux/arm64", "--json",
                                 "--storage", str(tmp_path / "blobs")))
    assert (result["tag"], result["manifest_digest"]) == ("arm", index.images[1].manifest_digest)


def test_a_database_with_pre_oci_images_only_says_how_to_backfill(migrated_uri, tmp_path):
    write_sample_archive(tmp_path / "sample.tar")
    storage = str(tmp_path / "blobs")
    succeeds(migrated_uri, "--model", "pre-oci", "import", str(tmp_path / "sample.tar"),
             "acme/hello", "--storage", storage)
    for args in (["tags", "acme/hello"], ["repos"], ["inspect", "acme/hello:latest"]):
        assert_fails(invoke(migrated_uri, *args), "holds pre-OCI images only",
                     "registry-model migrate-to-oci", "--model pre-oci")
    assert "latest" in succeeds(migrated_uri, "--model", "pre-oci", "tags", "acme/hello")
    # Asked for by name, the OCI model answers for what it holds: nothing yet.
    empty = invoke(migrated_uri, "--model", "oci", "tags", "acme/hello")
    assert empty.exit_code == 0 and "latest" not in empty.stdout
    # An import adds an image whatever the database holds: a note, then the OCI model's view.
    added = invoke(migrated_uri, "import", str(tmp_path / "sample.tar"), "acme/other",
                   "--storage", storage)
    assert added.exit_code == 0, added.output
    assert "note: database" in added.stderr and "migrate-to-oci" in added.stderr
    assert "latest" in succeeds(migrated_uri, "tags", "acme/other")


def test_the_pre_oci_model_keeps_its_schema_1_import_and_refuses_oci_formats(migrated_uri,
                                                                            tmp_path):
    write_sample_archive(tmp_path / "sample.tar")
    storage = str(tmp_path / "blobs")
    result = json.loads(succeeds(migrated_uri, "--model", "pre-oci", "import",
                                 str(tmp_path / "sample.tar"), "acme/hello", "--json",
                                 "--storage", storage))
    assert result["media_type"].startswith("application/vnd.docker.distribution.manifest.v1")
    assert (tmp_path / "signing-key.json").exists()
    assert_fails(invoke(migrated_uri, "--model", "pre-oci", "export", "acme/hello:latest",
                        str(tmp_path / "out"), "--format", "oci", "--storage", storage),
                 "docker-archive only")
    write_oci_layout(tmp_path / "layout", LAYERS, CONFIG, "v1")
    assert_fails(invoke(migrated_uri, "--model", "pre-oci", "import", str(tmp_path / "layout"),
                        "acme/hello", "--storage", storage), "docker save archives only")


def test_the_oci_model_signs_nothing_and_writes_no_key(migrated_uri, tmp_path):
    write_sample_archive(tmp_path / "sample.tar")
    result = json.loads(succeeds(migrated_uri, "import", str(tmp_path / "sample.tar"),
                                 "acme/hello", "--json", "--storage", str(tmp_path / "blobs")))
    assert result["media_type"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert not (tmp_path / "signing-key.json").exists()


def test_a_bad_model_name_is_a_usage_error(migrated_uri):
    result = invoke(migrated_uri, "--model", "v3", "repos")
    assert result.exit_code == 2 and "'v3' is not one of" in result.stderr


def test_all_and_platform_together_are_a_usage_error(migrated_uri, tmp_path, index):
    result = invoke(migrated_uri, "import", str(tmp_path / "multi"), "acme/multi", "--all",
                    "--platform", "linux/amd64")
    assert result.exit_code == 2 and "exclude each other" in result.stderr


def test_the_other_commands_work_on_the_oci_model_too(migrated_uri, tmp_path):
    image = write_oci_layout(tmp_path / "layout", LAYERS, CONFIG, "v1")
    storage = str(tmp_path / "blobs")
    succeeds(migrated_uri, "import", str(tmp_path / "layout"), "acme/hello", "--storage",
             storage)
    labels = json.loads(succeeds(migrated_uri, "labels", "acme/hello:v1", "--json"))
    assert [(row["key"], row["value"]) for row in labels] == [("team", "storage")]
    succeeds(migrated_uri, "tag", "acme/hello:v1", "stable")
    tags = json.loads(succeeds(migrated_uri, "tags", "acme/hello", "--json"))
    assert {row["name"] for row in tags} == {"v1", "stable"}
    images = json.loads(succeeds(migrated_uri, "images", "acme/hello", "--json"))
    assert len(images) == len(LAYERS)
    succeeds(migrated_uri, "untag", "acme/hello:stable")
    succeeds(migrated_uri, "restore", "acme/hello:stable", image.manifest_digest)
    history = json.loads(succeeds(migrated_uri, "history", "acme/hello", "stable", "--json"))
    assert [row["manifest_digest"] for row in history] == [image.manifest_digest] * 2


def test_images_shows_layers_of_one_manifest_apart_though_their_ids_share_a_start(
        migrated_uri, tmp_path):
    write_oci_layout(tmp_path / "layout", LAYERS, CONFIG, "v1")
    succeeds(migrated_uri, "import", str(tmp_path / "layout"), "acme/hello", "--storage",
             str(tmp_path / "blobs"))
    lines = succeeds(migrated_uri, "images", "acme/hello").splitlines()
    ids = [re.search(r"[0-9a-f]{12}(…[0-9a-f]{8})?", line).group(0) for line in lines]
    assert len(ids) == len(set(ids)) == len(LAYERS)
