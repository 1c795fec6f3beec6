"""Concurrent writers on one tag: separate processes (and connections) on committed data.

The per-test rollback of ``initialized_db`` never commits, so these tests run on
a scratch database of their own (``migrated_scratch_database``) and
spawn worker processes that bind to it themselves, as registry workers do.
Whatever the interleaving, a tag name keeps at most one alive row and an
unbroken history, and a writer either succeeds or gets TagConflictException.
"""
import multiprocessing
import queue
import threading
import time
import traceback
import uuid

import pytest

from registry_model import clock, errors
from registry_model.database import (
    Image,
    Repository,
    RepositoryTag,
    backend_name,
    configure,
    db,
)
from registry_model.model import namespace as namespace_model
from registry_model.model import repository as repository_model
from registry_model.model import storage as storage_model
from registry_model.pre_oci import image as image_model
from registry_model.pre_oci import tag as tag_model

WORKERS = 8
MOVES_PER_WORKER = 50
RECREATES_PER_WORKER = 25
TIMEOUT_S = 120


def _repository_with_images(count: int = 2):
    """A committed repository with ``count`` images; names are unique per call."""
    name = "race" + uuid.uuid4().hex[:12]
    namespace_model.create_namespace(name)
    repository = repository_model.create_repository(name, "repo")
    images = [image_model.create_image(repository, uuid.uuid4().hex * 2,
                                       storage_model.create_storage())
              for _ in range(count)]
    return repository, images


def _tag_rows(repository_id: int, tag_name: str) -> list:
    return list(RepositoryTag.select()
                .where(RepositoryTag.repository == repository_id, RepositoryTag.name == tag_name)
                .order_by(RepositoryTag.id))


def _worker_setup(uri, repository_id, image_ids, start):
    configure(uri)
    repository = Repository.get_by_id(repository_id)
    images = [Image.get_by_id(image_id) for image_id in image_ids]
    # Every worker is connected and loaded before the first one writes.
    start.wait(TIMEOUT_S)
    return repository, images


def _move_worker(uri, repository_id, image_ids, tag_name, index, start, results):
    """Move the tag MOVES_PER_WORKER times, alternating images; report what happened."""
    outcome = {"moved": 0, "conflicts": 0, "failure": None}
    try:
        repository, images = _worker_setup(uri, repository_id, image_ids, start)
        for n in range(MOVES_PER_WORKER):
            try:
                tag_model.create_or_update_tag(repository, tag_name,
                                               images[(n + index) % len(images)])
                outcome["moved"] += 1
            except errors.TagConflictException:
                outcome["conflicts"] += 1
    except Exception:  # the parent fails the test with this traceback
        outcome["failure"] = traceback.format_exc()
    finally:
        db.close()
        results.put(outcome)


def _recreate_worker(uri, repository_id, image_ids, tag_name, index, start, results):
    """Delete the tag and create it again, RECREATES_PER_WORKER times; report row ids."""
    outcome = {"created": [], "deleted": [], "create_conflicts": 0, "delete_conflicts": 0,
               "failure": None}
    try:
        repository, images = _worker_setup(uri, repository_id, image_ids, start)
        for n in range(RECREATES_PER_WORKER):
            try:
                ended = tag_model.delete_tag(repository, tag_name)
                if ended is not None:
                    outcome["deleted"].append(ended.id)
            except errors.TagConflictException:
                outcome["delete_conflicts"] += 1
            try:
                created = tag_model.create_or_update_tag(repository, tag_name,
                                                         images[(n + index) % len(images)])
                outcome["created"].append(created.id)
            except errors.TagConflictException:
                outcome["create_conflicts"] += 1
    except Exception:  # the parent fails the test with this traceback
        outcome["failure"] = traceback.format_exc()
    finally:
        db.close()
        results.put(outcome)


def _run_workers(target, uri, repository, images, tag_name) -> list:
    """Run WORKERS spawned processes of ``target``; return their outcomes, checked for crashes."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start = context.Barrier(WORKERS)
    image_ids = [image.id for image in images]
    processes = [context.Process(target=target, args=(uri, repository.id, image_ids, tag_name,
                                                      index, start, results))
                 for index in range(WORKERS)]
    for process in processes:
        process.start()
    try:
        outcomes = [results.get(timeout=TIMEOUT_S) for _ in processes]
    except queue.Empty:
        pytest.fail("a worker reported nothing within %d s (exit codes %s)"
                    % (TIMEOUT_S, [process.exitcode for process in processes]))
    finally:
        for process in processes:
            process.join(timeout=TIMEOUT_S)
            if process.is_alive():
                process.kill()
    assert [process.exitcode for process in processes] == [0] * WORKERS
    assert [outcome["failure"] for outcome in outcomes] == [None] * WORKERS
    return outcomes


def _assert_history_has_no_overlap(rows: list) -> None:
    for row in rows:
        assert row.lifetime_end_ts is None or row.lifetime_end_ts >= row.lifetime_start_ts, row
    for earlier, later in zip(rows, rows[1:], strict=False):
        assert earlier.lifetime_end_ts is not None, (earlier.id, later.id)
        assert later.lifetime_start_ts >= earlier.lifetime_end_ts, (earlier.id, later.id)


def test_concurrent_moves_keep_one_alive_row_and_an_unbroken_history(scratch_uri,
                                                                    record_property):
    repository, images = _repository_with_images()
    initial = tag_model.create_or_update_tag(repository, "latest", images[0])

    outcomes = _run_workers(_move_worker, scratch_uri, repository, images, "latest")

    moved = sum(outcome["moved"] for outcome in outcomes)
    conflicts = sum(outcome["conflicts"] for outcome in outcomes)
    record_property("tag_conflicts", conflicts)
    assert moved + conflicts == WORKERS * MOVES_PER_WORKER
    # Eight retries make a lost race rare; most moves must get through.
    assert moved >= WORKERS * MOVES_PER_WORKER // 2
    rows = _tag_rows(repository.id, "latest")
    # A conflict writes nothing, so the rows are the initial one plus one per move.
    assert len(rows) == 1 + moved
    assert rows[0].id == initial.id
    alive = [row for row in rows if row.lifetime_end_ts is None]
    assert [row.id for row in alive] == [rows[-1].id]
    assert tag_model.get_tag(repository.id, "latest", clock.now_ts()).id == rows[-1].id
    for earlier, later in zip(rows, rows[1:], strict=False):
        # Each move ends the previous row at the very second the next one starts.
        assert earlier.lifetime_end_ts == later.lifetime_start_ts, (earlier.id, later.id)
    _assert_history_has_no_overlap(rows)


def test_concurrent_delete_and_recreate_never_leave_two_alive_rows(scratch_uri,
                                                                   record_property):
    repository, images = _repository_with_images()
    initial = tag_model.create_or_update_tag(repository, "latest", images[0])

    outcomes = _run_workers(_recreate_worker, scratch_uri, repository, images, "latest")

    created = [row_id for outcome in outcomes for row_id in outcome["created"]]
    deleted = [row_id for outcome in outcomes for row_id in outcome["deleted"]]
    create_conflicts = sum(outcome["create_conflicts"] for outcome in outcomes)
    record_property("tag_conflicts", create_conflicts + sum(
        outcome["delete_conflicts"] for outcome in outcomes))
    record_property("deletes_that_ended_a_row", len(deleted))
    assert len(created) + create_conflicts == WORKERS * RECREATES_PER_WORKER
    assert len(created) >= WORKERS * RECREATES_PER_WORKER // 2
    rows = _tag_rows(repository.id, "latest")
    assert [row.id for row in rows] == sorted([initial.id] + created)
    # Two deletes never both claim the same row, and what they ended stays ended.
    assert len(set(deleted)) == len(deleted)
    ended_ids = {row.id for row in rows if row.lifetime_end_ts is not None}
    assert set(deleted) <= ended_ids
    alive = [row for row in rows if row.lifetime_end_ts is None]
    assert len(alive) <= 1
    if alive:
        assert alive[0].id == rows[-1].id
    _assert_history_has_no_overlap(rows)


class _AfterTagSelect:
    """Query hook: a racer thread pauses after its first SELECT of repository_tag.

    Both racers have then looked for the alive row (and found none) before
    either inserts, which is the race the alive-tag rule has to settle.
    """

    def __init__(self, racers: int) -> None:
        self.barrier = threading.Barrier(racers, timeout=30)
        self.paused = threading.local()

    def __call__(self, event) -> None:
        if (threading.current_thread().name.startswith("racer")
                and not getattr(self.paused, "done", False)
                and event.sql.lstrip().upper().startswith("SELECT")
                and "repository_tag" in event.sql):
            self.paused.done = True
            self.barrier.wait()


class _HoldFirstAfterTagSelect:
    """Query hook: the first racer to SELECT from repository_tag holds there until released."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, event) -> None:
        if not (threading.current_thread().name.startswith("racer")
                and event.sql.lstrip().upper().startswith("SELECT")
                and "repository_tag" in event.sql):
            return
        with self._lock:
            first = not self.reached.is_set()
            self.reached.set()
        if first:
            self.release.wait(TIMEOUT_S)


def _advisory_lock_waiters() -> int:
    return db.execute_sql("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                          "current_database() AND wait_event_type = 'Lock' "
                          "AND wait_event = 'advisory'").fetchone()[0]


def _wait_for(condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_writers_racing_in_their_own_transactions_never_leave_two_alive_rows(scratch_uri):
    """Inside the caller's transaction there is no retry: the loser either gets
    TagConflictException (SQLite's lock, MariaDB's deadlock) or, on PostgreSQL,
    where every writer of a name queues on its advisory lock before searching,
    moves the tag after the winner. Never two alive rows."""
    repository, images = _repository_with_images()
    postgresql = backend_name() == "postgresql"
    # Elsewhere both racers search before either inserts; PostgreSQL's name lock
    # makes that impossible, so there the first holds after its search while the
    # test checks that the second really waits for it.
    hook = _HoldFirstAfterTagSelect() if postgresql else _AfterTagSelect(racers=2)
    outcomes: dict = {}

    def racer(index: int) -> None:
        try:
            with db.atomic():  # the caller's own transaction: no retry is possible
                row = tag_model.create_or_update_tag(repository, "raced", images[index])
            outcomes[index] = row.id
        except Exception as exc:  # asserted below
            outcomes[index] = exc
        finally:
            db.close()

    db.obj.query_hooks.append(hook)
    try:
        threads = [threading.Thread(target=racer, args=(index,), name="racer%d" % index)
                   for index in range(2)]
        for thread in threads:
            thread.start()
        if postgresql:
            assert hook.reached.wait(TIMEOUT_S)
            second_waited = _wait_for(lambda: _advisory_lock_waiters() == 1, TIMEOUT_S)
            hook.release.set()
        for thread in threads:
            thread.join(TIMEOUT_S)
    finally:
        db.obj.query_hooks.remove(hook)

    losers = [value for value in outcomes.values() if isinstance(value, Exception)]
    winners = sorted(value for value in outcomes.values() if not isinstance(value, Exception))
    assert len(outcomes) == 2 and len(losers) <= 1 and winners, outcomes
    if postgresql:
        assert second_waited and not losers, outcomes
    for loser in losers:
        assert isinstance(loser, errors.TagConflictException), repr(loser)
    rows = _tag_rows(repository.id, "raced")
    assert [row.id for row in rows] == winners
    assert [row.lifetime_end_ts is None for row in rows] == [False] * (len(rows) - 1) + [True]
    _assert_history_has_no_overlap(rows)
