"""registry_model.database: configure(), SQLite settings, transactions, retries and schema rules.

Most tests run on the backend named by TEST_DATABASE_URI through ``initialized_db``;
those that need real commits (a top-level transaction, retries across
transactions) use a scratch database of the same backend.
"""
import csv
import hashlib
import json
import pathlib
import threading
import uuid

import peewee
import pymysql.constants.CLIENT
import pytest
from playhouse.pool import PooledPostgresqlDatabase

from registry_model import errors
from registry_model.database import (
    ALL_MODELS,
    SQLITE_BUSY_TIMEOUT_MS,
    Namespace,
    RepositoryTag,
    WriteConflict,
    backend_name,
    configure,
    db,
    is_transient_conflict,
    parent_id,
    parent_ids,
    parse_ancestors,
    run_with_retry,
    transaction,
)
from registry_model.migration import upgrade
from registry_model.pre_oci import manifest as manifest_model
from registry_model.testing.databases import scratch_database as new_scratch_database
from registry_model.testing.factories import (
    ImageFactory,
    NamespaceFactory,
    RepositoryFactory,
    RepositoryTagFactory,
)

DATA = pathlib.Path(__file__).resolve().parent / "data"
UNICODE_MANIFEST = "quay-manifest_unencoded_unicode.json"
MYSQL_TEXT_LIMIT = 65535


def _row_counts() -> dict:
    return {model.__name__: model.select().count() for model in ALL_MODELS}


@pytest.fixture(autouse=True)
def keep_binding():
    """configure() rebinds the process-wide proxy: put the previous database back."""
    previous = db.obj
    yield
    db.initialize(previous)


@pytest.fixture(scope="module")
def scratch_database():
    """A migrated database of the test backend whose commits are real, dropped at the end."""
    previous = db.obj
    with new_scratch_database() as uri:
        database = configure(uri)
        upgrade(database)
        db.initialize(previous)
        try:
            yield database
        finally:
            database.close()


@pytest.fixture
def committed_db(scratch_database):
    """The scratch database bound to ``db``, outside any transaction."""
    db.initialize(scratch_database)
    return scratch_database


def _in_another_connection(read):
    """Run ``read`` on a second connection (a new thread) and return its result."""
    result: list = []

    def run() -> None:
        try:
            result.append(read())
        finally:
            db.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    return result[0]


# configure()

@pytest.mark.parametrize("uri, expected", [
    ("postgresql://postgres@127.0.0.1:5432/registry", peewee.PostgresqlDatabase),
    ("postgres://postgres@127.0.0.1:5432/registry", peewee.PostgresqlDatabase),
    ("postgresql+pool://postgres@127.0.0.1:5432/registry", PooledPostgresqlDatabase),
    ("mysql://root@127.0.0.1:3306/registry", peewee.MySQLDatabase),
])
def test_configure_returns_the_server_backend_without_connecting(uri, expected):
    database = configure(uri)
    assert isinstance(database, expected)
    assert db.obj is database
    assert database.database == "registry"
    assert database.is_closed()


def test_configure_sqlite_binds_the_file_of_the_uri(tmp_path):
    path = tmp_path / "registry.db"
    database = configure("sqlite:///%s" % path)
    assert isinstance(database, peewee.SqliteDatabase)
    assert (db.obj, database.database, backend_name()) == (database, str(path), "sqlite")


def test_configure_mysql_talks_utf8mb4():
    database = configure("mysql://root@127.0.0.1:3306/registry")
    assert backend_name(database) == "mysql"
    assert database.connect_params["charset"] == "utf8mb4"


def test_configure_mysql_counts_the_rows_an_update_matches():
    assert configure("mysql://root@127.0.0.1:3306/registry").connect_params["client_flag"] \
        == pymysql.constants.CLIENT.FOUND_ROWS
    given = configure("mysql://root@127.0.0.1:3306/registry",
                      client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS)
    assert given.connect_params["client_flag"] == \
        pymysql.constants.CLIENT.FOUND_ROWS | pymysql.constants.CLIENT.MULTI_STATEMENTS


@pytest.mark.parametrize("uri", [
    pytest.param("oracle://scott@db.example/registry", id="unknown-scheme"),
    pytest.param("http://db.example/registry", id="http-scheme"),
    pytest.param("", id="empty"),
    pytest.param("registry.db", id="no-scheme"),
    pytest.param("postgresql://postgres@127.0.0.1:5432/", id="postgresql-no-database"),
    pytest.param("postgresql://postgres@127.0.0.1:5432", id="postgresql-no-path"),
    pytest.param("mysql://root@127.0.0.1:3306/", id="mysql-no-database"),
    pytest.param(None, id="None"),
    pytest.param(123, id="int"),
    pytest.param(b"sqlite:///registry.db", id="bytes"),
    pytest.param(pathlib.Path("registry.db"), id="path-object"),
])
def test_configure_rejects_uris_that_name_no_database(uri):
    before = db.obj
    with pytest.raises(errors.DatabaseConfigurationException):
        configure(uri)
    assert db.obj is before


def test_sqlite_runs_with_foreign_keys_wal_and_a_busy_timeout(tmp_path):
    database = configure("sqlite:///%s" % (tmp_path / "pragmas.db"))
    upgrade(database)
    try:
        assert database.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
        assert database.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert database.execute_sql("PRAGMA busy_timeout").fetchone()[0] == SQLITE_BUSY_TIMEOUT_MS
        # Foreign keys are checked, not just declared.
        with pytest.raises(peewee.IntegrityError):
            RepositoryTag.insert(repository=4242, name="latest", image=4242,
                                 lifetime_start_ts=1).execute()
    finally:
        database.close()


# transaction()

def test_transaction_rolls_back_every_write_of_a_failed_block(initialized_db):
    before = _row_counts()
    with pytest.raises(RuntimeError):
        with transaction():
            repository = RepositoryFactory()
            ImageFactory(repository=repository)
            RepositoryTagFactory(repository=repository)
            raise RuntimeError("boom")
    assert _row_counts() == before


def test_transaction_commits_a_top_level_block_for_other_connections(committed_db):
    kept, dropped = "kept" + uuid.uuid4().hex[:8], "dropped" + uuid.uuid4().hex[:8]
    with transaction():
        Namespace.create(name=kept)
    with pytest.raises(RuntimeError):
        with transaction():
            Namespace.create(name=dropped)
            RepositoryFactory(namespace=Namespace.get(Namespace.name == dropped))
            raise RuntimeError("boom")
    names = _in_another_connection(
        lambda: sorted(n.name for n in Namespace.select().where(Namespace.name.in_([kept,
                                                                                  dropped]))))
    assert names == [kept]


def test_a_failed_inner_transaction_keeps_the_outer_writes(committed_db):
    outer, inner = "outer" + uuid.uuid4().hex[:8], "inner" + uuid.uuid4().hex[:8]
    with transaction():
        Namespace.create(name=outer)
        with pytest.raises(RuntimeError):
            with transaction():
                Namespace.create(name=inner)
                raise RuntimeError("boom")
    names = _in_another_connection(
        lambda: sorted(n.name for n in Namespace.select().where(Namespace.name.in_([outer,
                                                                                  inner]))))
    assert names == [outer]


# run_with_retry()

def _namespaces_named(prefix: str) -> list:
    return sorted(n.name for n in Namespace.select().where(Namespace.name.startswith(prefix)))


def test_run_with_retry_retries_a_write_conflict_keeping_only_the_winning_attempt(committed_db):
    prefix = "retry" + uuid.uuid4().hex[:8]
    calls: list = []

    def write() -> str:
        calls.append(len(calls) + 1)
        Namespace.create(name="%s-%d" % (prefix, len(calls)))
        if len(calls) < 3:
            raise WriteConflict("a concurrent writer won")
        return "written"

    assert run_with_retry(write) == "written"
    assert calls == [1, 2, 3]
    assert _namespaces_named(prefix) == ["%s-3" % prefix]


def test_run_with_retry_gives_tag_conflict_after_the_attempts(committed_db):
    prefix = "lost" + uuid.uuid4().hex[:8]
    calls: list = []

    def write() -> None:
        calls.append(1)
        Namespace.create(name="%s-%d" % (prefix, len(calls)))
        raise WriteConflict("a concurrent writer won")

    with pytest.raises(errors.TagConflictException) as raised:
        run_with_retry(write, attempts=4)
    assert len(calls) == 4
    assert isinstance(raised.value.__cause__, WriteConflict)
    assert _namespaces_named(prefix) == []


def test_run_with_retry_retries_integrity_errors_unless_told_not_to(committed_db):
    taken = "taken" + uuid.uuid4().hex[:8]
    Namespace.create(name=taken)
    calls: list = []

    def write() -> None:
        calls.append(1)
        Namespace.create(name=taken)

    with pytest.raises(errors.TagConflictException):
        run_with_retry(write, attempts=2)
    assert len(calls) == 2
    calls.clear()
    with pytest.raises(peewee.IntegrityError):
        run_with_retry(write, attempts=2, retry_integrity_errors=False)
    assert len(calls) == 1


def test_run_with_retry_lets_other_errors_through_at_once(committed_db):
    calls: list = []

    def write() -> None:
        calls.append(1)
        raise ValueError("not a race")

    with pytest.raises(ValueError):
        run_with_retry(write)
    assert calls == [1]


def test_run_with_retry_inside_the_callers_transaction_fails_at_once(initialized_db):
    before = _row_counts()
    calls: list = []

    def write() -> None:
        calls.append(1)
        NamespaceFactory()
        raise WriteConflict("a concurrent writer won")

    with pytest.raises(errors.TagConflictException):
        run_with_retry(write)
    # The outer transaction failed the race; retrying inside it cannot help.
    assert calls == [1]
    assert _row_counts() == before
    NamespaceFactory()  # the caller's transaction is still usable
    assert _row_counts()["Namespace"] == before["Namespace"] + 1


def _raise_lock_conflict(database, tmp_path) -> Exception:
    """A real lock conflict of the bound backend, as its driver reports it."""
    backend = backend_name(database)
    try:
        if backend == "sqlite":
            path = tmp_path / "busy.db"
            holder = peewee.SqliteDatabase(str(path), pragmas={"journal_mode": "wal"})
            waiter = peewee.SqliteDatabase(str(path), pragmas={"busy_timeout": 0})
            holder.execute_sql("CREATE TABLE t (x INTEGER)")
            holder.execute_sql("BEGIN IMMEDIATE")
            try:
                waiter.execute_sql("BEGIN IMMEDIATE")
            finally:
                holder.rollback()
                holder.close()
                waiter.close()
        elif backend == "postgresql":
            with database.atomic():
                database.execute_sql("DO $$ BEGIN RAISE EXCEPTION 'could not serialize' "
                                     "USING ERRCODE = '40001'; END $$")
        else:
            with database.atomic():
                database.execute_sql("SIGNAL SQLSTATE '40001' SET MYSQL_ERRNO = 1213, "
                                     "MESSAGE_TEXT = 'Deadlock found'")
    except peewee.DatabaseError as exc:
        return exc
    raise AssertionError("no lock conflict was raised on %s" % backend)


def test_lock_conflicts_of_every_backend_count_as_transient(initialized_db, tmp_path):
    conflict = _raise_lock_conflict(initialized_db, tmp_path)
    assert is_transient_conflict(conflict), repr(conflict)


def test_other_database_errors_are_not_transient(initialized_db):
    with pytest.raises(peewee.DatabaseError) as raised:
        with initialized_db.atomic():
            initialized_db.execute_sql("SELECT * FROM no_such_table")
    assert not is_transient_conflict(raised.value)


# The alive-tag rule

def _insert_tag(repository, image, name: str, start: int, end=None) -> int:
    return RepositoryTag.insert(repository=repository.id, name=name, image=image.id,
                                lifetime_start_ts=start, lifetime_end_ts=end).execute()


def test_the_database_rejects_a_second_row_without_an_end(initialized_db):
    image = ImageFactory()
    repository = image.repository
    _insert_tag(repository, image, "latest", 100)
    with pytest.raises(peewee.IntegrityError):
        with db.atomic():
            _insert_tag(repository, image, "latest", 200)
    rows = RepositoryTag.select().where(RepositoryTag.repository == repository.id)
    assert [(row.name, row.lifetime_start_ts) for row in rows] == [("latest", 100)]


def test_the_database_allows_ended_rows_and_one_open_row_per_name(initialized_db):
    image = ImageFactory()
    repository = image.repository
    other = ImageFactory()
    _insert_tag(repository, image, "latest", 100, 200)
    _insert_tag(repository, image, "latest", 200, 300)
    first_open = _insert_tag(repository, image, "latest", 300)
    _insert_tag(repository, image, "stable", 300)
    _insert_tag(other.repository, other, "latest", 300)
    # Ending the open row frees the name for a new one (MySQL recomputes its marker).
    RepositoryTag.update(lifetime_end_ts=400).where(RepositoryTag.id == first_open).execute()
    _insert_tag(repository, image, "latest", 400)
    open_rows = RepositoryTag.select().where(RepositoryTag.repository == repository.id,
                                             RepositoryTag.lifetime_end_ts.is_null())
    assert sorted((row.name, row.lifetime_start_ts) for row in open_rows) == [
        ("latest", 400), ("stable", 300)]


# Manifest bytes round-trip

def _source_row(name: str) -> dict:
    with open(DATA / "SOURCES.tsv", encoding="utf-8", newline="") as sources:
        rows = {row["path"]: row for row in csv.DictReader(sources, delimiter="\t")}
    return rows[name]


def _round_trip(registry_model, manifest_bytes: bytes, digest: str):
    tag = RepositoryTagFactory(name="latest")
    manifest_model.store_tag_manifest(tag, digest, manifest_bytes)
    ref = registry_model.lookup_repository(tag.repository.namespace.name, tag.repository.name)
    found = registry_model.find_matching_tag(ref, ["latest"])
    by_tag = registry_model.get_manifest_for_tag(found)
    by_digest = registry_model.lookup_manifest_by_digest(ref, digest)
    return by_tag, by_digest


def test_a_manifest_with_raw_utf8_reads_back_byte_for_byte(registry_model):
    manifest_bytes = (DATA / UNICODE_MANIFEST).read_bytes()
    assert "Sômé guy".encode() in manifest_bytes  # raw UTF-8, not \u escapes
    digest = _source_row(UNICODE_MANIFEST)["expected_digest"]
    by_tag, by_digest = _round_trip(registry_model, manifest_bytes, digest)
    assert by_tag.manifest_bytes == manifest_bytes
    assert hashlib.sha256(by_tag.manifest_bytes).digest() == hashlib.sha256(
        manifest_bytes).digest()
    assert by_digest == by_tag
    assert by_tag.digest == digest


def test_a_manifest_with_four_byte_utf8_reads_back_byte_for_byte(registry_model):
    # Characters outside the BMP are what MySQL's three-byte "utf8" loses.
    manifest_bytes = json.dumps({"schemaVersion": 1, "name": "devtable/whale",
                                 "author": "🐳 𝄞 漢字 Sômé"}, ensure_ascii=False,
                                indent=3).encode("utf-8")
    digest = "sha256:" + hashlib.sha256(manifest_bytes).hexdigest()
    by_tag, by_digest = _round_trip(registry_model, manifest_bytes, digest)
    assert by_tag.manifest_bytes == manifest_bytes
    assert by_digest.manifest_bytes == manifest_bytes


def test_a_manifest_over_64_kib_reads_back_whole(registry_model):
    history = [{"v1Compatibility": json.dumps({"id": "%064x" % n,
                                               "comment": "layer %d ünïcödé 🐳" % n})}
               for n in range(2000)]
    manifest_bytes = json.dumps({"schemaVersion": 1, "name": "devtable/big",
                                 "history": history}, ensure_ascii=False,
                                indent=3).encode("utf-8")
    assert len(manifest_bytes) > 4 * MYSQL_TEXT_LIMIT
    digest = "sha256:" + hashlib.sha256(manifest_bytes).hexdigest()
    by_tag, by_digest = _round_trip(registry_model, manifest_bytes, digest)
    assert len(by_tag.manifest_bytes) == len(manifest_bytes)
    assert by_tag.manifest_bytes == manifest_bytes
    assert by_digest.manifest_bytes == manifest_bytes


@pytest.mark.parametrize("ancestors", ["/", "/7/", "/7/9/", "/1/22/333/4444/"])
def test_parent_id_is_the_last_id_of_the_ancestors_path(ancestors):
    ids = parse_ancestors(ancestors)
    assert parent_id(ancestors) == (ids[-1] if ids else None)


def test_parent_ids_reads_many_paths_in_order():
    paths = ["/", "/7/", "/7/9/", "/1/22/333/4444/", "/"]
    assert parent_ids(paths) == [None, 7, 9, 4444, None]
    assert parent_ids(iter(paths[1:3])) == [7, 9] and parent_ids([]) == []
