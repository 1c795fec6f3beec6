"""Tests of the registry-model command (registry_model/cli), plus the helpers they share.

One module per command module: test_schema.py (migrate, and how the command reaches its
database), test_listing.py, test_tagging.py and test_transfer.py; the fixtures are in
conftest.py. The CLI commits and binds the library to the database it is given, so these tests
use a scratch database of the current backend (migrated through the CLI itself) instead of the
rolled-back ``initialized_db``.
"""
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from registry_model.cli import main
from registry_model.database import ALL_MODELS, configure
from registry_model.migration import migrations_directory

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
    """A Unix time as the CLI prints it: RFC 3339 UTC with ``Z``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def row_counts(uri):
    database = configure(uri)
    try:
        return {model.__name__: model.select().count() for model in ALL_MODELS}
    finally:
        database.close()
