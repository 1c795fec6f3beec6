"""Routing against a real PostgreSQL streaming replica (a hot standby started by pg_replica).

What the servers themselves report is the proof: the replica is read-only, so no
write can land there; the primary's insert counters move with the writes; the
replica's transaction and scan counters move with the stale-tolerant reads while
the primary's stay still; a write on the primary shows up on the replica once
replayed; and when the replica is killed (``pg_ctl stop -m immediate``) under
eight threads of calls, every call still succeeds, through the primary.
Server statistics reach ``pg_stat_*`` when a backend ends, so the tests close
their pools before reading them.
"""
import logging
import threading
import time
import traceback
import uuid
from contextlib import contextmanager
from urllib.parse import urlparse, urlunparse

import peewee
import pytest
from playhouse import db_url

from registry_model.database import configure, db
from registry_model.registry_pre_oci_model import PreOCIModel
from registry_model.testing.factories import RepositoryFactory, TagManifestFactory

from . import pg_replica

logger = logging.getLogger(__name__)

THREADS = 8
READS = 300
STATS_WAIT_S = 30
REPLAY_WAIT_S = 30
RUN_BEFORE_KILL_S = 1.5
RUN_AFTER_KILL_S = 2.0


class ServerStats:
    """Counters of one database as one server reports them, read from that server."""

    def __init__(self, uri: str) -> None:
        parsed = urlparse(uri)
        self.name = parsed.path.lstrip("/")
        self.admin = db_url.connect(urlunparse(parsed._replace(path="/postgres")))
        self.local = db_url.connect(uri)  # pg_stat_user_tables covers the connected database

    def transactions(self) -> int:
        return self.admin.execute_sql(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
            (self.name,)).fetchone()[0]

    def table(self, table: str) -> tuple:
        """``(scans, inserted rows)`` of a table."""
        return self.local.execute_sql(
            "SELECT COALESCE(seq_scan, 0) + COALESCE(idx_scan, 0), n_tup_ins "
            "FROM pg_stat_user_tables WHERE relname = %s", (table,)).fetchone()

    def close(self) -> None:
        self.admin.close()
        self.local.close()


def wait_for(condition, limit_s: float, what: str):
    """Poll ``condition`` until it returns a true value; fail after ``limit_s``."""
    deadline = time.monotonic() + limit_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail("%s: still not true after %ss" % (what, limit_s))
        time.sleep(0.1)


@contextmanager
def routed(primary_uri: str, replica_uri: str):
    """The primary bound with the real replica, both pooled; every pool closed at the end."""
    previous = db.obj
    primary = configure(primary_uri, replicas=[replica_uri], replica_cooldown_s=60,
                        max_connections=THREADS, timeout=30)
    try:
        yield primary
    finally:
        close_pools(primary)
        db.initialize(previous)


def close_pools(primary) -> None:
    """End every connection of the primary and its replica: their backends flush statistics."""
    if not primary.in_transaction():
        primary.close()
    primary.close_all()
    primary.replica_set.close_all()


@pytest.fixture(scope="module")
def stats(primary_uri, replica_uri):
    on_primary, on_replica = ServerStats(primary_uri), ServerStats(replica_uri)
    yield on_primary, on_replica
    on_primary.close()
    on_replica.close()


@pytest.fixture(scope="module")
def pushed(primary_uri, replica_uri):
    """A committed repository with tag ``latest`` and its manifest, replayed on the replica."""
    with routed(primary_uri, replica_uri):
        repository = RepositoryFactory(namespace__name="ns" + uuid.uuid4().hex[:10],
                                       name="repo")
        tag_manifest = TagManifestFactory(tag__repository=repository, tag__name="latest")
        model = PreOCIModel()
        wait_for(lambda: model.list_all_active_repository_tags(
            model.lookup_repository(repository.namespace.name, "repo")), REPLAY_WAIT_S,
            "the pushed tag replayed on the replica")
    return repository.namespace.name, tag_manifest.digest


def test_the_replica_is_a_read_only_hot_standby(replica_uri):
    database = db_url.connect(replica_uri)
    try:
        assert database.execute_sql("SELECT pg_is_in_recovery()").fetchone()[0] is True
        with pytest.raises(peewee.InternalError, match="read-only transaction"):
            database.execute_sql("INSERT INTO namespace (name, enabled, removed_tag_expiration_s)"
                                 " VALUES ('nope', true, 0)")
    finally:
        database.close()


def test_writes_reach_the_primary_and_replay_on_the_replica(primary_uri, replica_uri, stats,
                                                            pushed):
    on_primary, on_replica = stats
    namespace, digest = pushed
    model = PreOCIModel()
    inserted_before = on_primary.table("tag_manifest_label")[1]
    with routed(primary_uri, replica_uri) as primary:
        ref = model.lookup_repository(namespace, "repo")
        manifest = model.lookup_manifest_by_digest(ref, digest)
        labels = [model.create_manifest_label(manifest, "k%d" % number, "v", "api")
                  for number in range(5)]
        written = time.monotonic()
        # A listing is never confirmed on the primary: it shows what the replica has replayed.
        wait_for(lambda: len(model.list_manifest_labels(manifest)) == 5, REPLAY_WAIT_S,
                 "the new labels replayed on the replica")
        replay_s = time.monotonic() - written
        assert model.list_manifest_labels(manifest) == labels
        assert primary.replica_set.statements[0] > 0 and primary.replica_set.failures == [0]
        close_pools(primary)
    wait_for(lambda: on_primary.table("tag_manifest_label")[1] >= inserted_before + 5,
             STATS_WAIT_S, "the primary counting the inserted labels")
    assert on_replica.table("tag_manifest_label")[1] == 0  # replay is not counted as inserts
    logger.info("labels visible on the replica %.3fs after their commit", replay_s)


def test_stale_reads_are_served_by_the_replica(primary_uri, replica_uri, stats, pushed):
    on_primary, on_replica = stats
    namespace, _ = pushed
    model = PreOCIModel()
    with routed(primary_uri, replica_uri) as primary:
        model.lookup_repository(namespace, "repo")  # loads the lookup tables
        close_pools(primary)
        time.sleep(0.5)  # backends of earlier tests flush their statistics as they exit
        scans_before = on_replica.table("repository")[0]
        primary_before, replica_before = on_primary.transactions(), on_replica.transactions()
        sent_before = primary.replica_set.statements[0]
        for _ in range(READS):
            ref = model.lookup_repository(namespace, "repo")
            assert model.find_matching_tag(ref, ["latest"]) is not None
        sent = primary.replica_set.statements[0] - sent_before
        assert sent == 2 * READS
        close_pools(primary)
    wait_for(lambda: on_replica.transactions() - replica_before >= sent, STATS_WAIT_S,
             "the replica counting %d transactions" % sent)
    assert on_replica.table("repository")[0] - scans_before >= READS
    moved_on_primary = on_primary.transactions() - primary_before
    assert moved_on_primary < READS // 10, moved_on_primary
    logger.info("%d reads: %d statements on the replica (its counter +%d), primary +%d",
                READS, sent, on_replica.transactions() - replica_before, moved_on_primary)


def _calls(model, namespace, manifest, stop, record, failures):
    """Calls as a web app's thread makes them, until ``stop``; each as (start, end, kind)."""
    number = 0
    while not stop.is_set():
        number += 1
        started = time.monotonic()
        try:
            with db.connection_context():
                ref = model.lookup_repository(namespace, "repo")
                assert model.find_matching_tag(ref, ["latest"]).name == "latest"
                if number % 10 == 0:
                    label = model.create_manifest_label(manifest, "kill", str(number), "api")
                    assert model.delete_manifest_label(manifest, label.uuid) == label
            record.append((started, time.monotonic()))
        except Exception:
            failures.append(traceback.format_exc())


def test_killing_the_replica_mid_run_loses_no_request(primary_uri, replica_uri,
                                                      streaming_replica, pushed):
    namespace, digest = pushed
    model = PreOCIModel()
    with routed(primary_uri, replica_uri) as primary:
        replica_set = primary.replica_set
        manifest = model.lookup_manifest_by_digest(model.lookup_repository(namespace, "repo"),
                                                   digest)
        stop, record, failures = threading.Event(), [], []
        threads = [threading.Thread(target=_calls,
                                    args=(model, namespace, manifest, stop, record, failures))
                   for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        time.sleep(RUN_BEFORE_KILL_S)
        served_before_kill = replica_set.statements[0]
        killed_at = time.monotonic()
        pg_replica.stop(streaming_replica.data_dir, immediate=True, remove=False)
        kill_s = time.monotonic() - killed_at
        time.sleep(RUN_AFTER_KILL_S)
        stop.set()
        for thread in threads:
            thread.join(timeout=120)

        assert failures == [], failures[0]
        assert not pg_replica.running(streaming_replica)
        assert served_before_kill > 0
        # Each statement in flight on the replica failed once and ran again on the primary.
        assert replica_set.failures[0] >= 1 and replica_set.fallbacks == replica_set.failures[0]
        assert replica_set.healthy() == []  # on cool-down: later reads go straight to the primary
        after_kill = [end - start for start, end in record if start > killed_at + kill_s]
        spanning = [end - start for start, end in record if start <= killed_at + kill_s < end
                    or start <= killed_at < end]
        assert len(after_kill) > THREADS
        logger.info("%d calls (%d after the kill), none failed; %d statements on the replica "
                    "before the kill, %d re-run on the primary; the kill took %.2fs, the "
                    "slowest call across it %.3fs", len(record), len(after_kill),
                    served_before_kill, replica_set.fallbacks, kill_s,
                    max(spanning, default=0.0))
