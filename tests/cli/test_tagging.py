"""registry-model label add/rm, tag, untag and restore (registry_model/cli/tagging.py)."""
import hashlib
import io
import json
import re

import pytest

from registry_model.archive import read_docker_archive, write_docker_archive
from registry_model.archive.oci_layout import make_layer_tar
from registry_model.sample import SAMPLE_LABELS

from . import assert_fails, invoke, row_counts, succeeds

# --- label, tag, untag, restore --------------------------------------------------------


def test_label_add_then_rm(imported):
    added = json.loads(succeeds(imported.uri, "label", "add", "acme/hello:latest",
                                "com.example.team", '{"name": "storage"}', "--json"))
    assert {key: added[key] for key in ("key", "value", "source_type", "media_type")} == {
        "key": "com.example.team", "value": '{"name": "storage"}', "source_type": "api",
        "media_type": "application/json"}
    line = succeeds(imported.uri, "label", "add", "acme/hello:latest", "owner", "ops",
                    "--media-type", "text/plain")
    owner_uuid = re.fullmatch(r"added label owner \(text/plain, uuid ([0-9a-f-]{36})\)\n",
                              line).group(1)
    listed = json.loads(succeeds(imported.uri, "labels", "acme/hello:latest", "--json"))
    assert [row["key"] for row in listed][-2:] == ["com.example.team", "owner"]

    assert succeeds(imported.uri, "label", "rm", "acme/hello:latest", owner_uuid) == (
        "removed label owner (uuid %s)\n" % owner_uuid)
    listed = json.loads(succeeds(imported.uri, "labels", "acme/hello:latest", "--json"))
    assert "owner" not in [row["key"] for row in listed]
    assert_fails(invoke(imported.uri, "label", "rm", "acme/hello:latest", owner_uuid),
                 "label %s not found on acme/hello:latest" % owner_uuid)


def test_a_label_that_came_with_the_image_cannot_be_removed(imported):
    listed = json.loads(succeeds(imported.uri, "labels", "acme/hello:latest", "--json"))
    immutable = next(row for row in listed if row["source_type"] == "manifest")
    assert_fails(invoke(imported.uri, "label", "rm", "acme/hello:latest", immutable["uuid"]),
                 immutable["uuid"], "cannot be deleted")
    after = json.loads(succeeds(imported.uri, "labels", "acme/hello:latest", "--json"))
    assert after == listed


@pytest.mark.parametrize("args, fragment", [
    (["Bad_Key", "x"], "label key must be lowercase"),
    (["good", "x", "--media-type", "image/png"], "image/png"),
])
def test_label_add_with_a_bad_key_or_media_type_is_one_line(imported, args, fragment):
    counts = row_counts(imported.uri)
    assert_fails(invoke(imported.uri, "label", "add", "acme/hello:latest", *args), fragment)
    assert row_counts(imported.uri) == counts


def test_tag_points_a_new_name_at_the_same_manifest(imported):
    assert succeeds(imported.uri, "tag", "acme/hello:latest", "v1.0") == (
        "tagged acme/hello:v1.0 -> %s\n" % imported.digest)
    tags = json.loads(succeeds(imported.uri, "tags", "acme/hello", "--json"))
    assert [(row["name"], row["docker_image_id"]) for row in tags] == [
        ("latest", imported.result["docker_image_id"]),
        ("v1.0", imported.result["docker_image_id"])]
    inspected = json.loads(succeeds(imported.uri, "inspect", "acme/hello:v1.0", "--json"))
    assert inspected["digest"] == imported.digest
    moved = json.loads(succeeds(imported.uri, "tag", "acme/hello:latest", "v1.0", "--json"))
    assert (moved["name"], moved["manifest_digest"], moved["reversion"]) == (
        "v1.0", imported.digest, False)


@pytest.mark.parametrize("args, fragment, exit_code", [
    (["acme/hello:nope", "v2"], "tag acme/hello:nope not found", 1),
    (["acme/nope:latest", "v2"], "repository acme/nope not found", 1),
    (["acme/hello:latest", ".v2"], "Invalid value for", 2),
    (["acme/hello", "v2"], "Invalid value for", 2),
])
def test_tag_errors(imported, args, fragment, exit_code):
    assert_fails(invoke(imported.uri, "tag", *args), fragment, exit_code=exit_code)


def test_untag_ends_the_tag_and_says_how_to_restore_it(imported):
    assert succeeds(imported.uri, "untag", "acme/hello:latest") == (
        "untagged acme/hello:latest (was %s; `registry-model restore acme/hello:latest %s` "
        "brings it back)\n" % (imported.digest, imported.digest))
    assert succeeds(imported.uri, "tags", "acme/hello").splitlines() == ["no tags"]
    assert_fails(invoke(imported.uri, "untag", "acme/hello:latest"),
                 "tag acme/hello:latest not found")


def write_other_archive(path, greeting="bonjour"):
    """A one-layer image unlike the sample, so its manifest digest differs."""
    layer = make_layer_tar({"etc/greeting": greeting})
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = {"architecture": "arm64", "os": "linux", "config": {"Labels": {"lang": greeting}},
              "rootfs": {"type": "layers", "diff_ids": [diff_id]}}
    write_docker_archive(path, "acme/hello:other", json.dumps(config).encode(),
                         [(diff_id, len(layer), io.BytesIO(layer))])
    return path


def test_restore_brings_back_an_earlier_manifest_as_a_reversion(imported):
    other = write_other_archive(imported.tmp_path / "other.tar")
    newer = json.loads(succeeds(imported.uri, "import", str(other), "acme/hello:latest",
                                "--storage", str(imported.storage), "--json"))
    assert newer["manifest_digest"] != imported.digest

    assert succeeds(imported.uri, "restore", "acme/hello:latest", imported.digest) == (
        "restored acme/hello:latest -> %s\n" % imported.digest)
    inspected = json.loads(succeeds(imported.uri, "inspect", "acme/hello:latest", "--json"))
    assert (inspected["digest"], inspected["architecture"]) == (imported.digest, "amd64")
    rows = json.loads(succeeds(imported.uri, "history", "acme/hello", "--json"))
    assert [(row["manifest_digest"], row["reversion"]) for row in rows] == [
        (imported.digest, True), (newer["manifest_digest"], False), (imported.digest, False)]
    # The restored tag exports as the original image.
    out = imported.tmp_path / "restored.tar"
    succeeds(imported.uri, "export", "acme/hello:latest", str(out), "--storage",
             str(imported.storage))
    assert read_docker_archive(out).config["config"]["Labels"] == SAMPLE_LABELS


def test_restore_of_a_tag_alive_at_that_digest_changes_nothing_and_says_so(imported):
    before = row_counts(imported.uri)
    history = succeeds(imported.uri, "history", "acme/hello", "--json")
    assert succeeds(imported.uri, "restore", "acme/hello:latest", imported.digest) == (
        "acme/hello:latest already points at %s; nothing changed\n" % imported.digest)
    shown = json.loads(succeeds(imported.uri, "restore", "acme/hello:latest", imported.digest,
                                "--json"))
    assert (shown["manifest_digest"], shown["changed"], shown["reversion"]) == (
        imported.digest, False, False)
    assert succeeds(imported.uri, "history", "acme/hello", "--json") == history
    assert row_counts(imported.uri) == before


@pytest.mark.parametrize("digest, fragment, exit_code", [
    ("sha256:" + "1" * 64, "not found in acme/hello, nor in its time machine", 1),
    ("sha256:short", "Invalid value for", 2),
])
def test_restore_of_an_unknown_digest_fails(imported, digest, fragment, exit_code):
    assert_fails(invoke(imported.uri, "restore", "acme/hello:latest", digest), fragment,
                 exit_code=exit_code)
