"""The registry-model command, driven with click's CliRunner on scratch databases.

The CLI commits and binds the library to the database it is given, so these
tests use a scratch database of the current backend (migrated through the CLI
itself) instead of the rolled-back ``initialized_db``.
"""
import fcntl
import hashlib
import io
import json
import os
import pty
import re
import stat
import struct
import subprocess
import sys
import termios
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from registry_model import registry_model
from registry_model.archive import read_docker_archive, write_docker_archive
from registry_model.archive.oci_layout import make_layer_tar
from registry_model.cli import URI_VARIABLE, main
from registry_model.database import ALL_MODELS, RepositoryState, configure
from registry_model.images import load_signing_key
from registry_model.manifests import DockerSchema1Manifest
from registry_model.migration import migrations_directory
from registry_model.sample import SAMPLE_LABELS, write_sample_archive
from registry_model.testing.databases import scratch_database_uri
from registry_model.testing.factories import (
    ImageFactory,
    ImageStorageFactory,
    NamespaceFactory,
    RepositoryFactory,
    RepositoryTagFactory,
    TagManifestFactory,
)

START_TS = 1_700_000_000  # 2023-11-14T22:13:20+00:00


def invoke(uri, *args, env=None):
    """Run the command in-process; anything but a clean exit would raise here."""
    return CliRunner().invoke(main, ["--db", uri, *args], env=env, catch_exceptions=False)


def succeeds(uri, *args):
    result = invoke(uri, *args)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return result.stdout


def assert_fails(result, *fragments, exit_code=1):
    """A failure: the given status, nothing on stdout, one ``Error:`` line on stderr."""
    assert result.exit_code == exit_code, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1, lines
    if exit_code == 1:
        assert lines == errors  # no usage text around a runtime failure
    for fragment in fragments:
        assert fragment in errors[0]
    return errors[0]


def migration_names():
    return sorted(path.stem for path in Path(migrations_directory()).glob("[0-9]*.py"))


def iso(ts):
    return datetime.fromtimestamp(ts, UTC).isoformat()


@pytest.fixture
def empty_uri():
    """A fresh database of the current backend, with no schema."""
    with scratch_database_uri() as uri:
        yield uri


@pytest.fixture
def migrated_uri(empty_uri):
    succeeds(empty_uri, "migrate")
    return empty_uri


@pytest.fixture(scope="module")
def registry():
    """A migrated scratch database with a few repositories, shared by the read-only tests.

    devtable/simple holds the chain base <- middle <- top plus a sibling of top
    and a second root; tags latest and v1 on top (latest with a manifest and
    two labels), one expiring tag, one hidden and one dead.
    """
    with scratch_database_uri() as uri:
        succeeds(uri, "migrate")
        database = configure(uri)
        devtable = NamespaceFactory(name="devtable")
        simple = RepositoryFactory(namespace=devtable, name="simple", visibility_name="public")
        base = ImageFactory(repository=simple, storage=ImageStorageFactory(image_size=512))
        middle = ImageFactory(parent=base, storage=ImageStorageFactory(image_size=2048))
        top = ImageFactory(parent=middle, storage=ImageStorageFactory(image_size=3 * 1024 ** 2))
        sibling = ImageFactory(parent=middle, storage=ImageStorageFactory(image_size=1536))
        other_root = ImageFactory(repository=simple, storage=ImageStorageFactory(image_size=10))
        expiring_end = int(time.time()) + 24 * 3600
        latest = RepositoryTagFactory(repository=simple, name="latest", image=top,
                                      lifetime_start_ts=START_TS)
        RepositoryTagFactory(repository=simple, name="v1", image=top,
                             lifetime_start_ts=START_TS + 60)
        RepositoryTagFactory(repository=simple, name="expiring", image=sibling,
                             lifetime_start_ts=START_TS, lifetime_end_ts=expiring_end)
        RepositoryTagFactory(repository=simple, name="secret", image=base, hidden=True)
        RepositoryTagFactory(repository=simple, name="gone", image=base,
                             lifetime_start_ts=START_TS - 100, lifetime_end_ts=START_TS)
        manifest_row = TagManifestFactory(tag=latest)

        ref = registry_model.lookup_repository("devtable", "simple")
        manifest = registry_model.get_manifest_for_tag(
            registry_model.find_matching_tag(ref, ["latest"]))
        registry_model.create_manifest_label(manifest, "com.example.maintainer", "devtable",
                                             "api")
        registry_model.create_manifest_label(manifest, "Config", '{\n  "debug": true\n}',
                                             "manifest")

        RepositoryFactory(namespace=devtable, name="empty")
        RepositoryFactory(namespace__name="acme", name="app", kind_name="application",
                          state=RepositoryState.READ_ONLY)
        RepositoryFactory(namespace=devtable, name="deleted",
                          state=RepositoryState.MARKED_FOR_DELETION)
        database.close()
        yield SimpleNamespace(uri=uri, base=base, middle=middle, top=top, sibling=sibling,
                              other_root=other_root, expiring_end=expiring_end,
                              digest=manifest_row.digest)


# --- migrate ---------------------------------------------------------------------------


def test_migrate_applies_every_pending_migration_then_has_nothing_to_do(empty_uri):
    names = migration_names()
    assert succeeds(empty_uri, "migrate").splitlines() == ["applied %s" % n for n in names]
    assert succeeds(empty_uri, "migrate").splitlines() == ["nothing to do"]
    assert succeeds(empty_uri, "repos").splitlines() == ["no repositories"]


def test_migrate_status_lists_each_migration_as_applied_or_pending(empty_uri):
    names = migration_names()
    before = succeeds(empty_uri, "migrate", "--status").splitlines()
    assert before[0].split() == ["MIGRATION", "STATE", "APPLIED", "AT"]
    assert [line.split() for line in before[1:]] == [[name, "pending", "-"] for name in names]

    succeeds(empty_uri, "migrate", names[0])
    after = [line.split() for line in succeeds(empty_uri, "migrate", "--status").splitlines()[1:]]
    assert [row[:2] for row in after] == [[names[0], "applied"]] + [
        [name, "pending"] for name in names[1:]]
    assert datetime.fromisoformat(" ".join(after[0][2:4])).year >= 2024


def test_migrate_to_a_target_stops_after_it(empty_uri):
    names = migration_names()
    assert succeeds(empty_uri, "migrate", names[0]).splitlines() == ["applied " + names[0]]
    rest = succeeds(empty_uri, "migrate").splitlines()
    assert rest == (["applied %s" % n for n in names[1:]] or ["nothing to do"])


def test_migrate_down_reverts_the_latest_then_back_through_the_target(migrated_uri):
    names = migration_names()
    assert succeeds(migrated_uri, "migrate", "--down").splitlines() == [
        "reverted " + names[-1]]
    assert succeeds(migrated_uri, "migrate", "--down", names[0]).splitlines() == [
        "reverted %s" % n for n in reversed(names[:-1])]
    assert succeeds(migrated_uri, "migrate", "--down").splitlines() == ["nothing to do"]
    # The schema is really gone: reads now ask for a migration, which brings it back.
    assert_fails(invoke(migrated_uri, "repos"), "registry-model migrate")
    assert succeeds(migrated_uri, "migrate").splitlines() == ["applied %s" % n for n in names]
    assert succeeds(migrated_uri, "repos").splitlines() == ["no repositories"]


def test_migrate_down_to_an_unknown_target_fails_cleanly(migrated_uri):
    assert_fails(invoke(migrated_uri, "migrate", "--down", "9999_nope"), "9999_nope")
    assert_fails(invoke(migrated_uri, "migrate", "9999_nope"), "9999_nope")


@pytest.mark.parametrize("args", [["--status", "--down"], ["--status", "0001_initial"]])
def test_migrate_status_takes_no_other_option(migrated_uri, args):
    assert_fails(invoke(migrated_uri, "migrate", *args), "--status", exit_code=2)


def test_database_defaults_to_registry_db_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(URI_VARIABLE, raising=False)
    result = CliRunner().invoke(main, ["migrate"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "registry.db").exists()


def test_database_comes_from_the_environment_variable(registry):
    result = CliRunner().invoke(main, ["repos"], env={URI_VARIABLE: registry.uri},
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "devtable/simple" in result.stdout


# --- repos -----------------------------------------------------------------------------


def test_repos_lists_repositories_except_those_marked_for_deletion(registry):
    assert [line.split() for line in succeeds(registry.uri, "repos").splitlines()] == [
        ["REPOSITORY", "KIND", "VISIBILITY", "STATE"],
        ["acme/app", "application", "private", "read_only"],
        ["devtable/empty", "image", "private", "normal"],
        ["devtable/simple", "image", "public", "normal"],
    ]


def test_repos_json_is_an_array_of_objects_with_stable_keys(registry):
    assert json.loads(succeeds(registry.uri, "repos", "--json")) == [
        {"repository": "acme/app", "namespace": "acme", "name": "app",
         "kind": "application", "visibility": "private", "state": "read_only"},
        {"repository": "devtable/empty", "namespace": "devtable", "name": "empty",
         "kind": "image", "visibility": "private", "state": "normal"},
        {"repository": "devtable/simple", "namespace": "devtable", "name": "simple",
         "kind": "image", "visibility": "public", "state": "normal"},
    ]


def test_repos_of_an_empty_database(migrated_uri):
    assert succeeds(migrated_uri, "repos").splitlines() == ["no repositories"]
    assert json.loads(succeeds(migrated_uri, "repos", "--json")) == []


# --- tags ------------------------------------------------------------------------------


def test_tags_lists_alive_visible_tags_with_short_ids_and_iso_lifetimes(registry):
    short_top = registry.top.docker_image_id[:12]
    short_sibling = registry.sibling.docker_image_id[:12]
    assert [line.split() for line in succeeds(registry.uri, "tags", "devtable/simple")
            .splitlines()] == [
        ["TAG", "IMAGE", "START", "END"],
        ["expiring", short_sibling, iso(START_TS), iso(registry.expiring_end)],
        ["latest", short_top, iso(START_TS), "-"],
        ["v1", short_top, iso(START_TS + 60), "-"],
    ]


def test_tags_json_has_full_image_ids_and_null_for_no_end(registry):
    assert json.loads(succeeds(registry.uri, "tags", "devtable/simple", "--json")) == [
        {"name": "expiring", "docker_image_id": registry.sibling.docker_image_id,
         "lifetime_start": iso(START_TS), "lifetime_end": iso(registry.expiring_end)},
        {"name": "latest", "docker_image_id": registry.top.docker_image_id,
         "lifetime_start": iso(START_TS), "lifetime_end": None},
        {"name": "v1", "docker_image_id": registry.top.docker_image_id,
         "lifetime_start": iso(START_TS + 60), "lifetime_end": None},
    ]


def test_tags_of_a_repository_without_tags(registry):
    assert succeeds(registry.uri, "tags", "devtable/empty").splitlines() == ["no tags"]
    assert json.loads(succeeds(registry.uri, "tags", "devtable/empty", "--json")) == []


# --- images ----------------------------------------------------------------------------


def test_images_draws_the_ancestry_tree_root_first(registry):
    def short(image):
        return image.docker_image_id[:12]

    assert succeeds(registry.uri, "images", "devtable/simple").splitlines() == [
        "%s  512 B" % short(registry.base),
        "└── %s  2.0 KiB" % short(registry.middle),
        "    ├── %s  3.0 MiB  latest, v1" % short(registry.top),
        "    └── %s  1.5 KiB  expiring" % short(registry.sibling),
        "%s  10 B" % short(registry.other_root),
    ]


def test_images_json_lists_the_tree_in_order_with_parents(registry):
    rows = json.loads(succeeds(registry.uri, "images", "devtable/simple", "--json"))
    assert [(row["docker_image_id"], row["parent_id"], row["depth"], row["tags"])
            for row in rows] == [
        (registry.base.docker_image_id, None, 0, []),
        (registry.middle.docker_image_id, registry.base.docker_image_id, 1, []),
        (registry.top.docker_image_id, registry.middle.docker_image_id, 2, ["latest", "v1"]),
        (registry.sibling.docker_image_id, registry.middle.docker_image_id, 2, ["expiring"]),
        (registry.other_root.docker_image_id, None, 0, []),
    ]
    assert rows[2]["size"] == 3 * 1024 ** 2
    assert rows[2]["aggregate_size"] == registry.top.aggregate_size
    assert rows[2]["blob_digest"] == registry.top.storage.content_checksum
    assert all(set(row) == {"docker_image_id", "parent_id", "depth", "size", "aggregate_size",
                            "blob_digest", "created", "tags"} for row in rows)


def test_images_of_a_repository_without_images(registry):
    assert succeeds(registry.uri, "images", "devtable/empty").splitlines() == ["no images"]
    assert json.loads(succeeds(registry.uri, "images", "devtable/empty", "--json")) == []


# --- labels ----------------------------------------------------------------------------


def test_labels_lists_the_labels_of_the_tag_manifest_in_creation_order(registry):
    assert succeeds(registry.uri, "labels", "devtable/simple:latest").splitlines() == [
        "KEY                     VALUE                  SOURCE    MEDIA TYPE",
        "com.example.maintainer  devtable               api       text/plain",
        'Config                  {\\n  "debug": true\\n}  manifest  application/json',
    ]


def test_labels_json_keeps_values_exact(registry):
    rows = json.loads(succeeds(registry.uri, "labels", "devtable/simple:latest", "--json"))
    assert [{key: row[key] for key in ("key", "value", "source_type", "media_type")}
            for row in rows] == [
        {"key": "com.example.maintainer", "value": "devtable", "source_type": "api",
         "media_type": "text/plain"},
        {"key": "Config", "value": '{\n  "debug": true\n}', "source_type": "manifest",
         "media_type": "application/json"},
    ]
    assert all(len(row["uuid"]) == 36 for row in rows)


# --- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize("uri, fragment", [
    ("oracle://scott@db/registry", "unsupported database URI scheme 'oracle'"),
    ("registry.db", "unsupported database URI scheme"),
    ("postgresql://postgres@127.0.0.1:5432", "has no database name"),
    ("mysql://root@127.0.0.1:3306/", "has no database name"),
    ("sqlite:///", "names no SQLite file"),
    ("sqlite:registry.db", "sqlite:///path/to/file.db"),
    ("postgresql://postgres@[127.0.0.1/registry", "malformed database URI"),
])
def test_a_bad_uri_is_one_line_and_status_1(uri, fragment):
    assert_fails(invoke(uri, "repos"), "bad database URI", fragment)


@pytest.mark.parametrize("uri", ["oracle://scott:tiger@db/registry",
                                 "postgresql://scott:tiger@127.0.0.1:5432"])
def test_a_bad_uri_is_reported_without_its_password(uri):
    message = assert_fails(invoke(uri, "repos"), "bad database URI", "scott:***@")
    assert "tiger" not in message


@pytest.mark.parametrize("uri", ["postgresql://postgres:hunter2@127.0.0.1:1/x",
                                 "mysql://root:hunter2@127.0.0.1:1/x"])
@pytest.mark.parametrize("args", [["migrate"], ["repos"]])
def test_an_unreachable_server_is_one_line_without_the_password(uri, args):
    message = assert_fails(invoke(uri, *args), "cannot use database", "127.0.0.1")
    assert "hunter2" not in message and "***" in message


def test_a_missing_sqlite_file_is_not_created_by_a_read(tmp_path):
    path = tmp_path / "nowhere.db"
    assert_fails(invoke("sqlite:///%s" % path, "repos"), "does not exist",
                 "run `registry-model migrate`")
    assert not path.exists()


@pytest.mark.parametrize("args", [["repos"], ["tags", "devtable/simple"],
                                  ["images", "devtable/simple"],
                                  ["labels", "devtable/simple:latest"]])
def test_an_unmigrated_database_asks_for_a_migration(migrated_uri, args):
    names = migration_names()
    succeeds(migrated_uri, "migrate", "--down", names[0])  # tables gone, database still there
    assert_fails(invoke(migrated_uri, *args), "not migrated", ", ".join(names),
                 "run `registry-model migrate`")


def test_a_partly_migrated_database_names_the_pending_migration(migrated_uri):
    names = migration_names()
    succeeds(migrated_uri, "migrate", "--down")
    assert_fails(invoke(migrated_uri, "repos"), "pending: %s)" % names[-1])


def test_a_fresh_server_database_asks_for_a_migration(empty_uri):
    if empty_uri.startswith("sqlite"):
        open(empty_uri[len("sqlite:///"):], "w").close()  # an empty file: no tables at all
    assert_fails(invoke(empty_uri, "repos"), "not migrated", "run `registry-model migrate`")


@pytest.mark.parametrize("args, fragment", [
    (["tags", "devtable/nope"], "repository devtable/nope not found"),
    (["images", "nobody/simple"], "repository nobody/simple not found"),
    (["tags", "devtable/deleted"], "repository devtable/deleted not found"),
    (["labels", "devtable/nope:latest"], "repository devtable/nope not found"),
    (["labels", "devtable/simple:nope"], "tag devtable/simple:nope not found"),
    (["labels", "devtable/simple:gone"], "tag devtable/simple:gone not found"),
    (["labels", "devtable/simple:secret"], "tag devtable/simple:secret not found"),
    (["labels", "devtable/simple:v1"], "tag devtable/simple:v1 has no manifest"),
])
def test_an_unknown_repository_or_tag_is_one_line_and_status_1(registry, args, fragment):
    assert_fails(invoke(registry.uri, *args), fragment)


@pytest.mark.parametrize("args", [
    ["tags", "devtable"], ["tags", "devtable/"], ["tags", "/simple"], ["tags", "a/b/c"],
    ["images", "DevTable/simple"], ["tags", "devtable/simple:latest"],
    ["labels", "devtable/simple"], ["labels", "devtable/simple:"], ["labels", "devtable:latest"],
    ["labels", "devtable/simple:bad:tag"], ["labels", "devtable/simple:-dash"],
])
def test_a_malformed_argument_is_a_usage_error(registry, args):
    assert_fails(invoke(registry.uri, *args), "Invalid value for", args[1], exit_code=2)


def test_a_programming_error_keeps_its_traceback(registry, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(registry_model, "lookup_repository", broken)
    with pytest.raises(RuntimeError, match="bug"):
        invoke(registry.uri, "tags", "devtable/simple")


# --- the installed console script ------------------------------------------------------


def test_installed_console_script_migrates_and_lists_from_any_folder(tmp_path):
    script = Path(sys.executable).parent / "registry-model"
    env = {key: value for key, value in os.environ.items() if key != URI_VARIABLE}

    def run(*args):
        return subprocess.run([str(script), *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)

    migrated = run("migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.splitlines() == ["applied %s" % n for n in migration_names()]
    assert (tmp_path / "registry.db").exists()
    listed = run("repos", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []
    failed = run("tags", "acme/hello")
    assert failed.returncode == 1
    assert failed.stderr == "Error: repository acme/hello not found\n"


# --- import and export -----------------------------------------------------------------


def write_other_archive(path, greeting="bonjour"):
    """A one-layer image unlike the sample, so its manifest digest differs."""
    layer = make_layer_tar({"etc/greeting": greeting})
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = {"architecture": "arm64", "os": "linux", "config": {"Labels": {"lang": greeting}},
              "rootfs": {"type": "layers", "diff_ids": [diff_id]}}
    write_docker_archive(path, "acme/hello:other", json.dumps(config).encode(),
                         [(diff_id, len(layer), io.BytesIO(layer))])
    return path


def row_counts(uri):
    database = configure(uri)
    try:
        return {model.__name__: model.select().count() for model in ALL_MODELS}
    finally:
        database.close()


def blob_files(storage):
    """The files under the blob store's blobs/ and uploads/ folders."""
    return sorted(str(path.relative_to(storage)) for folder in ("blobs", "uploads", "tmp")
                  for path in (storage / folder).rglob("*") if path.is_file())


@pytest.fixture
def sample_archive(tmp_path):
    path = tmp_path / "sample.tar"
    write_sample_archive(path)
    return path


@pytest.fixture
def imported(migrated_uri, tmp_path, sample_archive):
    """acme/hello:latest imported from the sample archive into a scratch database."""
    storage = tmp_path / "blobs"
    result = json.loads(succeeds(migrated_uri, "import", str(sample_archive), "acme/hello",
                                 "--storage", str(storage), "--json"))
    return SimpleNamespace(uri=migrated_uri, storage=storage, digest=result["manifest_digest"],
                           result=result, tmp_path=tmp_path)


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


def test_import_into_a_partly_migrated_database_asks_for_a_migration(migrated_uri, tmp_path,
                                                                     sample_archive):
    succeeds(migrated_uri, "migrate", "--down")
    assert_fails(invoke(migrated_uri, "import", str(sample_archive), "acme/hello", "--storage",
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
    # Only the signing key, created on first use, is left in the storage folder.
    assert blob_files(storage) == []
    assert sorted(path.name for path in storage.iterdir() if path.is_file()) == [
        "signing-key.json"]


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


# --- history, inspect ------------------------------------------------------------------


def test_history_lists_alive_and_ended_rows_newest_first(imported):
    succeeds(imported.uri, "tag", "acme/hello:latest", "v2")
    succeeds(imported.uri, "untag", "acme/hello:latest")
    rows = json.loads(succeeds(imported.uri, "history", "acme/hello", "--json"))
    assert [(row["name"], row["manifest_digest"], row["lifetime_end"] is None, row["reversion"])
            for row in rows] == [("v2", imported.digest, True, False),
                                 ("latest", imported.digest, False, False)]
    assert set(rows[0]) == {"name", "manifest_digest", "docker_image_id", "lifetime_start",
                            "lifetime_end", "reversion"}
    table = [line.split() for line in succeeds(imported.uri, "history", "acme/hello")
             .splitlines()]
    assert table[0] == ["TAG", "MANIFEST", "IMAGE", "START", "END", "REVERSION"]
    assert [row[:3] for row in table[1:]] == [
        ["v2", imported.digest[:19], rows[0]["docker_image_id"][:12]],
        ["latest", imported.digest[:19], rows[1]["docker_image_id"][:12]]]
    only = json.loads(succeeds(imported.uri, "history", "acme/hello", "v2", "--json"))
    assert [row["name"] for row in only] == ["v2"]


def test_history_reads_every_page(migrated_uri):
    database = configure(migrated_uri)
    repository = RepositoryFactory(namespace__name="acme", name="busy")
    image = ImageFactory(repository=repository)
    for index in range(230):
        RepositoryTagFactory(repository=repository, name="t%03d" % index, image=image,
                             lifetime_start_ts=START_TS + index)
    database.close()
    rows = json.loads(succeeds(migrated_uri, "history", "acme/busy", "--json"))
    assert [row["name"] for row in rows] == ["t%03d" % i for i in reversed(range(230))]


def test_history_of_an_unknown_repository_or_without_rows(imported):
    assert_fails(invoke(imported.uri, "history", "acme/nope"), "repository acme/nope not found")
    assert succeeds(imported.uri, "history", "acme/hello", "nope").splitlines() == [
        "no tag history"]


def test_inspect_shows_digest_media_type_and_layers_base_first(imported, sample_archive):
    document = json.loads(succeeds(imported.uri, "inspect", "acme/hello:latest", "--json"))
    layers = imported.result["layers"]
    assert {key: document[key] for key in ("repository", "digest", "media_type", "name", "tag",
                                           "architecture", "signed")} == {
        "repository": "acme/hello", "digest": imported.digest,
        "media_type": "application/vnd.docker.distribution.manifest.v1+prettyjws",
        "name": "acme/hello", "tag": "latest", "architecture": "amd64", "signed": True}
    assert [(row["digest"], row["v1_id"], row["parent_v1_id"]) for row in document["layers"]] == [
        (layer["digest"], layer["v1_id"], previous["v1_id"] if previous else None)
        for previous, layer in zip([None] + layers[:-1], layers, strict=True)]
    assert document["layers"][-1]["command"] == ["COPY app /app"]

    text = succeeds(imported.uri, "inspect", "acme/hello:latest").splitlines()
    assert text[0].split() == ["DIGEST", imported.digest]
    assert text[4].split() == ["SIGNED", "yes"]
    assert text[6].split()[:3] == ["LAYER", "(BASE", "FIRST)"]
    assert [line.split()[:2] for line in text[7:]] == [
        [layer["digest"], layer["v1_id"][:12]] for layer in layers]


def test_inspect_raw_prints_the_exact_stored_bytes_also_by_digest(imported):
    raw = invoke(imported.uri, "inspect", "acme/hello:latest", "--raw").stdout_bytes
    assert DockerSchema1Manifest(raw).digest == imported.digest
    by_digest = invoke(imported.uri, "inspect", "acme/hello@" + imported.digest, "--raw")
    assert by_digest.stdout_bytes == raw
    database = configure(imported.uri)
    try:
        ref = registry_model.lookup_repository("acme", "hello")
        stored = registry_model.lookup_manifest_by_digest(ref, imported.digest)
        assert stored.manifest_bytes == raw
    finally:
        database.close()


def test_inspect_by_digest_finds_manifests_in_the_time_machine(imported):
    succeeds(imported.uri, "untag", "acme/hello:latest")
    assert_fails(invoke(imported.uri, "inspect", "acme/hello:latest"),
                 "tag acme/hello:latest not found")
    document = json.loads(succeeds(imported.uri, "inspect", "acme/hello@" + imported.digest,
                                   "--json"))
    assert document["digest"] == imported.digest


@pytest.mark.parametrize("args, fragment, exit_code", [
    (["acme/hello@sha256:" + "0" * 64], "manifest sha256:%s not found in acme/hello" % ("0" * 64),
     1),
    (["acme/hello@sha256:nothex"], "Invalid value for", 2),
    (["acme/hello"], "Invalid value for", 2),
    (["acme/hello:latest", "--raw", "--json"], "exclude each other", 2),
])
def test_inspect_errors(imported, args, fragment, exit_code):
    assert_fails(invoke(imported.uri, "inspect", *args), fragment, exit_code=exit_code)


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


@pytest.mark.parametrize("digest, fragment, exit_code", [
    ("sha256:" + "1" * 64, "not found in acme/hello, nor in its time machine", 1),
    ("sha256:short", "Invalid value for", 2),
])
def test_restore_of_an_unknown_digest_fails(imported, digest, fragment, exit_code):
    assert_fails(invoke(imported.uri, "restore", "acme/hello:latest", digest), fragment,
                 exit_code=exit_code)


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
    assert stat.S_IMODE((tmp_path / "blobs" / "signing-key.json").stat().st_mode) == 0o600
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
