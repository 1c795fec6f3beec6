"""registry-model import, export and sample (registry_model/cli/transfer.py).

Imports and exports go through the sample archive and a filesystem blob store in tmp_path; the
last tests run the installed script the way the README does.
"""
import fcntl
import json
import os
import pty
import re
import stat
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from click.testing import CliRunner

from registry_model.archive import read_docker_archive
from registry_model.cli import URI_VARIABLE, main
from registry_model.images import load_signing_key
from registry_model.manifests import DockerSchema1Manifest
from registry_model.sample import SAMPLE_LABELS, write_sample_archive

from . import assert_fails, invoke, migration_names, row_counts, succeeds

# --- import and export -----------------------------------------------------------------


def blob_files(storage):
    """The files under the blob store's blobs/ and uploads/ folders."""
    return sorted(str(path.relative_to(storage)) for folder in ("blobs", "uploads", "tmp")
                  for path in (storage / folder).rglob("*") if path.is_file())


def test_import_then_export_gives_back_the_same_layers_labels_and_platform(imported,
                                                                         sample_archive):
    result = imported.result
    assert (result["repository"], result["tag"], result["created_repository"]) == (
        "acme/hello", "latest", True)
    original = read_docker_archive(sample_archive)
    assert [layer["digest"] for layer in result["layers"]] == [
        layer.diff_id for layer in original.layers]
    assert all(layer["uploaded"] for layer in result["layers"])
    assert result["uploaded_bytes"] == sum(layer.size for layer in original.layers)
    assert result["docker_image_id"] == result["layers"][-1]["v1_id"]

    out = imported.tmp_path / "out.tar"
    message = succeeds(imported.uri, "export", "acme/hello:latest", str(out), "--storage",
                       str(imported.storage))
    assert message == "exported acme/hello:latest %s to %s (3 layers, 30.0 KiB)\n" % (
        imported.digest, out)
    exported = read_docker_archive(out)
    assert exported.repo_tags == ("acme/hello:latest",)
    assert [layer.diff_id for layer in exported.layers] == [
        layer.diff_id for layer in original.layers]
    for mine, theirs in zip(exported.layers, original.layers, strict=True):
        with mine.open() as one, theirs.open() as other:
            assert one.read() == other.read()
    for key in ("architecture", "os", "config"):
        assert exported.config[key] == original.config[key]
    assert exported.config["config"]["Labels"] == SAMPLE_LABELS


def test_import_prints_one_summary_line_and_export_json_lists_the_layers(migrated_uri, tmp_path,
                                                                        sample_archive):
    storage = tmp_path / "blobs"
    line = succeeds(migrated_uri, "import", str(sample_archive), "acme/hello:v1", "--storage",
                    str(storage))
    assert re.fullmatch(r"imported acme/hello:v1 sha256:[0-9a-f]{64} \(3 layers: 3 uploaded, "
                        r"30\.0 KiB; 0 already present\)\n", line)
    exported = json.loads(succeeds(migrated_uri, "export", "acme/hello:v1",
                                   str(tmp_path / "o.tar"), "--storage", str(storage), "--json"))
    assert exported["repo_tag"] == "acme/hello:v1"
    assert [layer["digest"] for layer in exported["layers"]] == [
        layer.diff_id for layer in read_docker_archive(sample_archive).layers]
    assert exported["config_digest"] == read_docker_archive(tmp_path / "o.tar").config_digest


def test_importing_twice_uploads_nothing_and_adds_one_history_row(imported, sample_archive):
    files, counts = blob_files(imported.storage), row_counts(imported.uri)
    again = json.loads(succeeds(imported.uri, "import", str(sample_archive), "acme/hello:latest",
                                "--storage", str(imported.storage), "--json"))
    assert again["manifest_digest"] == imported.digest
    assert not any(layer["uploaded"] for layer in again["layers"])
    assert not again["created_repository"] and again["uploaded_bytes"] == 0
    assert blob_files(imported.storage) == files
    after = row_counts(imported.uri)
    assert (after["ImageStorage"], after["Image"]) == (counts["ImageStorage"], counts["Image"])
    assert after["RepositoryTag"] == counts["RepositoryTag"] + 1
    rows = json.loads(succeeds(imported.uri, "history", "acme/hello", "--json"))
    assert [(row["name"], row["manifest_digest"], row["lifetime_end"] is None)
            for row in rows] == [("latest", imported.digest, True),
                                 ("latest", imported.digest, False)]


def test_import_into_a_brand_new_database_migrates_it_first(empty_uri, tmp_path, sample_archive):
    result = invoke(empty_uri, "import", str(sample_archive), "acme/hello", "--storage",
                    str(tmp_path / "blobs"))
    assert result.exit_code == 0, result.output
    assert result.stderr == "new database %s: applied %s\n" % (
        empty_uri, ", ".join(migration_names()))
    assert succeeds(empty_uri, "migrate").splitlines() == ["nothing to do"]
    assert "acme/hello" in succeeds(empty_uri, "repos")


def test_import_quiet_says_nothing_on_stderr(empty_uri, tmp_path, sample_archive):
    assert succeeds(empty_uri, "import", str(sample_archive), "acme/hello", "--quiet",
                    "--storage", str(tmp_path / "blobs")).startswith("imported acme/hello:latest")


def test_import_into_a_partly_migrated_database_asks_for_a_migration(own_migrated_uri, tmp_path,
                                                                     sample_archive):
    succeeds(own_migrated_uri, "migrate", "--down")
    assert_fails(invoke(own_migrated_uri, "import", str(sample_archive), "acme/hello", "--storage",
                        str(tmp_path / "blobs")), "not migrated", "run `registry-model migrate`")


def corrupt_middle_layer(path):
    layer = read_docker_archive(path).layers[1]
    data = bytearray(path.read_bytes())
    data[layer.offset + 100] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage, fragment", [
    ("corrupt", "content has digest"),
    ("truncated", "not a readable tar archive: unexpected end of data"),
    ("missing", "cannot open archive"),
])
def test_a_bad_archive_is_one_line_and_writes_no_row_and_no_blob(migrated_uri, tmp_path,
                                                                sample_archive, damage, fragment):
    if damage == "corrupt":
        corrupt_middle_layer(sample_archive)
    elif damage == "truncated":
        sample_archive.write_bytes(sample_archive.read_bytes()[:40_000])
    else:
        sample_archive.unlink()
    storage = tmp_path / "blobs"
    counts = row_counts(migrated_uri)
    assert_fails(invoke(migrated_uri, "import", str(sample_archive), "acme/hello", "--storage",
                        str(storage)), fragment)
    assert row_counts(migrated_uri) == counts
    # Neither the blob store nor the signing key was left behind.
    assert not storage.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["sample.tar"] * (
        damage != "missing")


@pytest.mark.parametrize("damage", ["missing", "unreadable", "truncated", "corrupt"])
def test_a_failed_import_in_an_empty_folder_leaves_no_new_file(tmp_path, sample_archive,
                                                               damage):
    """Default database, blob store and key: none is created (or kept) by a failed import."""
    if damage == "missing":
        sample_archive.unlink()
    elif damage == "unreadable":
        sample_archive.chmod(0)
        if os.access(sample_archive, os.R_OK):  # root reads anything: make it unreadable
            sample_archive.unlink()
            sample_archive.mkdir()
    elif damage == "truncated":
        sample_archive.write_bytes(sample_archive.read_bytes()[:40_000])
    else:
        corrupt_middle_layer(sample_archive)
    before = sorted(path.name for path in tmp_path.iterdir())
    result = CliRunner().invoke(main, ["import", str(sample_archive), "acme/hello"],
                                catch_exceptions=False)
    assert result.exit_code in (1, 2) and "Error:" in result.stderr, result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == before
    # And a good import afterwards works from scratch.
    write_sample_archive(tmp_path / "good.tar")
    assert CliRunner().invoke(main, ["import", "good.tar", "acme/hello"]).exit_code == 0
    assert {"registry.db", "blobs", "signing-key.json"} <= set(os.listdir(tmp_path))


def test_a_failed_import_keeps_what_existed_before(imported, tmp_path):
    key = tmp_path / "signing-key.json"
    key_before = key.read_bytes()
    files_before = blob_files(imported.storage)
    assert_fails(invoke(imported.uri, "import", "nosuch.tar", "acme/hello", "--storage",
                        str(imported.storage)), "cannot open archive nosuch.tar")
    assert key.read_bytes() == key_before
    assert blob_files(imported.storage) == files_before


@pytest.mark.parametrize("args", [
    ["Acme/hello"], ["acme"], ["acme/hello:-dash"], ["acme/hello:"], ["acme/he llo"],
])
def test_import_with_a_malformed_name_is_a_usage_error(migrated_uri, sample_archive, args):
    assert_fails(invoke(migrated_uri, "import", str(sample_archive), *args), "Invalid value for",
                 exit_code=2)


def test_import_with_a_missing_signing_key_file_is_one_line(migrated_uri, tmp_path,
                                                            sample_archive):
    assert_fails(invoke(migrated_uri, "import", str(sample_archive), "acme/hello",
                        "--storage", str(tmp_path / "blobs"), "--signing-key",
                        str(tmp_path / "nope.json")), "cannot read signing key", "nope.json")


def test_import_signs_with_the_key_given(migrated_uri, tmp_path, sample_archive):
    key_path = tmp_path / "mine.json"
    key = load_signing_key(key_path)
    digest = json.loads(succeeds(migrated_uri, "import", str(sample_archive), "acme/hello",
                                 "--storage", str(tmp_path / "blobs"), "--signing-key",
                                 str(key_path), "--json"))["manifest_digest"]
    raw = invoke(migrated_uri, "inspect", "acme/hello@" + digest, "--raw").stdout_bytes
    (signature,) = DockerSchema1Manifest(raw).signatures
    assert signature.header["jwk"]["x"] == key.export_public(as_dict=True)["x"]
    assert not (tmp_path / "blobs" / "signing-key.json").exists()


def _signer(uri, digest):
    raw = invoke(uri, "inspect", "acme/hello@" + digest, "--raw").stdout_bytes
    (signature,) = DockerSchema1Manifest(raw).signatures
    return signature.header["jwk"]["x"]


def test_the_default_signing_key_lives_outside_the_blob_store(migrated_uri, tmp_path,
                                                              sample_archive):
    digest = json.loads(succeeds(migrated_uri, "import", str(sample_archive), "acme/hello",
                                 "--storage", str(tmp_path / "store"), "--json"))[
        "manifest_digest"]
    key = load_signing_key(tmp_path / "signing-key.json", create=False)
    assert _signer(migrated_uri, digest) == key.export_public(as_dict=True)["x"]
    assert sorted(os.listdir(tmp_path / "store")) == ["blobs", "tmp", "uploads"]


@pytest.mark.parametrize("inside", ["store/signing-key.json", "store/keys/mine.json"])
def test_an_explicit_signing_key_inside_the_blob_store_is_refused(migrated_uri, tmp_path,
                                                                  sample_archive, inside):
    load_signing_key(tmp_path / inside)
    counts = row_counts(migrated_uri)
    assert_fails(invoke(migrated_uri, "import", str(sample_archive), "acme/hello", "--storage",
                        str(tmp_path / "store"), "--signing-key", str(tmp_path / inside)),
                 "lies inside the blob store", "keep it outside")
    assert row_counts(migrated_uri) == counts


def test_a_key_at_the_old_place_in_the_blob_store_is_moved_out_and_keeps_signing(
        migrated_uri, tmp_path, sample_archive):
    old = tmp_path / "store" / "signing-key.json"
    key = load_signing_key(old)  # where earlier versions created it
    result = invoke(migrated_uri, "import", str(sample_archive), "acme/hello", "--storage",
                    str(tmp_path / "store"), "--json")
    assert result.exit_code == 0, result.output
    assert result.stderr == "moved the signing key %s out of the blob store to %s\n" % (
        old, "signing-key.json")
    digest = json.loads(result.stdout)["manifest_digest"]
    assert _signer(migrated_uri, digest) == key.export_public(as_dict=True)["x"]
    assert not old.exists()
    moved = tmp_path / "signing-key.json"
    assert stat.S_IMODE(moved.stat().st_mode) == 0o600
    assert load_signing_key(moved, create=False).thumbprint() == key.thumbprint()
    # Later imports use the moved key and say nothing more.
    assert _signer(migrated_uri, json.loads(succeeds(
        migrated_uri, "import", str(sample_archive), "acme/hello:v2", "--storage",
        str(tmp_path / "store"), "--json"))["manifest_digest"]) == key.export_public(
        as_dict=True)["x"]


@pytest.mark.parametrize("args, fragment", [
    (["export", "acme/hello:nope", "OUT"], "tag acme/hello:nope not found"),
    (["export", "acme/nope:latest", "OUT"], "repository acme/nope not found"),
])
def test_export_of_an_unknown_tag_is_one_line_and_writes_nothing(imported, args, fragment):
    out = imported.tmp_path / "out.tar"
    args = [str(out) if arg == "OUT" else arg for arg in args]
    assert_fails(invoke(imported.uri, *args, "--storage", str(imported.storage)), fragment)
    assert not out.exists()


def test_export_without_the_blob_store_is_one_line(imported):
    assert_fails(invoke(imported.uri, "export", "acme/hello:latest",
                        str(imported.tmp_path / "out.tar"), "--storage",
                        str(imported.tmp_path / "elsewhere")), "blob store", "does not exist")
    assert not (imported.tmp_path / "elsewhere").exists()


# --- the README's first command ---------------------------------------------------------


def test_readme_first_command_works_in_an_empty_folder(tmp_path):
    """sample, import, images with the installed script, default database and storage."""
    script = Path(sys.executable).parent / "registry-model"
    env = {key: value for key, value in os.environ.items()
           if key not in (URI_VARIABLE, "REGISTRY_MODEL_STORAGE")}

    def run(*args):
        done = subprocess.run([str(script), *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        return done.stdout

    run("sample", "sample.tar")
    assert run("import", "sample.tar", "acme/hello:latest").startswith(
        "imported acme/hello:latest sha256:")
    tree = run("images", "acme/hello").splitlines()
    assert len(tree) == 3
    assert tree[2].startswith("    └── ") and tree[2].endswith("  latest")
    assert (tmp_path / "registry.db").exists()
    # The key lives beside the database, outside the blob store.
    assert stat.S_IMODE((tmp_path / "signing-key.json").stat().st_mode) == 0o600
    assert not (tmp_path / "blobs" / "signing-key.json").exists()
    assert len(list((tmp_path / "blobs" / "blobs" / "sha256").rglob("*/*"))) == 3


def run_on_terminal(args, cwd):
    """Run the installed script with stderr on a 120-column pseudo-terminal; (code, stderr)."""
    script = Path(sys.executable).parent / "registry-model"
    env = {key: value for key, value in os.environ.items()
           if key not in (URI_VARIABLE, "REGISTRY_MODEL_STORAGE")}
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen([str(script), *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    output = b""
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO once the child has closed its end
            break
        if not data:
            break
        output += data
    os.close(master)
    return process.wait(timeout=120), output.decode("utf-8", "replace")


def test_import_and_export_draw_progress_bars_on_a_terminal_unless_quiet(tmp_path):
    write_sample_archive(tmp_path / "sample.tar")
    code, drawn = run_on_terminal(["import", "sample.tar", "acme/hello"], tmp_path)
    assert code == 0, drawn
    assert "verifying:" in drawn and "uploading:" in drawn and "/30.0k " in drawn
    code, drawn = run_on_terminal(["export", "acme/hello:latest", "out.tar"], tmp_path)
    assert code == 0, drawn
    assert "exporting:" in drawn
    code, drawn = run_on_terminal(["import", "sample.tar", "acme/other", "--quiet"], tmp_path)
    assert (code, drawn) == (0, "")


def test_export_into_a_missing_folder_is_one_line(imported):
    target = imported.tmp_path / "nowhere" / "out.tar"
    assert_fails(invoke(imported.uri, "export", "acme/hello:latest", str(target), "--storage",
                        str(imported.storage)), "folder", "nowhere", "does not exist")
