"""Throw-away databases for tests: a SQLite file, or a fresh PostgreSQL/MySQL database.

Tests that need real commits or several connections (concurrency, migrations
up and down) cannot run inside the per-test rollback of ``initialized_db``;
:func:`scratch_database` gives them a database of their own beside the one
named by ``TEST_DATABASE_URI`` for a ``with`` block (``with scratch_database() as uri:``),
and drops it afterwards.
"""
import os
import tempfile
import uuid
import warnings
from contextlib import contextmanager
from typing import Iterator, Optional
from urllib.parse import urlparse, urlunparse

from playhouse import db_url

TEST_DATABASE_URI_VARIABLE = "TEST_DATABASE_URI"


def test_database_uri() -> Optional[str]:
    """The URI named by ``TEST_DATABASE_URI``, or None for the default temporary SQLite."""
    return os.environ.get(TEST_DATABASE_URI_VARIABLE) or None


def _server_admin(uri: str):
    """A connection to the server of ``uri`` on its own database, for CREATE/DROP DATABASE."""
    database = db_url.connect(uri)
    database.connect()
    return database


@contextmanager
def scratch_database(base_uri: Optional[str] = None) -> Iterator[str]:
    """A new, empty database on the same server as ``base_uri`` for a ``with`` block.

    Yields its URI and drops the database at exit. With no base URI (or a SQLite one) it
    is a file in a temporary folder.
    """
    base_uri = base_uri if base_uri is not None else test_database_uri()
    if base_uri is None or base_uri.startswith("sqlite"):
        with tempfile.TemporaryDirectory(prefix="registry_model_") as folder:
            yield "sqlite:///" + os.path.join(folder, "scratch.db")
        return
    parsed = urlparse(base_uri)
    name = "%s_scratch_%s" % (parsed.path.lstrip("/"), uuid.uuid4().hex[:10])
    admin = _server_admin(base_uri)
    try:
        admin.execute_sql("CREATE DATABASE %s" % name)
        try:
            yield urlunparse(parsed._replace(path="/" + name))
        finally:
            if parsed.scheme.startswith("postgres"):
                admin.execute_sql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)
            else:
                admin.execute_sql("DROP DATABASE IF EXISTS %s" % name)
    finally:
        admin.close()


def scratch_database_uri(base_uri: Optional[str] = None):
    """Deprecated name of :func:`scratch_database` (it never returned a URI, but a context
    manager yielding one); kept so that older callers keep working."""
    warnings.warn("scratch_database_uri() is now scratch_database(): "
                  "`with scratch_database() as uri:`", DeprecationWarning, stacklevel=2)
    return scratch_database(base_uri)


@contextmanager
def migrated_scratch_database(base_uri: Optional[str] = None) -> Iterator:
    """A fresh, migrated scratch database bound to ``registry_model.database.db`` for the block.

    Yields the bound peewee database (its URI is ``database.scratch_uri``). Writes in the
    block really commit, so several connections or processes see them; at exit the
    previous binding comes back and the database is dropped.
    """
    from registry_model.database import configure, db
    from registry_model.migration import upgrade

    previous = db.obj
    with scratch_database(base_uri) as uri:
        database = configure(uri)
        database.scratch_uri = uri
        upgrade(database)
        try:
            yield database
        finally:
            database.close()
            db.initialize(previous)


def mark_rows(uri: str) -> dict:
    """The highest row id of every table of the database at ``uri`` (0 for an empty one).

    With :func:`delete_rows_after`, one migrated database (and a server on it) can be
    shared by many tests: mark it once set up, and put it back after each test.
    """
    from peewee import fn

    from registry_model.database import ALL_MODELS

    database = _server_admin(uri)
    try:
        return {model: database.execute(model.select(fn.MAX(model.id))).fetchone()[0] or 0
                for model in ALL_MODELS}
    finally:
        database.close()


def delete_rows_after(uri: str, marks: dict) -> None:
    """Delete every row added to the database at ``uri`` since :func:`mark_rows` gave ``marks``.

    Children go before the rows they reference, in one transaction. Rows that were there
    at the mark stay as they are now (a test that edits them must put them back itself).
    """
    database = _server_admin(uri)
    try:
        with database.atomic():
            for model in reversed(list(marks)):
                database.execute(model.delete().where(model.id > marks[model]))
    finally:
        database.close()


def snapshot_rows() -> dict:
    """Every row, every column (generated ones too), of every table of the bound database.

    ``{table name: [row dicts by id]}``: equal before and after a refused write when
    it really wrote nothing.
    """
    from peewee import SQL

    from registry_model.database import ALL_MODELS

    return {model._meta.table_name: list(model.select(SQL("*")).order_by(model.id).dicts())
            for model in ALL_MODELS}
