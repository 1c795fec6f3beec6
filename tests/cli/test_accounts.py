"""The account commands: user, grant, revoke and visibility (registry_model/cli/accounts.py)."""
import json

import pytest
from click.testing import CliRunner

from registry_model.auth import passwords
from registry_model.cli import main

from . import succeeds


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    monkeypatch.setattr(passwords, "ROUNDS", 4)


def run(uri, *args, stdin=None):
    return CliRunner().invoke(main, ["--db", uri, *args], input=stdin)


def _check(uri, name, password):
    from registry_model.auth.accounts import authenticate
    from registry_model.database import configure
    database = configure(uri)
    try:
        return authenticate(name, password)
    finally:
        database.close()


def test_user_add_reads_the_password_from_stdin(migrated_uri):
    result = run(migrated_uri, "user", "add", "alice", "--password-stdin", stdin="s3cret\n")
    assert result.exit_code == 0, result.output
    assert _check(migrated_uri, "alice", "s3cret") == "alice"
    again = run(migrated_uri, "user", "add", "alice", "--password-stdin", stdin="x\n")
    assert again.exit_code == 1 and "exists" in again.output


def test_user_passwd_list_and_rm(migrated_uri):
    run(migrated_uri, "user", "add", "alice", "--password-stdin", stdin="one\n")
    run(migrated_uri, "user", "add", "bob", "--password-stdin", stdin="two\n")
    assert run(migrated_uri, "user", "passwd", "alice", "--password-stdin",
               stdin="three\n").exit_code == 0
    assert _check(migrated_uri, "alice", "three") == "alice"
    succeeds(migrated_uri, "grant", "bob", "pull", "alice/app")
    succeeds(migrated_uri, "grant", "bob", "push", "acme")
    rows = json.loads(succeeds(migrated_uri, "user", "list", "--json"))
    assert [row["name"] for row in rows] == ["alice", "bob"]
    assert sorted(rows[1]["grants"]) == ["pull alice/app", "push acme"]
    assert "bob" in succeeds(migrated_uri, "user", "list")
    succeeds(migrated_uri, "revoke", "bob", "push", "acme")
    assert run(migrated_uri, "revoke", "bob", "push", "acme").exit_code == 1
    succeeds(migrated_uri, "user", "rm", "bob")
    assert run(migrated_uri, "user", "rm", "bob").exit_code == 1
    assert "bob" not in succeeds(migrated_uri, "user", "list")


@pytest.mark.parametrize("args", [["user", "add", "Alice", "--password-stdin"],
                                  ["grant", "alice", "admin", "acme"],
                                  ["grant", "alice", "pull", "acme/../x"],
                                  ["grant", "nobody", "pull", "acme"]])
def test_bad_arguments_fail_with_one_line(migrated_uri, args):
    result = run(migrated_uri, *args, stdin="pw\n")
    assert result.exit_code != 0
    assert "Traceback" not in result.output


def test_an_empty_password_is_refused(migrated_uri):
    result = run(migrated_uri, "user", "add", "alice", "--password-stdin", stdin="\n")
    assert result.exit_code == 1 and "empty" in result.output


def test_visibility_of_a_repository(migrated_uri):
    from registry_model import oci_model
    from registry_model.database import configure
    database = configure(migrated_uri)
    oci_model.create_repository("acme", "app", create_namespace=True)
    database.close()
    assert "public" in succeeds(migrated_uri, "visibility", "acme/app", "public")
    database = configure(migrated_uri)
    assert oci_model.lookup_repository("acme", "app").is_public
    database.close()
    assert run(migrated_uri, "visibility", "acme/none", "public").exit_code == 1
