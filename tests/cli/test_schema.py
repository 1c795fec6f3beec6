"""registry-model migrate (registry_model/cli/schema.py), and how every command finds its database.

The database comes from ``--db``, the environment or the current folder; a bad URI, an
unreachable server or an unmigrated schema is one line on stderr and status 1.
"""
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from registry_model.cli import URI_VARIABLE, main

from . import assert_fails, invoke, migration_names, succeeds

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


def test_migrate_down_reverts_the_latest_then_back_through_the_target(own_migrated_uri):
    names = migration_names()
    assert succeeds(own_migrated_uri, "migrate", "--down").splitlines() == [
        "reverted " + names[-1]]
    assert succeeds(own_migrated_uri, "migrate", "--down", names[0]).splitlines() == [
        "reverted %s" % n for n in reversed(names[:-1])]
    assert succeeds(own_migrated_uri, "migrate", "--down").splitlines() == ["nothing to do"]
    # The schema is really gone: reads now ask for a migration, which brings it back.
    assert_fails(invoke(own_migrated_uri, "repos"), "registry-model migrate")
    assert succeeds(own_migrated_uri, "migrate").splitlines() == ["applied %s" % n for n in names]
    assert succeeds(own_migrated_uri, "repos").splitlines() == ["no repositories"]


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


# --- database errors -----------------------------------------------------------------


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


@pytest.mark.parametrize("uri", ["postgresql://postgres:hunter2@127.0.0.1:1/x",
                                 "mysql://root:hunter2@127.0.0.1:1/x"])
def test_an_unreachable_server_is_one_line_in_a_real_process(uri):
    """The real process, where no test harness catches what the library logs."""
    done = subprocess.run([sys.executable, "-c", "from registry_model.cli import main; main()",
                           "--db", uri, "repos"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 1 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("Error: cannot use database ") and "127.0.0.1:1" in line
    assert "refused" in line.lower() and "hunter2" not in line


def test_a_missing_sqlite_file_is_not_created_by_a_read(tmp_path):
    path = tmp_path / "nowhere.db"
    assert_fails(invoke("sqlite:///%s" % path, "repos"), "does not exist",
                 "run `registry-model migrate`")
    assert not path.exists()


@pytest.mark.parametrize("args", [["repos"], ["tags", "devtable/simple"],
                                  ["images", "devtable/simple"],
                                  ["labels", "devtable/simple:latest"]])
def test_an_unmigrated_database_asks_for_a_migration(own_migrated_uri, args):
    names = migration_names()
    succeeds(own_migrated_uri, "migrate", "--down", names[0])  # tables gone, database still there
    assert_fails(invoke(own_migrated_uri, *args), "not migrated", ", ".join(names),
                 "run `registry-model migrate`")


def test_a_partly_migrated_database_names_the_pending_migration(own_migrated_uri):
    names = migration_names()
    succeeds(own_migrated_uri, "migrate", "--down")
    assert_fails(invoke(own_migrated_uri, "repos"), "pending: %s)" % names[-1])


def test_a_fresh_server_database_asks_for_a_migration(empty_uri):
    if empty_uri.startswith("sqlite"):
        open(empty_uri[len("sqlite:///"):], "w").close()  # an empty file: no tables at all
    assert_fails(invoke(empty_uri, "repos"), "not migrated", "run `registry-model migrate`")


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
