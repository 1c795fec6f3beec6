"""Read replicas and pooling: which database object runs each statement, and what a failure costs.

Routing is a property of the primary's database object, so these tests need
committed data and their own binding: a migrated scratch database of the test
backend, configured with "replicas" that are other database objects on the same
database (or on a second, empty scratch database standing in for a replica that
lags behind). A spy on each object's ``_execute_cursor`` records which object
ran which statement, independently of the router's own counters. A real
PostgreSQL streaming replica is exercised by ``tests/replicas/``.
"""
import logging
import socket
import threading
import time
import traceback
import uuid
from contextlib import contextmanager
from urllib.parse import urlparse, urlunparse

import pytest
from playhouse import db_url
from playhouse.pool import PooledDatabase

from registry_model import errors, interface, replicas
from registry_model.database import backend_name, configure, db
from registry_model.model import lookup
from registry_model.registry_pre_oci_model import PreOCIModel
from registry_model.testing import databases
from registry_model.testing.databases import migrated_scratch_database
from registry_model.testing.factories import RepositoryFactory, TagManifestFactory
from registry_model.testing.queries import count_statements

STALE_OK = {"find_matching_tag", "get_most_recent_tag", "lookup_repository",
            "get_manifest_for_tag", "lookup_manifest_by_digest", "get_legacy_images",
            "get_legacy_image", "list_manifest_labels", "get_manifest_label", "get_repo_tag",
            "list_all_active_repository_tags", "lookup_active_repository_tags",
            "list_repository_tag_history", "has_expired_tag", "get_repo_blob_by_digest",
            "list_repositories", "get_namespace"}
logger = logging.getLogger(__name__)
LISTINGS = {"get_legacy_images", "list_manifest_labels", "list_all_active_repository_tags",
            "list_repositories",
            "lookup_active_repository_tags", "list_repository_tag_history", "has_expired_tag"}


@pytest.fixture(scope="module")
def scratch_uri():
    with migrated_scratch_database() as database:
        database.close()  # each test binds its own database objects to it
        yield database.scratch_uri


@pytest.fixture(scope="module")
def lagging_uri():
    """A second migrated database without our rows: a replica that has replayed nothing yet."""
    with migrated_scratch_database() as database:
        database.close()
        yield database.scratch_uri


@contextmanager
def bound(uri: str, **options):
    """``configure(uri, **options)`` for the block; every pool closed and the binding restored."""
    previous = db.obj
    primary = configure(uri, **options)
    try:
        yield primary
    finally:
        replica_set = getattr(primary, "replica_set", None)
        databases = [primary] + (replica_set.databases if replica_set is not None else [])
        for database in databases:
            if isinstance(database, PooledDatabase):
                database.close_all()
            elif not database.is_closed():
                database.close()
        db.initialize(previous)


class Spy:
    """Which database object ran which statement: ``sql[name]`` lists them."""

    def __init__(self, databases: dict, monkeypatch) -> None:
        self.sql = {name: [] for name in databases}
        for name, database in databases.items():
            original = database._execute_cursor

            def execute(sql, params, _name=name, _original=original, **options):
                if not replicas.is_routable(sql) and not sql.lstrip().upper().startswith(
                        ("INSERT", "UPDATE", "DELETE")):
                    return _original(sql, params, **options)  # BEGIN, COMMIT, SAVEPOINT, ...
                self.sql[_name].append(sql)
                return _original(sql, params, **options)

            monkeypatch.setattr(database, "_execute_cursor", execute)

    def counts(self) -> dict:
        return {name: len(statements) for name, statements in self.sql.items()}

    def reset(self) -> None:
        for statements in self.sql.values():
            statements.clear()


def spy_on(primary, monkeypatch) -> Spy:
    databases = {"primary": primary}
    for index, replica in enumerate(primary.replica_set.databases):
        databases["replica%d" % index] = replica
    return Spy(databases, monkeypatch)


def _tagged_manifest():
    """A committed repository with tag ``latest`` and its manifest; names unique per call."""
    repository = RepositoryFactory(namespace__name="ns" + uuid.uuid4().hex[:10], name="repo")
    tag_manifest = TagManifestFactory(tag__repository=repository, tag__name="latest")
    return repository, tag_manifest


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def dead_replica_uri(uri: str, tmp_path) -> str:
    """A URI of the same backend that cannot connect: a closed port, or a missing folder."""
    parsed = urlparse(uri)
    if parsed.scheme.startswith("sqlite"):
        return "sqlite:///%s" % (tmp_path / "no-such-folder" / "replica.db")
    netloc = "%s@127.0.0.1:%d" % (parsed.netloc.rsplit("@", 1)[0], _closed_port())
    return urlunparse(parsed._replace(netloc=netloc))


def _stale_reads(model: PreOCIModel, namespace: str) -> None:
    ref = model.lookup_repository(namespace, "repo")
    tag = model.find_matching_tag(ref, ["latest"])
    assert tag is not None and model.get_manifest_for_tag(tag) is not None
    assert [found.name for found in model.list_all_active_repository_tags(ref)] == ["latest"]
    assert len(model.get_legacy_images(ref)) == 1


# Which methods may read stale data


def test_preoci_model_marks_exactly_its_lookups_and_listings_as_stale_ok():
    marked = {name for name in dir(PreOCIModel)
              if getattr(getattr(PreOCIModel, name), "stale_ok", False)}
    assert marked == STALE_OK
    confirming = {name for name in marked if getattr(PreOCIModel, name).confirm_miss}
    # A listing cannot tell "stale" from "empty"; a lookup's None is asked again of the primary.
    assert confirming == STALE_OK - LISTINGS
    documented = " ".join(interface.__doc__.split())
    assert all(name in documented for name in STALE_OK | {"lookup_blob_upload"})


@pytest.mark.parametrize("sql, routable", [
    ("SELECT 1", True),
    ('  (SELECT "t1"."id" FROM "tag" AS "t1") UNION (SELECT 2)', True),
    ("select id from tag", True),
    ('SELECT "t1"."id" FROM "tag" AS "t1" FOR UPDATE', False),
    ("SELECT id FROM tag LOCK IN SHARE MODE", False),
    ('INSERT INTO "tag" ("name") VALUES (%s)', False),
    ("WITH gone AS (DELETE FROM tag RETURNING id) SELECT * FROM gone", False),
    ("UPDATE tag SET name = 'x'", False),
])
def test_only_plain_selects_are_routable(sql, routable):
    assert replicas.is_routable(sql) is routable


# Routing


def test_stale_ok_reads_go_to_random_replicas_and_writes_to_the_primary(scratch_uri,
                                                                        monkeypatch):
    model = PreOCIModel()
    with bound(scratch_uri, replicas=[scratch_uri, scratch_uri]) as primary:
        spy = spy_on(primary, monkeypatch)
        repository, tag_manifest = _tagged_manifest()
        manifest = model.lookup_manifest_by_digest(
            model.lookup_repository(repository.namespace.name, "repo"), tag_manifest.digest)
        spy.reset()
        model.create_manifest_label(manifest, "color", "blue", "api")
        writes = spy.counts()
        assert writes["primary"] >= 3 and writes["replica0"] == writes["replica1"] == 0

        spy.reset()
        before = list(primary.replica_set.statements)
        with count_statements() as counted:
            for _ in range(20):
                _stale_reads(model, repository.namespace.name)
        counts = spy.counts()
        assert counts["primary"] == 0, spy.sql["primary"]
        # Random choice: each replica takes a share (both idle: 2 ** -119 chance of a miss).
        assert counts["replica0"] > 0 and counts["replica1"] > 0
        # Shared query hooks: the statement counter sees what replicas ran.
        assert counted.count == counts["replica0"] + counts["replica1"] == 20 * 6
        assert primary.replica_set.statements == [before[0] + counts["replica0"],
                                                  before[1] + counts["replica1"]]


def test_unmarked_reads_and_reads_in_a_transaction_stay_on_the_primary(scratch_uri,
                                                                        monkeypatch):
    model = PreOCIModel()
    with bound(scratch_uri, replicas=[scratch_uri]) as primary:
        spy = spy_on(primary, monkeypatch)
        repository, tag_manifest = _tagged_manifest()
        ref = model.lookup_repository(repository.namespace.name, "repo")
        manifest = model.get_manifest_for_tag(model.get_repo_tag(ref, "latest"))
        spy.reset()

        # Not marked: the push flow reads its upload right after writing it.
        upload = model.create_blob_upload(ref, str(uuid.uuid4()), "local", None)
        assert model.lookup_blob_upload(ref, upload.upload_id) == upload
        assert model.get_legacy_images_owned_by_tag(model.get_repo_tag(ref, "latest"))
        with db.atomic():
            label = model.create_manifest_label(manifest, "stage", "one", "api")
            # A read inside a transaction that wrote must see the write.
            assert [found.key for found in model.list_manifest_labels(manifest)] == ["stage"]
            assert model.get_manifest_label(manifest, label.uuid) == label
        with db.atomic():  # a read-only transaction too: one snapshot, on one server
            assert model.lookup_repository(repository.namespace.name, "repo") == ref
        with replicas.stale_reads(), replicas.primary_reads():
            assert model.get_repo_tag(ref, "latest") is not None
        counts = spy.counts()
        # Only the get_repo_tag call outside any transaction and primary_reads() was routed.
        assert counts["replica0"] == 1, spy.sql["replica0"]
        assert counts["primary"] >= 8


def test_a_lookup_missing_on_a_lagging_replica_is_asked_of_the_primary(scratch_uri, lagging_uri,
                                                                        monkeypatch):
    model = PreOCIModel()
    with bound(scratch_uri, replicas=[lagging_uri]) as primary:
        spy = spy_on(primary, monkeypatch)
        repository, tag_manifest = _tagged_manifest()
        spy.reset()
        ref = model.lookup_repository(repository.namespace.name, "repo")
        assert ref is not None and ref.id == repository.id
        assert spy.counts() == {"primary": 1, "replica0": 1}

        # A listing cannot tell stale from empty: the lagging replica answers it.
        spy.reset()
        assert model.list_all_active_repository_tags(ref) == []
        assert spy.counts() == {"primary": 0, "replica0": 1}
        with replicas.primary_reads():
            assert [tag.name for tag in model.list_all_active_repository_tags(ref)] == ["latest"]

        # A true miss costs one statement on each.
        spy.reset()
        assert model.lookup_manifest_by_digest(ref, "sha256:" + "0" * 64) is None
        assert spy.counts() == {"primary": 1, "replica0": 1}


def test_lookup_tables_stay_cached_per_primary_when_loaded_from_a_replica(scratch_uri,
                                                                           monkeypatch):
    model = PreOCIModel()
    with bound(scratch_uri, replicas=[scratch_uri]) as primary:
        repository, _ = _tagged_manifest()
        lookup.clear()
        spy = spy_on(primary, monkeypatch)
        ref = model.lookup_repository(repository.namespace.name, "repo")
        assert (ref.kind, ref.is_public) == ("image", False)
        assert primary in lookup._cache
        assert primary.replica_set.databases[0] not in lookup._cache
        assert spy.counts()["replica0"] > 1  # the repository and the lookup tables
        spy.reset()
        assert model.lookup_repository(repository.namespace.name, "repo") == ref
        assert spy.counts() == {"primary": 0, "replica0": 1}


# Failures and the cool-down


def test_a_failing_replica_is_skipped_for_the_cooldown_and_its_reads_fall_back(
        scratch_uri, tmp_path, monkeypatch, caplog):
    model = PreOCIModel()
    dead = dead_replica_uri(scratch_uri, tmp_path)
    with bound(scratch_uri, replicas=[dead], replica_cooldown_s=30) as primary:
        replica_set = primary.replica_set
        now = [1000.0]
        replica_set.clock = lambda: now[0]
        repository, _ = _tagged_manifest()
        spy = spy_on(primary, monkeypatch)
        with caplog.at_level(logging.WARNING, logger="registry_model.replicas"):
            ref = model.lookup_repository(repository.namespace.name, "repo")
        assert ref is not None and ref.id == repository.id
        assert (replica_set.failures, replica_set.fallbacks) == ([1], 1)
        assert any("read replica" in record.getMessage() and "30.0s" in record.getMessage()
                   for record in caplog.records)
        assert replica_set.healthy() == []

        spy.reset()
        for _ in range(5):
            assert model.lookup_repository(repository.namespace.name, "repo") == ref
        assert spy.counts() == {"primary": 5, "replica0": 0}  # not even tried

        now[0] += 30.5  # the cool-down is over: tried again, fails again, falls back again
        assert model.lookup_repository(repository.namespace.name, "repo") == ref
        assert (replica_set.failures, replica_set.fallbacks) == ([2], 2)


def test_reads_spread_over_the_healthy_replicas_once_one_fails(scratch_uri, tmp_path,
                                                               monkeypatch):
    model = PreOCIModel()
    dead = dead_replica_uri(scratch_uri, tmp_path)
    with bound(scratch_uri, replicas=[dead, scratch_uri]) as primary:
        repository, _ = _tagged_manifest()
        spy = spy_on(primary, monkeypatch)
        for _ in range(30):
            assert model.lookup_repository(repository.namespace.name, "repo") is not None
        replica_set = primary.replica_set
        assert replica_set.failures == [1, 0]
        assert replica_set.statements[0] == 0
        counts = spy.counts()
        assert counts["primary"] == replica_set.fallbacks == 1
        assert counts["replica1"] == replica_set.statements[1] == 29


# Configuration and pooling


def test_pool_options_pool_the_primary_and_its_replicas(scratch_uri):
    with bound(scratch_uri, replicas=[scratch_uri], max_connections=3, stale_timeout=60,
               timeout=5, replica_cooldown_s=2) as primary:
        for database in [primary] + primary.replica_set.databases:
            assert isinstance(database, PooledDatabase)
            assert (database._max_connections, database._stale_timeout,
                    database._wait_timeout) == (3, 60, 5)
        assert primary.replica_set.cooldown_s == 2
        assert backend_name(primary.replica_set.databases[0]) == backend_name(primary)
    scheme, rest = scratch_uri.split("://", 1)
    with bound("%s+pool://%s" % (scheme, rest)) as pooled:
        assert isinstance(pooled, PooledDatabase)
        assert not isinstance(pooled, replicas.ReplicaRoutingMixin)
    with bound(scratch_uri) as plain:
        assert not isinstance(plain, PooledDatabase)
        assert not isinstance(plain, replicas.ReplicaRoutingMixin)


OTHER_BACKEND = object()


@pytest.mark.parametrize("options, message", [
    ({"replicas": "sqlite:///replica.db"}, "list of URIs"),
    ({"replicas": [OTHER_BACKEND]}, "but the primary is"),
    ({"replicas": ["ftp://host/x"]}, "unsupported database URI scheme"),
    ({"replica_cooldown_s": -1}, "replica_cooldown_s"),
])
def test_configure_refuses_replicas_it_cannot_use(scratch_uri, options, message):
    previous = db.obj
    if options.get("replicas") == [OTHER_BACKEND]:
        other = ("postgresql://postgres@127.0.0.1/x" if scratch_uri.startswith("sqlite")
                 else "sqlite:///replica.db")
        options = {"replicas": [other]}
    with pytest.raises(errors.DatabaseConfigurationException, match=message):
        configure(scratch_uri, **options)
    assert db.obj is previous


def test_closing_the_primary_returns_this_threads_replica_connections(scratch_uri):
    model = PreOCIModel()
    with bound(scratch_uri, replicas=[scratch_uri], max_connections=2) as primary:
        repository, _ = _tagged_manifest()
        replica = primary.replica_set.databases[0]
        primary.close()
        with db.connection_context():
            assert model.lookup_repository(repository.namespace.name, "repo") is not None
            assert len(replica._in_use) == 1
        assert (len(primary._in_use), len(replica._in_use)) == (0, 0)
        assert len(replica._connections) == 1  # back in the pool, not closed


# Many threads


THREADS = 16
REQUESTS_PER_THREAD = 12
MAX_CONNECTIONS = 4
SERVER_CONNECTIONS_SQL = {
    "postgresql": "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = %s",
    "mysql": "SELECT COUNT(*) FROM information_schema.processlist WHERE db = %s",
}


class ConnectionWatch(threading.Thread):
    """Samples pool sizes and the server's connection count for a database until stopped."""

    def __init__(self, uri: str, pools: list) -> None:
        super().__init__(daemon=True)
        self.pools = pools
        self.name_on_server = urlparse(uri).path.lstrip("/")
        self.backend = backend_name(db.obj)
        # From the test database, so the watcher is not one of the connections it counts.
        self.admin = (db_url.connect(databases.test_database_uri())
                      if self.backend != "sqlite" else None)
        self.peak_pools = [0] * len(pools)
        self.peak_server = 0
        self.done = threading.Event()

    def server_connections(self) -> int:
        if self.admin is None:
            return 0
        sql = SERVER_CONNECTIONS_SQL[self.backend]
        return self.admin.execute_sql(sql, (self.name_on_server,)).fetchone()[0]

    def run(self) -> None:
        while not self.done.is_set():
            for index, pool in enumerate(self.pools):
                self.peak_pools[index] = max(self.peak_pools[index],
                                             len(pool._in_use) + len(pool._connections))
            self.peak_server = max(self.peak_server, self.server_connections())
            time.sleep(0.005)

    def stop(self) -> None:
        self.done.set()
        self.join()


def _requests(model: PreOCIModel, ref, manifest, thread: int, calls: list, failures: list):
    """One thread of a web app: a connection per request, reads, and a write every few."""
    for request in range(REQUESTS_PER_THREAD):
        try:
            with db.connection_context():
                assert model.lookup_repository(ref.namespace_name, ref.name) == ref
                assert model.find_matching_tag(ref, ["latest"]).name == "latest"
                assert model.list_all_active_repository_tags(ref)
                assert model.lookup_manifest_by_digest(ref, manifest.digest) is not None
                calls.append(4)
                if request % 3 == 0:
                    label = model.create_manifest_label(manifest, "t%d" % thread,
                                                        str(request), "api")
                    assert model.delete_manifest_label(manifest, label.uuid) == label
                    calls.append(2)
                if request % 4 == 1:
                    moved = model.retarget_tag(ref, "t%d" % thread, manifest)
                    assert moved.manifest_digest == manifest.digest
                    calls.append(1)
        except Exception:  # every failure is reported, not just the first
            failures.append(traceback.format_exc())


def test_sixteen_threads_share_bounded_pools_without_errors_or_leaked_connections(scratch_uri):
    model = PreOCIModel()
    with bound(scratch_uri, replicas=[scratch_uri], max_connections=MAX_CONNECTIONS,
               timeout=20) as primary:
        repository, tag_manifest = _tagged_manifest()
        ref = model.lookup_repository(repository.namespace.name, "repo")
        manifest = model.lookup_manifest_by_digest(ref, tag_manifest.digest)
        primary.close()
        replica = primary.replica_set.databases[0]
        watch = ConnectionWatch(scratch_uri, [primary, replica])
        watch.start()
        calls: list = []
        failures: list = []
        threads = [threading.Thread(target=_requests,
                                    args=(model, ref, manifest, number, calls, failures))
                   for number in range(THREADS)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        elapsed = time.monotonic() - started
        watch.stop()

        assert failures == [], failures[0]
        assert sum(calls) == THREADS * (REQUESTS_PER_THREAD * 4 + 4 * 2 + 3)
        # No leak: every connection went back to its pool, and no pool grew past its bound.
        assert (primary._in_use, replica._in_use) == ({}, {})
        assert max(watch.peak_pools) <= MAX_CONNECTIONS
        assert watch.peak_server <= 2 * MAX_CONNECTIONS
        assert primary.replica_set.statements[0] >= THREADS * REQUESTS_PER_THREAD * 4
        with replicas.primary_reads():
            names = {tag.name for tag in model.list_all_active_repository_tags(ref)}
            assert names == {"latest"} | {"t%d" % number for number in range(THREADS)}
            assert model.list_manifest_labels(manifest) == []
        primary.close()
        primary.close_all()
        replica.close_all()
        deadline = time.monotonic() + 10
        while watch.server_connections() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert watch.server_connections() == 0
        logger.info("%d threads, %d calls in %.2fs; peak pool sizes %s, server connections %d; "
                    "%d statements on the replica", THREADS, sum(calls), elapsed,
                    watch.peak_pools, watch.peak_server, primary.replica_set.statements[0])
        if watch.admin is not None:
            watch.admin.close()
