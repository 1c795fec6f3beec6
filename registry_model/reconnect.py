"""Database classes that survive a dropped server connection, for long-running workers.

A worker keeps its connection for weeks; the server drops it on a restart, an
idle timeout or ``pg_terminate_backend``/``KILL``. :func:`connect` builds the
database of a URI as :func:`playhouse.db_url.connect` does, but PostgreSQL and
MySQL/MariaDB (pooled or not) get :class:`ReconnectingMixin`:

- outside a transaction, a statement (or the BEGIN of a new transaction) that
  finds the connection gone opens a new one and runs again, as
  :class:`playhouse.shortcuts.ReconnectMixin` does;
- inside a transaction nothing is retried, since the server has rolled back
  what the transaction wrote: the caller gets
  :class:`registry_model.errors.DatabaseConnectionLostException`, the failed
  ROLLBACK that peewee then sends cannot hide it, and the dead connection is
  dropped once the outermost transaction has ended, so the next call reconnects.

When the server cannot be reached at all (nothing listens, it refuses the
connection or the login, or it hangs up during the handshake), opening a
connection raises :class:`registry_model.errors.DatabaseUnavailableException`
naming the database, host and port (never the password), whether on the first
call or when reconnecting after a lost connection; the driver's error is its
cause. The next call tries again.

Every write of the library runs in a transaction, so what is run again is a
read; a caller's own statement outside a transaction (an autocommit INSERT)
would run twice if the server applied it just before the connection died.
SQLite has no server to lose and keeps peewee's plain classes.
"""
import functools
import logging
import re
from typing import Optional
from urllib.parse import urlparse

from peewee import Database, InterfaceError, MySQLDatabase, OperationalError, PostgresqlDatabase
from playhouse import db_url
from playhouse.pool import PooledMySQLDatabase, PooledPostgresqlDatabase
from playhouse.shortcuts import ReconnectMixin

from registry_model import errors

logger = logging.getLogger(__name__)


# MySQL/MariaDB's ER_BAD_DB_ERROR; psycopg2 gives no SQLSTATE for a failed connection, only
# the server's FATAL message (invalid_catalog_name, 3D000).
_MYSQL_UNKNOWN_DATABASE = 1049
_POSTGRES_MISSING_DATABASE = re.compile(r'FATAL:\s+database ".*" does not exist')


def _names_a_missing_database(exc: BaseException) -> bool:
    """True when a failed connection says the server is up but has no such database."""
    if exc.args and exc.args[0] == _MYSQL_UNKNOWN_DATABASE:
        return True
    return bool(_POSTGRES_MISSING_DATABASE.search(str(exc)))


class ReconnectingMixin(ReconnectMixin):
    """ReconnectMixin that also knows PostgreSQL, and fails clearly inside a transaction.

    peewee 4.5's ReconnectMixin already refuses to reconnect inside a
    transaction, but it lists no PostgreSQL error, re-raises the driver's
    error, and the ROLLBACK that ``atomic()`` sends next fails on the dead
    connection with an InterfaceError that replaces it.
    """

    reconnect_errors = ReconnectMixin.reconnect_errors + (
        (OperationalError, "1927"),  # MariaDB: connection was killed.
        (OperationalError, "server closed the connection unexpectedly"),  # psycopg2.
        (OperationalError, "terminating connection"),  # psycopg2, the server's notice.
        (OperationalError, "ssl connection has been closed unexpectedly"),  # psycopg2, TLS.
        (InterfaceError, "connection already closed"),  # psycopg2, a dead connection reused.
    )

    def connection_lost(self, exc: BaseException) -> bool:
        """True when ``exc`` says the server connection is gone (per ``reconnect_errors``)."""
        message = str(exc).lower()
        return any(type(exc) is exc_class and fragment.lower() in message
                   for exc_class, fragment in self.reconnect_errors)

    def _lost(self, exc: BaseException, what: str) -> errors.DatabaseConnectionLostException:
        logger.warning("database connection lost %s: %s", what, exc)
        return errors.DatabaseConnectionLostException(
            "the database connection was lost %s (%s)" % (what, exc))

    def _unavailable(self, exc: BaseException) -> errors.DatabaseUnavailableException:
        params = getattr(self, "connect_params", {})
        where = "%s:%s" % (params.get("host", "localhost"), params.get("port", "default port"))
        original = getattr(exc, "orig", None) or exc
        if len(original.args) == 2 and isinstance(original.args[0], int):
            reason = "%s (error %d)" % (original.args[1], original.args[0])  # PyMySQL's pair
        else:
            reason = str(original)
        reason = (reason.strip().splitlines() or [type(exc).__name__])[0]
        if _names_a_missing_database(original):
            logger.info("database %s does not exist at %s: %s", self.database, where, reason)
            return errors.DatabaseDoesNotExistException(
                "database %r does not exist on the server at %s (create it, or fix the URI; "
                "%s)" % (self.database, where, reason))
        logger.info("database %s at %s is unavailable: %s", self.database, where, reason)
        return errors.DatabaseUnavailableException(
            "database server unavailable: cannot connect to database %r at %s (%s)"
            % (self.database, where, reason))

    def connect(self, reuse_if_open: bool = False) -> bool:
        """Open a connection; DatabaseUnavailableException when the server cannot be reached."""
        if not self.is_closed():
            return super().connect(reuse_if_open)  # peewee's answer for an open connection
        try:
            return super().connect(reuse_if_open)
        except (OperationalError, InterfaceError) as exc:
            raise self._unavailable(exc) from exc

    def _reconnect(self, func, *args, **kwargs):
        # ReconnectMixin runs ``func`` again on a new connection after a lost one;
        # when that one is lost too, outside a transaction, the server is not serving.
        try:
            return super()._reconnect(func, *args, **kwargs)
        except (OperationalError, InterfaceError) as exc:
            if self.in_transaction() or not self.connection_lost(exc):
                raise
            raise self._unavailable(exc) from exc

    def _drop_dead_connection(self) -> None:
        # Outside a transaction only: close() refuses while one is open. It
        # forgets the connection even when the driver fails to close it.
        try:
            self.close()
        except Exception:
            logger.debug("closing the lost connection failed", exc_info=True)

    def execute_sql(self, sql, params=None):
        # The statement itself first, from this frame (peewee's Database.execute_sql is
        # _execute_cursor): ReconnectMixin's path adds four calls to every statement, about
        # 1 us, a fifteenth of an indexed read on PostgreSQL. Only a lost connection outside
        # a transaction goes that way: it reconnects and runs the statement again.
        try:
            return self._execute_cursor(sql, params)
        except (OperationalError, InterfaceError) as exc:
            if not self.connection_lost(exc):
                raise
            if self.in_transaction():
                raise self._lost(exc, "inside a transaction, which the server rolled "
                                 "back: nothing of it was written") from exc
        return self._reconnect(self._execute_cursor, sql, params)

    def commit(self):
        try:
            return super().commit()
        except (OperationalError, InterfaceError) as exc:
            if self.connection_lost(exc):
                # A server rolls back a transaction whose connection dies before
                # its COMMIT arrives; one lost during the COMMIT cannot be confirmed.
                raise self._lost(exc, "at COMMIT: the transaction was not confirmed "
                                 "committed") from exc
            raise

    def rollback(self):
        try:
            return super().rollback()
        except (OperationalError, InterfaceError) as exc:
            if not self.connection_lost(exc):
                raise
            if self.in_transaction():
                raise self._lost(exc, "inside a transaction, which the server rolled "
                                 "back") from exc
            # The server ended the transaction with the connection: nothing to roll back.
            self._drop_dead_connection()


class ReconnectingPostgresqlDatabase(ReconnectingMixin, PostgresqlDatabase):
    """PostgresqlDatabase with :class:`ReconnectingMixin`."""


class ReconnectingPooledPostgresqlDatabase(ReconnectingMixin, PooledPostgresqlDatabase):
    """PooledPostgresqlDatabase with :class:`ReconnectingMixin`."""


class ReconnectingMySQLDatabase(ReconnectingMixin, MySQLDatabase):
    """MySQLDatabase with :class:`ReconnectingMixin`."""


class ReconnectingPooledMySQLDatabase(ReconnectingMixin, PooledMySQLDatabase):
    """PooledMySQLDatabase with :class:`ReconnectingMixin`."""


RECONNECTING_CLASSES = {
    PostgresqlDatabase: ReconnectingPostgresqlDatabase,
    PooledPostgresqlDatabase: ReconnectingPooledPostgresqlDatabase,
    MySQLDatabase: ReconnectingMySQLDatabase,
    PooledMySQLDatabase: ReconnectingPooledMySQLDatabase,
}


@functools.cache
def _with_mixin(mixin: type, database_class: type) -> type:
    return type(mixin.__name__.replace("Mixin", "") + database_class.__name__,
                (mixin, database_class), {"__module__": __name__})


def connect(uri: str, mixin: Optional[type] = None, **connect_params) -> Database:
    """The database of ``uri``, as :func:`playhouse.db_url.connect`, reconnecting where it can.

    Server backends get the matching class of :data:`RECONNECTING_CLASSES`;
    the others (SQLite) the class playhouse registers for the scheme. A
    ``mixin`` goes in front of that class (the primary of read replicas gets
    :class:`registry_model.replicas.ReplicaRoutingMixin`). Raises
    RuntimeError for an unknown scheme and ValueError for a URI without a
    database name, as playhouse does. Nothing connects yet.
    """
    parsed = urlparse(uri)
    database_class = db_url.schemes.get(parsed.scheme)
    if database_class is None:
        raise RuntimeError('Unrecognized or unsupported scheme: "%s".' % parsed.scheme)
    connect_kwargs = db_url.parseresult_to_dict(parsed)
    connect_kwargs.update(connect_params)
    if not connect_kwargs.get("database"):
        raise ValueError('"%s" has no database name' % uri)
    database_class = RECONNECTING_CLASSES.get(database_class, database_class)
    if mixin is not None:
        database_class = _with_mixin(mixin, database_class)
    return database_class(**connect_kwargs)
