"""Dropped connections: the next call outside a transaction reconnects, inside one it fails clearly.

Workers keep their connection for weeks while the server restarts, times idle
sessions out or has them terminated. On PostgreSQL and MariaDB these tests make
the server drop the connection (``pg_terminate_backend``/``KILL`` from a second
connection, or the server's own idle timeout). A server that cannot be reached
(nothing listens, it hangs up at once, or a TCP proxy standing for it stops)
gives DatabaseUnavailableException, on the first call and on a reconnect, without
stopping the shared servers. SQLite has no server to lose:
there the same tests check the plain behaviour of peewee's SQLite database (a
connection closed by the application reopens on the next call; none can be
closed inside a transaction). Data is committed in a scratch database, since the
plugin's per-test transaction would make every call an inside-a-transaction one.
"""
import socket
import threading
import time
import uuid
from typing import NamedTuple
from urllib.parse import urlparse, urlunparse

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
from registry_model.testing.databases import scratch_database
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
    with scratch_database() as uri:
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
        assert {namespace_model.find_namespace(n).name for n in (first, second)} == {first, second}
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


# A server that cannot be reached.

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TcpProxy:
    """127.0.0.1:``port`` forwarded to the database server, standing for it in these tests.

    ``refuse()`` stops listening (new connections are refused), ``cut()`` closes every
    connection it carries, ``stop()`` does both, as a server going down does; ``start()``
    listens again on the same port.
    """

    def __init__(self, target: tuple) -> None:
        self.target, self.port, self.listener = target, 0, None
        self.carried: list = []
        self.start()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        listener.settimeout(0.1)
        self.port, self.listener = listener.getsockname()[1], listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while listener is self.listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.carried += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def refuse(self) -> None:
        listener, self.listener = self.listener, None
        listener.close()

    def cut(self) -> None:
        for end in self.carried:
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.carried = []

    def stop(self) -> None:
        self.refuse()
        self.cut()


def _hang_up_at_once(listener: socket.socket) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        client.close()


SERVER_SCHEMES = ["postgresql", "postgresql+pool", "mysql", "mysql+pool"]


def _assert_unavailable(call, port: int) -> errors.DatabaseUnavailableException:
    """``call`` raises DatabaseUnavailableException naming 127.0.0.1:``port``, no password."""
    with pytest.raises(errors.DatabaseUnavailableException) as raised:
        call()
    message = str(raised.value)
    assert "cannot connect to database '" in message and "at 127.0.0.1:%d" % port in message
    assert "hunter2" not in message
    assert not isinstance(raised.value, errors.DatabaseConnectionLostException)
    assert isinstance(raised.value.__cause__, peewee.DatabaseError)
    return raised.value


@pytest.mark.parametrize("scheme", SERVER_SCHEMES)
def test_nothing_listening_is_database_unavailable_on_the_first_call_and_the_next(scheme):
    """The same on every backend run: no server is needed to find none listening."""
    port = _free_port()
    previous = db.obj
    database = configure("%s://user:hunter2@127.0.0.1:%d/registry" % (scheme, port))
    model = PreOCIModel()
    try:
        unavailable = _assert_unavailable(lambda: model.lookup_repository("a", "b"), port)
        assert "'registry'" in str(unavailable) and "refused" in str(unavailable).lower()
        _assert_unavailable(lambda: namespace_model.create_namespace("fresh"), port)
        _assert_unavailable(lambda: model.lookup_repository("a", "b"), port)
        assert database.is_closed() and not database.in_transaction()
    finally:
        db.initialize(previous)


@pytest.mark.parametrize("scheme", SERVER_SCHEMES)
def test_a_server_that_hangs_up_at_once_is_database_unavailable(scheme):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    threading.Thread(target=_hang_up_at_once, args=(listener,), daemon=True).start()
    previous = db.obj
    configure("%s://user:hunter2@127.0.0.1:%d/registry" % (scheme, port))
    try:
        _assert_unavailable(lambda: PreOCIModel().lookup_repository("a", "b"), port)
    finally:
        db.initialize(previous)
        listener.close()


@pytest.fixture(params=["plain", "pool"])
def proxied(request, server):
    """``(database, proxy)``: the scratch database bound through a TcpProxy (None on SQLite)."""
    previous = db.obj
    uri, proxy = server.uri if request.param == "plain" else server.pooled_uri(), None
    if server.backend != "sqlite":
        parsed = urlparse(uri)
        proxy = TcpProxy((parsed.hostname, parsed.port))
        user = parsed.netloc.rsplit("@", 1)[0] + "@" if "@" in parsed.netloc else ""
        uri = urlunparse(parsed._replace(netloc="%s127.0.0.1:%d" % (user, proxy.port)))
    bound = configure(uri)
    yield bound, proxy
    if proxy is not None:
        proxy.stop()
    db.initialize(previous)


@pytest.mark.parametrize("how", ["proxy-stopped", "backend-terminated-and-refused"])
def test_a_server_gone_for_good_is_database_unavailable_on_reconnect(server, proxied, how):
    database, proxy = proxied
    model = PreOCIModel()
    ref = _repository(model)
    before = snapshot()
    if server.backend == "sqlite":
        # No server to lose: after the application closes it, the next call reopens it.
        database.close()
        assert model.lookup_repository(ref.namespace_name, ref.name) == ref
        return
    if how == "proxy-stopped":
        proxy.stop()
    else:
        proxy.refuse()
        server.drop(database)
    # A read finds the connection gone and cannot open another; so does the next call.
    unavailable = _assert_unavailable(lambda: model.lookup_repository(
        ref.namespace_name, ref.name), proxy.port)
    assert isinstance(unavailable.__context__, (peewee.OperationalError,
                                                peewee.InterfaceError))
    _assert_unavailable(lambda: model.create_blob_upload(ref, str(uuid.uuid4()), "local", None),
                        proxy.port)
    with pytest.raises(errors.DatabaseUnavailableException):
        with transaction():
            namespace_model.create_namespace("ns" + uuid.uuid4().hex[:12])
    assert not database.in_transaction()
    proxy.start()  # the server is back: the next call connects and nothing was written
    assert model.lookup_repository(ref.namespace_name, ref.name) == ref
    assert snapshot() == before



@pytest.mark.parametrize("pooled", [False, True], ids=["plain", "pool"])
def test_a_database_missing_on_a_running_server_is_reported_as_missing(server, pooled, tmp_path):
    """The server answers but has no such database: not "server unavailable"."""
    previous = db.obj
    parsed = urlparse(server.pooled_uri() if pooled else server.uri)
    if server.backend == "sqlite":
        # A file database has no server: a missing file is created on first use.
        missing = tmp_path / "created.db"
        database = configure("sqlite:///%s" % missing)
        try:
            assert database.get_tables() == [] and missing.exists()
        finally:
            database.close()
            db.initialize(previous)
        return
    name = "rm_missing_%s" % uuid.uuid4().hex[:12]
    configure(urlunparse(parsed._replace(path="/" + name)))
    try:
        for _ in range(2):  # the first call and the next
            with pytest.raises(errors.DatabaseDoesNotExistException) as raised:
                PreOCIModel().lookup_repository("a", "b")
            message = str(raised.value)
            assert "database %r does not exist on the server at %s:%d" % (
                name, parsed.hostname, parsed.port) in message
            assert "unavailable" not in message
            assert isinstance(raised.value, errors.DatabaseUnavailableException)
    finally:
        db.initialize(previous)
