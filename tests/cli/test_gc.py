"""registry-model gc and delete (registry_model/cli/gc.py).

The CLI commits, so these run on scratch databases and show what the other collection tests
cannot: the blob files themselves going once the collection has committed. acme/hello comes
from the sample archive; acme/world shares its base layer and adds one of its own.
"""
import hashlib
import io
import json
import os
import time

import pytest

from registry_model.archive import write_docker_archive
from registry_model.archive.oci_layout import make_layer_tar
from registry_model.sample import sample_config, sample_layers

from . import assert_fails, invoke, row_counts, succeeds

HOUR = 3600


def blob_files(storage) -> list:
    return sorted(path.name for path in (storage / "blobs").rglob("*") if path.is_file())


def age_files(storage, seconds: int = 2 * HOUR) -> None:
    """Make every blob file look written ``seconds`` ago (past the default grace period)."""
    then = time.time() - seconds
    for path in (storage / "blobs").rglob("*"):
        if path.is_file():
            os.utime(path, (then, then))


def without_time_machine(uri: str, namespace: str = "acme") -> None:
    """Ended tags of the namespace become collectable at once (through the CLI)."""
    succeeds(uri, "namespace", "set-window", namespace, "0")


def gc_json(uri, *args) -> dict:
    return json.loads(succeeds(uri, "gc", *args, "--json"))


@pytest.fixture
def two_images(imported):
    """acme/hello:latest (sample) and acme/world:latest (sample base + a layer of its own)."""
    layers = [sample_layers()[0], make_layer_tar({"world.txt": "hello, world\n"})]
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    archive = imported.tmp_path / "world.tar"
    write_docker_archive(archive, "acme/world:latest", sample_config(diff_ids),
                         [(digest, len(layer), io.BytesIO(layer))
                          for digest, layer in zip(diff_ids, layers, strict=True)])
    succeeds(imported.uri, "import", str(archive), "acme/world", "--storage",
             str(imported.storage))
    imported.hello = [layer["digest"] for layer in imported.result["layers"]]
    imported.world = diff_ids
    imported.store = str(imported.storage)
    return imported


def test_gc_after_untag_removes_the_rows_and_files_only_that_image_used(two_images):
    images = two_images
    succeeds(images.uri, "untag", "acme/hello:latest")
    without_time_machine(images.uri)
    age_files(images.storage)

    summary = gc_json(images.uri, "--storage", images.store)

    assert (summary["tags"], summary["manifests"], summary["images"], summary["blobs"],
            summary["files"]) == (1, 1, 3, 2, 2)
    sizes = [layer["size"] for layer in images.result["layers"]]
    assert summary["bytes_freed"] == sum(sizes[1:])
    assert summary["dry_run"] is False and summary["links"] == 0  # the import left none
    assert blob_files(images.storage) == sorted(digest.split(":")[1] for digest in images.world)
    assert row_counts(images.uri)["ImageStorage"] == 2
    # What is left is whole: acme/world still exports.
    succeeds(images.uri, "export", "acme/world:latest", str(images.tmp_path / "out.tar"),
             "--storage", images.store)


def test_gc_keeps_alive_tags_and_tags_inside_the_time_machine(two_images):
    images = two_images
    succeeds(images.uri, "untag", "acme/hello:latest")  # the default 14-day window
    age_files(images.storage)
    before = (row_counts(images.uri), blob_files(images.storage))
    summary = gc_json(images.uri, "--storage", images.store)
    assert (summary["tags"], summary["images"], summary["blobs"], summary["files"]) == (
        0, 0, 0, 0)
    assert (row_counts(images.uri), blob_files(images.storage)) == before
    succeeds(images.uri, "restore", "acme/hello:latest", images.digest)


def test_gc_dry_run_reports_what_would_go_and_changes_nothing(two_images):
    images = two_images
    succeeds(images.uri, "untag", "acme/hello:latest")
    without_time_machine(images.uri)
    age_files(images.storage)
    before = (row_counts(images.uri), blob_files(images.storage))

    output = succeeds(images.uri, "gc", "--dry-run", "--storage", images.store)

    assert output.splitlines()[:2] == [
        "would remove 1 tags, 1 manifests, 4 labels, 3 images, 0 links, 0 uploads, 2 blobs",
        "would remove 2 blob files, 20.0 KiB"]
    assert (row_counts(images.uri), blob_files(images.storage)) == before


def test_gc_of_one_repository_leaves_the_others_alone(two_images):
    images = two_images
    for reference in ("acme/hello:latest", "acme/world:latest"):
        succeeds(images.uri, "untag", reference)
    without_time_machine(images.uri)
    age_files(images.storage)

    summary = gc_json(images.uri, "acme/world", "--storage", images.store)

    # world's own layer goes; the base stays for hello's image, which is still there.
    assert (summary["tags"], summary["images"], summary["blobs"]) == (1, 2, 1)
    assert blob_files(images.storage) == sorted(d.split(":")[1] for d in images.hello)
    assert row_counts(images.uri)["RepositoryTag"] == 1


def test_files_written_within_the_grace_period_stay_until_an_orphan_sweep(imported):
    succeeds(imported.uri, "untag", "acme/hello:latest")
    without_time_machine(imported.uri)

    output = succeeds(imported.uri, "gc", "--storage", str(imported.storage))

    assert "removed 0 blob files, 0 B" in output
    assert "kept 3 files written within the grace period" in output
    assert len(blob_files(imported.storage)) == 3 and row_counts(imported.uri)["ImageStorage"] == 0
    summary = gc_json(imported.uri, "--orphans", "--grace", "0", "--storage",
                      str(imported.storage))
    assert (summary["orphan_files"], summary["orphan_bytes"]) == (
        3, sum(layer["size"] for layer in imported.result["layers"]))
    assert blob_files(imported.storage) == []


def test_delete_hides_the_repository_and_gc_removes_it(two_images):
    images = two_images
    assert succeeds(images.uri, "delete", "acme/hello") == (
        "marked acme/hello for deletion; `registry-model gc acme/hello` removes it\n")
    assert "acme/hello" not in succeeds(images.uri, "repos")
    assert_fails(invoke(images.uri, "tags", "acme/hello"), "acme/hello not found")
    age_files(images.storage)

    output = succeeds(images.uri, "gc", "acme/hello", "--storage", images.store)

    assert "removed 1 repositories marked for deletion" in output
    assert blob_files(images.storage) == sorted(d.split(":")[1] for d in images.world)
    assert row_counts(images.uri)["Repository"] == 1
    assert_fails(invoke(images.uri, "delete", "acme/hello"), "acme/hello not found")


def test_gc_of_every_repository_purges_the_marked_ones(two_images):
    images = two_images
    succeeds(images.uri, "delete", "acme/world")
    summary = gc_json(images.uri, "--storage", images.store, "--grace", "0")
    assert (summary["repositories"], summary["purged"]) == (2, 1)
    assert summary["last_repository_id"] is not None
    assert row_counts(images.uri)["Repository"] == 1


@pytest.mark.parametrize("args, fragment, exit_code", [
    (("gc", "acme/nothing"), "repository acme/nothing not found", 1),
    (("gc", "--storage", "/nonexistent/blobs"), "blob store /nonexistent/blobs does not exist",
     1),
    (("gc", "Not/Valid"), "is not a repository", 2),
    (("gc", "--grace", "-1"), "-1", 2),
    (("delete", "acme/nothing"), "repository acme/nothing not found", 1),
])
def test_gc_and_delete_errors_are_one_line(imported, args, fragment, exit_code):
    if args[0] == "gc" and "--storage" not in args:
        args = args + ("--storage", str(imported.storage))
    assert_fails(invoke(imported.uri, *args), fragment, exit_code=exit_code)


@pytest.mark.parametrize("model, scope", [("oci", ("acme/hello",)), ("pre-oci", ("acme/hello",)),
                                          ("oci", ()), ("pre-oci", ())])
def test_gc_after_migrate_to_oci_collects_both_wings_and_purges_a_deleted_repository(
        two_images, model, scope):
    images = two_images  # imported on the pre-OCI model, then carried into the OCI tables
    succeeds(images.uri, "migrate-to-oci")
    before = row_counts(images.uri)
    assert before["Tag"] == before["RepositoryTag"] == 2
    succeeds(images.uri, "delete", "acme/hello")
    age_files(images.storage)

    dry = json.loads(succeeds(images.uri, "--model", model, "gc", *scope, "--storage",
                              images.store, "--dry-run", "--json"))
    assert (dry["purged"], dry["models"][0]) == (1, model)
    assert sorted(dry["models"]) == ["oci", "pre-oci"]
    assert row_counts(images.uri) == before

    summary = json.loads(succeeds(images.uri, "--model", model, "gc", *scope,
                                  "--storage", images.store, "--json"))

    assert (summary["repositories"], summary["purged"]) == (2 if not scope else 1, 1)
    assert summary["tags"] == 2  # one tag row in each wing
    after = row_counts(images.uri)
    assert (after["Repository"], after["Tag"], after["RepositoryTag"]) == (1, 1, 1)
    assert blob_files(images.storage) == sorted(d.split(":")[1] for d in images.world)
    assert "acme/world" in succeeds(images.uri, "--model", model, "repos")
