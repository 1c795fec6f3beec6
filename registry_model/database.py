"""Peewee models of the pre-OCI schema, the database proxy and transactions.

Every model binds to :data:`db`, a :class:`peewee.DatabaseProxy`;
:func:`configure` points it at SQLite, PostgreSQL or MySQL/MariaDB from a URI::

    from registry_model.database import configure
    configure("sqlite:///registry.db")

Writes go through :func:`transaction` (one transaction, or a savepoint inside
the caller's) or :func:`run_with_retry` (the same, retried when a concurrent
writer wins a race). The schema itself is created by the migrations shipped in
``registry_model.migrations``, not by ``create_tables``.
"""
import enum
import logging
import random
import time
import uuid
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence, TypeVar
from urllib.parse import unquote, urlparse, urlunparse

from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    Database,
    DatabaseProxy,
    DateTimeField,
    Field,
    ForeignKeyField,
    IntegerField,
    IntegrityError,
    Model,
    MySQLDatabase,
    OperationalError,
    PostgresqlDatabase,
    SqliteDatabase,
    TextField,
)
from playhouse.fields import IntEnumField

from registry_model import errors, reconnect
from registry_model import replicas as replicas_module

logger = logging.getLogger(__name__)

T = TypeVar("T")

db = DatabaseProxy()

DEFAULT_URI = "sqlite:///registry.db"
DEFAULT_TAG_EXPIRATION_S = 14 * 24 * 60 * 60
MAX_ANCESTORS_LENGTH = 2048
SQLITE_BUSY_TIMEOUT_MS = 30_000

# Column types that differ per backend. MySQL's TEXT stops at 64 KiB, too small
# for a manifest, and an index over utf8mb4 VARCHAR(2048) is longer than InnoDB
# allows, while the ancestors path only ever holds digits and slashes.
_FIELD_TYPES = {
    "sqlite": {"LONGTEXT": "TEXT", "ANCESTORS": "VARCHAR(%d)" % MAX_ANCESTORS_LENGTH},
    "postgresql": {"LONGTEXT": "TEXT", "ANCESTORS": "VARCHAR(%d)" % MAX_ANCESTORS_LENGTH},
    "mysql": {
        "LONGTEXT": "LONGTEXT",
        "ANCESTORS": "VARCHAR(%d) CHARACTER SET ascii COLLATE ascii_bin" % MAX_ANCESTORS_LENGTH,
    },
}

_SCHEMES = {
    "sqlite": "sqlite", "sqlite+pool": "sqlite",
    "postgres": "postgresql", "postgresql": "postgresql",
    "postgres+pool": "postgresql", "postgresql+pool": "postgresql",
    "mysql": "mysql", "mysql+pool": "mysql",
}


class RepositoryState(enum.IntEnum):
    """Lifecycle state of a repository, stored as an integer in ``Repository.state``."""

    NORMAL = 0
    READ_ONLY = 1
    MIRROR = 2
    MARKED_FOR_DELETION = 3


class LongTextField(TextField):
    """Text without the 64 KiB limit MySQL puts on TEXT (LONGTEXT there, TEXT elsewhere)."""

    field_type = "LONGTEXT"


class AncestorsField(Field):
    """The ``/root/.../parent/`` id path of a legacy image, indexable on every backend."""

    field_type = "ANCESTORS"


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


class RepositoryKind(BaseModel):
    name = CharField(unique=True)


class Visibility(BaseModel):
    name = CharField(unique=True)


class ImageStorageLocation(BaseModel):
    name = CharField(unique=True)


class MediaType(BaseModel):
    name = CharField(unique=True)


class LabelSourceType(BaseModel):
    name = CharField(unique=True)
    mutable = BooleanField(default=False)


class Namespace(BaseModel):
    name = CharField(unique=True)
    enabled = BooleanField(default=True)
    removed_tag_expiration_s = BigIntegerField(default=DEFAULT_TAG_EXPIRATION_S)


class Repository(BaseModel):
    namespace = ForeignKeyField(Namespace)
    name = CharField()
    kind = ForeignKeyField(RepositoryKind)
    visibility = ForeignKeyField(Visibility)
    state = IntEnumField(RepositoryState, default=RepositoryState.NORMAL)
    description = LongTextField(null=True)
    trust_enabled = BooleanField(default=False)

    class Meta:
        indexes = ((("namespace", "name"), True),)


class ImageStorage(BaseModel):
    uuid = CharField(unique=True, default=lambda: str(uuid.uuid4()))
    content_checksum = CharField(null=True, index=True)
    image_size = BigIntegerField(null=True)
    uncompressed_size = BigIntegerField(null=True)
    uploading = BooleanField(default=True)
    cas_path = BooleanField(default=True)


class ImageStoragePlacement(BaseModel):
    storage = ForeignKeyField(ImageStorage)
    location = ForeignKeyField(ImageStorageLocation)

    class Meta:
        indexes = ((("storage", "location"), True),)


class Image(BaseModel):
    repository = ForeignKeyField(Repository)
    docker_image_id = CharField(index=True)
    ancestors = AncestorsField(index=True, default="/")
    storage = ForeignKeyField(ImageStorage)
    created = DateTimeField(null=True)
    comment = LongTextField(null=True)
    command = LongTextField(null=True)
    aggregate_size = BigIntegerField(null=True)
    v1_json_metadata = LongTextField(null=True)
    v1_checksum = CharField(null=True)

    class Meta:
        indexes = (
            (("repository", "docker_image_id"), True),
            (("storage", "repository"), False),  # migration 0004
        )

    def ancestor_id_list(self) -> list:
        """Ancestor ids, root first, parsed from ``ancestors``."""
        return parse_ancestors(self.ancestors)


class RepositoryTag(BaseModel):
    # No index of its own: (repository, name) serves the foreign key, and a bare
    # repository index lures PostgreSQL into scanning every row of a big
    # repository for one tag name (migration 0004 drops it).
    repository = ForeignKeyField(Repository, index=False)
    name = CharField()
    image = ForeignKeyField(Image)
    lifetime_start_ts = BigIntegerField()
    lifetime_end_ts = BigIntegerField(null=True)
    hidden = BooleanField(default=False)
    reversion = BooleanField(default=False)

    class Meta:
        indexes = (
            (("repository", "name"), False),
            (("repository", "lifetime_end_ts"), False),
            (("repository", "lifetime_start_ts", "id"), False),  # migration 0004
        )


class TagManifest(BaseModel):
    tag = ForeignKeyField(RepositoryTag, unique=True)
    digest = CharField(index=True)
    json_data = LongTextField()
    # Filled on every write, so a read never parses json_data (migration 0003).
    media_type = ForeignKeyField(MediaType, null=True)


class Label(BaseModel):
    uuid = CharField(unique=True, default=lambda: str(uuid.uuid4()))
    key = CharField(index=True)
    value = LongTextField()
    media_type = ForeignKeyField(MediaType)
    source_type = ForeignKeyField(LabelSourceType)


class TagManifestLabel(BaseModel):
    repository = ForeignKeyField(Repository)
    annotated = ForeignKeyField(TagManifest)
    label = ForeignKeyField(Label, unique=True)

    class Meta:
        indexes = ((("annotated", "label"), True),)


class BlobUpload(BaseModel):
    """A resumable upload in progress: byte count, chunks and the running sha256 state."""

    repository = ForeignKeyField(Repository)
    uuid = CharField(unique=True)
    byte_count = BigIntegerField(default=0)
    uncompressed_byte_count = BigIntegerField(null=True)
    chunk_count = IntegerField(default=0)
    sha_state = LongTextField(null=True)
    location = ForeignKeyField(ImageStorageLocation)
    storage_metadata = LongTextField(null=True)
    created = BigIntegerField(index=True)


class UploadedBlob(BaseModel):
    """A temporary link of a blob to a repository, protecting it from collection until expiry."""

    repository = ForeignKeyField(Repository)
    blob = ForeignKeyField(ImageStorage)
    uploaded_at = BigIntegerField()
    expires_at = BigIntegerField(index=True)

    class Meta:
        indexes = ((("repository", "blob"), False),)


LOOKUP_MODELS = (RepositoryKind, Visibility, ImageStorageLocation, MediaType, LabelSourceType)
ALL_MODELS = LOOKUP_MODELS + (Namespace, Repository, ImageStorage, ImageStoragePlacement,
                              Image, RepositoryTag, TagManifest, Label, TagManifestLabel,
                              BlobUpload, UploadedBlob)

# The alive-tag rule lives outside the models because its form differs per
# backend; migration 0001 creates it and the schema test checks it by name.
ALIVE_TAG_INDEX = "repository_tag_alive_name"
ALIVE_TAG_MARKER_COLUMN = "alive_marker"


def parse_ancestors(ancestors: str) -> list:
    """Turn an ancestors path (``/7/9/``) into its ids, root first (``[7, 9]``)."""
    return [int(part) for part in ancestors.split("/") if part]


def parent_id(ancestors: str) -> Optional[int]:
    """The parent's id in an ancestors path (``/7/9/`` gives 9), None for a base image (``/``).

    Reads only the end of the path, where a full parse of a 100-deep chain's
    path for each of its images would cost more than the query that loaded them.
    """
    return parent_ids((ancestors,))[0]


def parent_ids(ancestors_paths: Iterable[str]) -> list:
    """:func:`parent_id` of each path, in one call (a listing of thousands of images)."""
    # "/7/9/".rsplit("/", 2) is ["/7", "9", ""]: one call, faster than rindex and a slice.
    return [int(ancestors.rsplit("/", 2)[1]) if len(ancestors) > 1 else None
            for ancestors in ancestors_paths]


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
    options: dict = {"field_types": _FIELD_TYPES[backend]}
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
    WAL and a busy timeout; MySQL talks utf8mb4. PostgreSQL and MySQL reconnect
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


@contextmanager
def _atomic() -> Iterator[None]:
    # On SQLite the outermost transaction begins IMMEDIATE, so two writers queue
    # on the busy timeout instead of failing when a read lock turns into a write.
    if db.in_transaction() or backend_name() != "sqlite":
        with db.atomic():
            yield
    else:
        with db.atomic("IMMEDIATE"):
            yield


@contextmanager
def transaction() -> Iterator[None]:
    """One write: a new transaction, or a savepoint when the caller already has one.

    A new transaction that the database ends as a deadlock victim, by a
    serialization failure or a lock timeout (SQLite's busy timeout) raises
    ConcurrentWriteException: nothing of it was written and the caller may try
    again (:func:`run_with_retry` does). Inside the caller's transaction the
    driver's error goes up unchanged, for the caller's own retry to recognise.
    """
    if db.in_transaction():
        with _atomic():
            yield
        return
    try:
        with _atomic():
            yield
    except OperationalError as exc:
        if not is_transient_conflict(exc):
            raise
        logger.info("transaction rolled back by a concurrent writer: %s", exc)
        raise errors.ConcurrentWriteException(
            "a concurrent writer won a race (deadlock or lock timeout); nothing was "
            "written (%s)" % exc) from exc


def locked(query):
    """The query as SELECT ... FOR UPDATE where the backend has it (SQLite locks on write)."""
    return query.for_update() if db.obj.for_update else query


_RETRYABLE_PG_CODES = {"40001", "40P01"}  # serialization failure, deadlock
_RETRYABLE_MYSQL_CODES = {1205, 1213}  # lock wait timeout, deadlock
_MYSQL_NO_SUCH_SAVEPOINT = 1305
# SQLITE_BUSY and its extended codes (BUSY_SNAPSHOT, ...): a deferred transaction
# that read before another connection wrote cannot write any more (deadlock or
# stale snapshot), or the busy timeout ran out.
_SQLITE_BUSY = 5


def is_transient_conflict(exc: BaseException) -> bool:
    """True for a deadlock, lock timeout or serialization failure worth retrying.

    MySQL ends the whole transaction on a deadlock, so rolling back to a
    savepoint afterwards fails: that failure counts as the deadlock it follows.
    """
    # peewee 4 keeps the driver's exception in ``orig`` (older ones in args[0]).
    original = getattr(exc, "orig", None)
    if original is None:
        original = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
    if getattr(original, "pgcode", None) in _RETRYABLE_PG_CODES:
        return True
    if (getattr(original, "sqlite_errorcode", None) or 0) & 0xFF == _SQLITE_BUSY:
        return True
    code = original.args[0] if original.args else None
    if code == _MYSQL_NO_SUCH_SAVEPOINT and exc.__context__ is not None:
        return is_transient_conflict(exc.__context__)
    return code in _RETRYABLE_MYSQL_CODES


class WriteConflict(Exception):
    """Raised inside a write whose compare-and-set saw a concurrent change: retried."""


def run_with_retry(write: Callable[[], T], attempts: int = 8,
                   retry_integrity_errors: bool = True,
                   conflict: type = errors.TagConflictException) -> T:
    """Run ``write`` in one transaction, retried when a concurrent writer won a race.

    A lost race shows up as an IntegrityError on a uniqueness rule (when
    ``retry_integrity_errors``), a WriteConflict raised by ``write`` itself, or
    a deadlock/serialization failure. Each
    retry starts a fresh transaction after a short random pause. Inside the
    caller's transaction no retry is possible (the outer transaction is what
    failed), so the error goes up as ``conflict`` (TagConflictException unless
    told otherwise, a ConcurrentWriteException); so does the last
    failure after ``attempts`` tries. Nothing of a failed attempt is kept.
    """
    nested = db.in_transaction()
    for attempt in range(1, attempts + 1):
        try:
            with _atomic():
                return write()
        except IntegrityError as exc:
            if not retry_integrity_errors:
                raise
            failure: Exception = exc
        except WriteConflict as exc:
            failure = exc
        except OperationalError as exc:
            if not is_transient_conflict(exc):
                raise
            failure = exc
        if nested:
            break
        logger.info("write lost a race (attempt %d of %d): %s", attempt, attempts, failure)
        time.sleep(random.uniform(0, 0.005 * attempt))
    raise conflict(
        "a concurrent writer kept winning; nothing was written (%s)" % failure) from failure
