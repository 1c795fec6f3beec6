"""The database every model binds to, and how a URI names one.

Every model binds to :data:`db`, a :class:`peewee.DatabaseProxy`;
:func:`configure` points it at SQLite, PostgreSQL or MySQL/MariaDB from a URI::

    from registry_model.connection import configure
    configure("sqlite:///registry.db")

Column types that differ per backend are declared by the tables that use them
(:func:`register_field_type`), before any database is configured.
"""
import logging
from typing import Any, Optional, Sequence
from urllib.parse import unquote, urlparse, urlunparse

from peewee import Database, DatabaseProxy, MySQLDatabase, PostgresqlDatabase, SqliteDatabase

from registry_model import errors, reconnect
from registry_model import replicas as replicas_module

logger = logging.getLogger(__name__)

db = DatabaseProxy()

DEFAULT_URI = "sqlite:///registry.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# The MySQL protocol's CLIENT_FOUND_ROWS capability (pymysql.constants.CLIENT.FOUND_ROWS,
# MySQLdb's CLIENT.FOUND_ROWS): an UPDATE then reports the rows it matched, as PostgreSQL
# and SQLite do, not only those whose values it changed. The models read an UPDATE's count
# as "the row exists" (setting a namespace's window or a repository's state to the value it
# has must not read as a missing row); no statement of theirs is an INSERT ... ON DUPLICATE
# KEY UPDATE, the other statement whose count the flag changes.
MYSQL_CLIENT_FOUND_ROWS = 2

# field type name -> {backend or "default": column type}. MySQL's TEXT and BLOB
# stop at 64 KiB, too small for a manifest.
_FIELD_TYPES: dict = {"LONGTEXT": {"default": "TEXT", "mysql": "LONGTEXT"},
                      "LONGBLOB": {"default": "BLOB", "postgresql": "BYTEA",
                                   "mysql": "LONGBLOB"}}


def register_field_type(name: str, default: str, **per_backend: str) -> None:
    """Declare the column type of peewee field type ``name``: ``default``, or per backend.

    Tables call this at import, so every database configured later knows the type::

        register_field_type("ANCESTORS", "VARCHAR(2048)", mysql="VARCHAR(2048) ...")
    """
    _FIELD_TYPES[name] = dict(per_backend, default=default)


_SCHEMES = {
    "sqlite": "sqlite", "sqlite+pool": "sqlite",
    "postgres": "postgresql", "postgresql": "postgresql",
    "postgres+pool": "postgresql", "postgresql+pool": "postgresql",
    "mysql": "mysql", "mysql+pool": "mysql",
}


def backend_name(database: Database | None = None) -> str:
    """``sqlite``, ``postgresql`` or ``mysql`` for the bound (or given) database."""
    database = database if database is not None else db.obj
    if isinstance(database, SqliteDatabase):
        return "sqlite"
    if isinstance(database, PostgresqlDatabase):
        return "postgresql"
    if isinstance(database, MySQLDatabase):
        return "mysql"
    raise errors.DatabaseConfigurationException("unsupported database %r" % (database,))


def _backend_options(backend: str) -> dict:
    options: dict = {"field_types": {name: types.get(backend, types["default"])
                                     for name, types in _FIELD_TYPES.items()}}
    if backend == "sqlite":
        options["pragmas"] = {"foreign_keys": 1, "journal_mode": "wal",
                              "busy_timeout": SQLITE_BUSY_TIMEOUT_MS}
    elif backend == "mysql":
        options["charset"] = "utf8mb4"
    return options


POOL_OPTIONS = ("max_connections", "stale_timeout")


def configure(uri: str, replicas: Sequence[str] = (),
              replica_cooldown_s: float = replicas_module.DEFAULT_COOLDOWN_S,
              **connect_options: Any) -> Database:
    """Bind :data:`db` to the database named by ``uri`` and return it.

    ``sqlite:///path.db``, ``postgresql://user@host:port/name`` and
    ``mysql://user:password@host:port/name`` are understood (plus the
    ``+pool`` variants of playhouse); query-string parameters and
    ``connect_options`` go to the driver. SQLite runs with foreign keys on,
    WAL and a busy timeout; MySQL talks utf8mb4 and counts the rows an UPDATE matched
    (``CLIENT_FOUND_ROWS``, added to any ``client_flag`` given). PostgreSQL and MySQL reconnect
    after the server drops the connection, except inside a transaction, which
    fails with DatabaseConnectionLostException (see :mod:`registry_model.reconnect`).

    ``max_connections`` or ``stale_timeout`` (or a ``+pool`` scheme) give a
    connection pool of playhouse (``timeout`` is then how long a thread waits
    for a free connection). ``replicas`` are URIs of read replicas of the same
    backend, built with the same options: stale-tolerant reads go to them and a
    failed one sits out ``replica_cooldown_s`` (see :mod:`registry_model.replicas`).
    Nothing connects yet: the first query does, and raises
    DatabaseUnavailableException when the server cannot be reached. Raises
    DatabaseConfigurationException for a URI that cannot name a database.
    """
    if isinstance(replicas, str) or not all(isinstance(item, str) for item in replicas):
        raise errors.DatabaseConfigurationException("replicas must be a list of URIs")
    if not isinstance(replica_cooldown_s, (int, float)) or replica_cooldown_s < 0:
        raise errors.DatabaseConfigurationException(
            "replica_cooldown_s must be a number of seconds >= 0")
    backend, options = _options_for(uri, connect_options)
    mixin = replicas_module.ReplicaRoutingMixin if replicas else None
    database = _connect(uri, options, mixin)
    if replicas:
        replica_databases = []
        for replica_uri in replicas:
            replica_backend, _ = _options_for(replica_uri, {})
            if replica_backend != backend:
                raise errors.DatabaseConfigurationException(
                    "replica %r is %s but the primary is %s"
                    % (_redacted(replica_uri), replica_backend, backend))
            replica_databases.append(
                _connect(replica_uri, replicas_module.replica_options(replica_uri, options)))
        replicas_module.attach(database, replica_databases,
                               [_redacted(item) for item in replicas], replica_cooldown_s)
    db.initialize(database)
    logger.debug("bound registry_model to %s database %s (%d replicas)", backend,
                 database.database, len(replicas))
    return database


def _options_for(uri: str, connect_options: dict) -> tuple:
    """``(backend, options)`` of a URI; DatabaseConfigurationException when it cannot work."""
    if not isinstance(uri, str):
        raise errors.DatabaseConfigurationException("database URI must be a string")
    try:
        scheme = urlparse(uri).scheme
    except ValueError as exc:  # e.g. an unclosed [IPv6] host
        raise errors.DatabaseConfigurationException(
            "malformed database URI %r: %s" % (uri, exc)) from exc
    backend = _SCHEMES.get(scheme)
    if backend is None:
        raise errors.DatabaseConfigurationException(
            "unsupported database URI scheme %r in %r (use sqlite:///, postgresql:// "
            "or mysql://)" % (scheme, uri))
    if backend == "sqlite" and not uri.startswith(scheme + "://"):
        # playhouse drops the first character of the path of "sqlite:name.db".
        raise errors.DatabaseConfigurationException(
            "SQLite URIs take the form sqlite:///path/to/file.db, not %r" % uri)
    options = _backend_options(backend)
    options.update(connect_options)
    if backend == "mysql":
        options["client_flag"] = int(options.get("client_flag", 0)) | MYSQL_CLIENT_FOUND_ROWS
    return backend, options


def _connect(uri: str, options: dict, mixin: Optional[type] = None) -> Database:
    """The database object of ``uri``, pooled when pool options are given."""
    options = dict(options)
    scheme = urlparse(uri).scheme
    if any(name in options for name in POOL_OPTIONS) and not scheme.endswith("+pool"):
        # Not through urlunparse, which turns sqlite:////abs/path into sqlite://abs/path.
        uri = scheme + "+pool" + uri[len(scheme):]
    parsed = urlparse(uri)
    if parsed.scheme == "sqlite+pool":
        # A pool hands a connection to one thread at a time, but not always the same one.
        options.setdefault("check_same_thread", False)
    if _SCHEMES[parsed.scheme] == "mysql" and parsed.password is not None:
        # playhouse hands PyMySQL the password as "passwd", which it deprecates.
        options.setdefault("password", unquote(parsed.password))
        user = parsed.netloc.rsplit("@", 1)[0].split(":", 1)[0]
        host = parsed.netloc.rsplit("@", 1)[1]
        uri = urlunparse(parsed._replace(netloc="%s@%s" % (user, host)))
    try:
        return reconnect.connect(uri, mixin=mixin, **options)
    except (RuntimeError, ValueError) as exc:
        raise errors.DatabaseConfigurationException(str(exc)) from exc


def _redacted(uri: str) -> str:
    """The URI without its password, for logs and messages."""
    parsed = urlparse(uri)
    if parsed.password is None:
        return uri
    return urlunparse(parsed._replace(netloc=parsed.netloc.replace(
        ":" + parsed.password + "@", ":***@", 1)))
