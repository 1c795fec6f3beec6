"""Dropped connections: the next call outside a transaction reconnects, inside one it fails clearly.

Workers keep their connection for weeks while the server restarts, times idle
sessions out or has them terminated. On PostgreSQL and MariaDB these tests make
the server drop the connection (``pg_terminate_backend``/``KILL`` from a second
connection, or the server's own idle timeout). SQLite has no server to lose:
there the same tests check the plain behaviour of peewee's SQLite database (a
connection closed by the application reopens on the next call; none can be
closed inside a transaction). Data is committed in a scratch database, since the
plugin's per-test transaction would make every call an inside-a-transaction one.
"""
import time
import uuid
from typing import NamedTuple

import peewee
import pytest
from playhouse import db_url
from playhouse.pool import (
    PooledDatabase,
    PooledMySQLDatabase,
    PooledPostgresqlDatabase,
    PooledSqliteDatabase,
)

from registry_model import errors
from registry_model.database import backend_name, configure, db, transaction
from registry_model.migration import upgrade
from registry_model.model import namespace as namespace_model
from registry_model.model import repository as repository_model
from registry_model.reconnect import ReconnectingMixin
from registry_model.registry_pre_oci_model import PreOCIModel
from registry_model.testing.databases import scratch_database_uri
from registry_model.testing.databases import snapshot_rows as snapshot

IDLE_TIMEOUT_S = 1
CONNECTION_ID_SQL = {"postgresql": "SELECT pg_backend_pid()", "mysql": "SELECT CONNECTION_ID()"}


class Server(NamedTuple):
    uri: str
    backend: str
    admin: peewee.Database | None

    def connection(self, database: peewee.Database):
        """What identifies the connection: the server's id for it, or SQLite's handle."""
        if self.backend == "sqlite":
            return database.connection()
        sql = CONNECTION_ID_SQL[self.backend]
        return database.execute_sql(sql).fetchone()[0]

    def drop(self, database: peewee.Database) -> None:
        """The server drops the connection; on SQLite the application closes it."""
        if self.backend == "sqlite":
            # A pool would keep the connection for reuse: close it for good.
            if isinstance(database, PooledDatabase):
                database.manual_close()
            else:
                database.close()
        elif self.backend == "postgresql":
            # The timeout makes the call wait until the backend is gone.
            self.admin.execute_sql("SELECT pg_terminate_backend(%s, 10000)",
                                   (self.connection(database),))
        else:
            self.admin.execute_sql("KILL %d" % self.connection(database))

    def pooled_uri(self) -> str:
        scheme, rest = self.uri.split("://", 1)
        return "%s+pool://%s" % (scheme, rest)


@pytest.fixture(scope="module")
def server():
    """A migrated scratch database of the test backend, dropped at the end."""
    previous = db.obj
    with scratch_database_uri() as uri:
        database = configure(uri)
        upgrade(database)
        database.close()
        backend = backend_name(database)
        admin = db_url.connect(uri) if backend != "sqlite" else None
        try:
            yield Server(uri, backend, admin)
        finally:
            if admin is not None:
                admin.close()
            db.initialize(previous)


@pytest.fixture(params=["plain", "pool"])
def database(request, server):
    """The scratch database bound to ``db`` through configure(), plain or pooled scheme."""
    previous = db.obj
    uri = server.uri if request.param == "plain" else server.pooled_uri()
    bound = configure(uri)
    yield bound
    bound.close()
    db.initialize(previous)


@pytest.fixture
def model(database):
    return PreOCIModel()


def _repository(model: PreOCIModel):
    namespace = "ns" + uuid.uuid4().hex[:12]
    namespace_model.create_namespace(namespace)
    repository_model.create_repository(namespace, "repo")
    return model.lookup_repository(namespace, "repo")


@pytest.mark.parametrize("uri, base", [
    ("postgresql://postgres@127.0.0.1:5432/registry", peewee.PostgresqlDatabase),
    ("postgresql+pool://postgres@127.0.0.1:5432/registry", PooledPostgresqlDatabase),
    ("mysql://root@127.0.0.1:3306/registry", peewee.MySQLDatabase),
    ("mysql+pool://root@127.0.0.1:3306/registry", PooledMySQLDatabase),
])
def test_configure_gives_server_backends_a_reconnecting_database(uri, base):
    previous = db.obj
    try:
        database = configure(uri)
    finally:
        db.initialize(previous)
    assert isinstance(database, base) and isinstance(database, ReconnectingMixin)
    assert database.is_closed()


@pytest.mark.parametrize("uri, expected", [
    ("sqlite:///registry.db", peewee.SqliteDatabase),
    ("sqlite+pool:///registry.db", PooledSqliteDatabase),
])
def test_configure_keeps_sqlite_on_peewees_plain_classes(uri, expected):
    previous = db.obj
    try:
        database = configure(uri)
    finally:
        db.initialize(previous)
    assert type(database) is expected


def test_a_read_after_the_connection_dropped_reconnects_and_succeeds(server, database, model):
    ref = _repository(model)
    lost = server.connection(database)
    server.drop(database)
    assert model.lookup_repository(ref.namespace_name, ref.name) == ref
    assert server.connection(database) != lost


def test_a_write_after_the_connection_dropped_reconnects_and_commits(server, database, model):
    ref = _repository(model)
    server.drop(database)
    upload = model.create_blob_upload(ref, str(uuid.uuid4()), "local", {"part": 1})
    database.close()  # what another worker reads from its own connection
    assert model.lookup_blob_upload(ref, upload.upload_id) == upload


def test_a_connection_dropped_by_the_servers_idle_timeout_reconnects(server, database, model):
    ref = _repository(model)
    if server.backend == "postgresql":
        database.execute_sql("SET idle_session_timeout = '%ds'" % IDLE_TIMEOUT_S)
    elif server.backend == "mysql":
        database.execute_sql("SET SESSION wait_timeout = %d" % IDLE_TIMEOUT_S)
    kept = server.connection(database)
    if server.backend != "sqlite":  # SQLite has no idle timeout to wait for
        time.sleep(IDLE_TIMEOUT_S + 1.5)
    assert model.get_repo_tag(ref, "latest") is None
    if server.backend == "sqlite":
        assert server.connection(database) is kept  # nothing timed out, nothing reconnected
    else:
        assert server.connection(database) != kept


def test_a_connection_dropped_inside_a_transaction_fails_clearly_and_writes_nothing(
        server, database, model):
    ref = _repository(model)
    first, second = ("ns" + uuid.uuid4().hex[:12] for _ in range(2))
    before = snapshot()
    if server.backend == "sqlite":
        # No server can drop it, and peewee refuses to close it mid-transaction.
        with transaction():
            namespace_model.create_namespace(first)
            with pytest.raises(peewee.OperationalError):
                server.drop(database)
            namespace_model.create_namespace(second)
        assert {namespace_model.get_namespace(n).name for n in (first, second)} == {first, second}
        return
    with pytest.raises(errors.DatabaseConnectionLostException):
        with transaction():
            namespace_model.create_namespace(first)
            model.create_blob_upload(ref, str(uuid.uuid4()), "local", None)
            server.drop(database)
            namespace_model.create_namespace(second)
    assert not database.in_transaction()
    assert snapshot() == before
    # The next call, outside the transaction, is on a new connection.
    assert namespace_model.create_namespace(first).name == first


def test_a_connection_dropped_before_commit_fails_clearly_and_writes_nothing(
        server, database, model):
    ref = _repository(model)
    before = snapshot()
    if server.backend == "sqlite":
        with database.atomic():
            upload = model.create_blob_upload(ref, str(uuid.uuid4()), "local", None)
            with pytest.raises(peewee.OperationalError):
                server.drop(database)
        assert model.lookup_blob_upload(ref, upload.upload_id) == upload
        return
    with pytest.raises(errors.DatabaseConnectionLostException):
        with database.atomic():
            model.create_blob_upload(ref, str(uuid.uuid4()), "local", None)
            server.drop(database)
    assert not database.in_transaction()
    assert snapshot() == before
