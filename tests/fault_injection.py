"""Fault injection for the writes of every wing: the machinery tests/test_faults.py and
tests/oci/test_faults.py share.

A write is first run in a transaction that is rolled back, counting its statements.
Then, for each statement k, it runs with peewee's ``execute_sql`` raising at statement k
(before sending it), and on PostgreSQL and MariaDB once more with the server
connection terminated right after statement k (``pg_terminate_backend`` / ``KILL``
from a second connection, from a query hook): :func:`check_faults_leave_every_row`.
:func:`check_deadlocks_are_retried_or_reported` makes statement k of every
transaction a deadlock instead.

The data is committed in a scratch database (:func:`scratch_server`, the module-scoped
``fault_server`` fixture of tests/conftest.py): inside the plugin's rolled-back
transaction, a partly applied write would hide behind the savepoint.
"""
import hashlib
import re
import uuid
from collections import Counter
from typing import Callable, NamedTuple
from unittest import mock

import peewee
import pytest
from playhouse import db_url

from registry_model import errors
from registry_model.database import backend_name, configure, db
from registry_model.migration import upgrade
from registry_model.model import lookup
from registry_model.model import namespace as namespace_model
from registry_model.model import repository as repository_model
from registry_model.testing.databases import scratch_database
from registry_model.testing.databases import snapshot_rows as snapshot
from registry_model.testing.queries import count_statements

# What count_statements leaves out (BEGIN, COMMIT, savepoints) is not faulted either.
TRANSACTION_CONTROL = re.compile(
    r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|START TRANSACTION)\b", re.IGNORECASE)

INJECTED = Counter()
CONNECTION_ID_SQL = {"postgresql": "SELECT pg_backend_pid()", "mysql": "SELECT CONNECTION_ID()"}


class InjectedFault(peewee.OperationalError):
    """The error a faulted statement raises instead of running."""


class Server(NamedTuple):
    """The scratch database, and for server backends how to kill a connection from outside."""

    database: peewee.Database
    backend: str
    admin: peewee.Database | None

    def connection_id(self) -> int:
        sql = CONNECTION_ID_SQL[self.backend]
        return self.database.execute_sql(sql).fetchone()[0]

    def terminate(self, connection_id: int) -> None:
        if self.backend == "postgresql":
            # The timeout makes the call wait until the backend is gone.
            self.admin.execute_sql("SELECT pg_terminate_backend(%s, 10000)", (connection_id,))
        else:
            self.admin.execute_sql("KILL %d" % connection_id)


def scratch_server(request):
    """A migrated scratch database of the test backend, bound for the module, then dropped.

    Reports how many faults the module injected."""
    previous = db.obj
    with scratch_database() as uri:
        database = configure(uri)
        upgrade(database)
        lookup.tables()  # statement counts below leave the one-time cache load out
        backend = backend_name(database)
        admin = db_url.connect(uri) if backend != "sqlite" else None
        try:
            yield Server(database, backend, admin)
        finally:
            reporter = request.config.pluginmanager.get_plugin("terminalreporter")
            capture = request.config.pluginmanager.get_plugin("capturemanager")
            if reporter is not None and capture is not None:
                with capture.global_and_fixture_disabled():
                    reporter.ensure_newline()
                    reporter.write_line(
                        "test_faults on %s: %d faults injected (%d raised, %d connections "
                        "terminated, %d deadlocks)" % (
                            backend, sum(INJECTED.values()), INJECTED["raised"],
                            INJECTED["terminated"], INJECTED["deadlocks"]))
            if admin is not None:
                admin.close()
            database.close()
            db.initialize(previous)


class RaiseAt:
    """A stand-in for ``execute_sql`` that raises InjectedFault at statement ``index``."""

    def __init__(self, database: peewee.Database, index: int) -> None:
        self.database, self.index, self.seen = database, index, 0
        self.execute_sql = database.execute_sql
        self.in_transaction = None

    def __call__(self, sql, params=None):
        if not TRANSACTION_CONTROL.match(sql):
            self.seen += 1
            if self.seen == self.index + 1:
                self.in_transaction = self.database.in_transaction()
                raise InjectedFault("fault injected at statement %d: %s" % (self.index, sql))
        return self.execute_sql(sql, params)


class InjectedDeadlock(peewee.OperationalError):
    """A deadlock error as MySQL reports it (code 1213), which is_transient_conflict knows."""


class DeadlockAt:
    """A stand-in for ``execute_sql``: statement ``index`` of every transaction is a deadlock.

    Counts only the statements sent inside a transaction, from 0 in each new one, so a
    retried write meets the same deadlock at the same point of every attempt.
    """

    def __init__(self, database: peewee.Database, index: int) -> None:
        self.database, self.index, self.seen, self.fired = database, index, 0, 0
        self.execute_sql = database.execute_sql
        self.current = None

    def __call__(self, sql, params=None):
        if not TRANSACTION_CONTROL.match(sql) and self.database.in_transaction():
            top = self.database.top_transaction()
            if top is not self.current:
                self.current, self.seen = top, 0
            self.seen += 1
            if self.seen == self.index + 1:
                self.fired += 1
                raise InjectedDeadlock(1213, "Deadlock found when trying to get lock "
                                             "(injected at statement %d: %s)" % (self.index, sql))
        return self.execute_sql(sql, params)


class TerminateAfter:
    """A query hook that kills the connection from outside once statement ``index`` ran."""

    def __init__(self, server: Server, index: int) -> None:
        self.server, self.index, self.seen = server, index, 0
        self.victim = server.connection_id()
        self.fired = False

    def __call__(self, event) -> None:
        if event.exception is None and not TRANSACTION_CONTROL.match(event.sql):
            self.seen += 1
            if self.seen == self.index + 1:
                self.server.terminate(self.victim)
                self.fired = True


# Builders of committed data, through any model. Names are unique per call: the
# scratch database lives for the whole module.

def unique(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:12]


def digest_of(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def new_repository(model):
    """A RepositoryReference of a new repository in a new namespace."""
    namespace = unique("ns")
    namespace_model.create_namespace(namespace)
    repository_model.create_repository(namespace, "repo")
    return model.lookup_repository(namespace, "repo")


def link_uploads(model, ref, digests) -> dict:
    """``{digest: blob}`` of committed uploads of those digests into the repository."""
    linked = {}
    for digest in dict.fromkeys(digests):
        upload = model.create_blob_upload(ref, str(uuid.uuid4()), "local", {"k": "v"})
        upload = model.update_blob_upload(upload, None, None, 100, 1, None)
        linked[digest] = model.commit_blob_upload(upload, digest, 3600)
    return linked


def count_statements_dry(database: peewee.Database, call: Callable) -> list:
    """The statements ``call`` sends, run in a transaction that is rolled back."""
    with database.atomic() as outer:
        with count_statements() as counted:
            call()
        outer.rollback()
    return counted.statements


def check_faults_leave_every_row(server: Server, call: Callable) -> None:
    """A fault at any statement of ``call`` (raised before it, or the connection killed
    after it) makes it raise with every row as before; unfaulted, it sends as many
    statements as counted and changes something."""
    database = server.database
    before = snapshot()
    statements = count_statements_dry(database, call)
    assert statements, "the write sent no statement"
    assert snapshot() == before

    outside_transaction = set()
    for index in range(len(statements)):
        fault = RaiseAt(database, index)
        with mock.patch.object(database, "execute_sql", fault):
            with pytest.raises(InjectedFault):
                call()
        INJECTED["raised"] += 1
        assert fault.in_transaction is not None, "statement %d was never sent" % index
        if not fault.in_transaction:
            outside_transaction.add(index)
        assert not database.in_transaction()
        assert snapshot() == before, "fault at statement %d: %s" % (index, statements[index])

    if server.backend != "sqlite":
        # After a read outside the transaction the write reconnects and succeeds
        # (tests/test_reconnect.py); inside it, it must fail whole.
        for index in sorted(set(range(len(statements))) - outside_transaction):
            killer = TerminateAfter(server, index)
            database.query_hooks.append(killer)
            try:
                with pytest.raises(errors.DatabaseConnectionLostException):
                    call()
            finally:
                database.query_hooks.remove(killer)
            INJECTED["terminated"] += 1
            assert killer.fired
            assert snapshot() == before, "killed after statement %d: %s" % (index,
                                                                             statements[index])

    with count_statements() as counted:
        call()
    assert counted.count == len(statements)
    assert snapshot() != before




RETRY_ATTEMPTS = 8  # run_with_retry's default


def check_deadlocks_are_retried_or_reported(server: Server, call: Callable,
                                            retried: bool) -> None:
    """A deadlock at any statement of ``call`` is retried (``retried``: run_with_retry,
    each attempt meeting it again) or reported at once, as ConcurrentWriteException with
    nothing written; once no statement is faulted any more, the write succeeds."""
    database = server.database
    before = snapshot()
    for index in range(100):
        deadlock = DeadlockAt(database, index)
        with mock.patch.object(database, "execute_sql", deadlock), \
                mock.patch("registry_model.transactions.time.sleep"):
            try:
                call()
            except errors.ConcurrentWriteException:
                pass
        if not deadlock.fired:
            break  # the write ran without a fault, and committed
        INJECTED["deadlocks"] += deadlock.fired
        assert deadlock.fired == (RETRY_ATTEMPTS if retried else 1), index
        assert not database.in_transaction()
        assert snapshot() == before, "deadlock at statement %d" % index
    assert index > 0, "the write sent no statement in a transaction"
    assert snapshot() != before
