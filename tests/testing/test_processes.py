"""registry_model.testing.processes: workers that report, fail or hang fail the run clearly."""
import time

import pytest

from registry_model import errors
from registry_model.database import Namespace, transaction
from registry_model.model import namespace as namespace_model
from registry_model.testing.processes import WorkerFailure, run_beside, run_in_processes

HANG_TIMEOUT_S = 4


def create_namespace(name: str) -> str:
    return namespace_model.create_namespace(name).name


def create_unless_boom(name: str) -> str:
    if name == "boom":
        raise errors.NotFoundException(name)
    return create_namespace(name)


def count_namespaces(prefix: str) -> int:
    time.sleep(0.05)
    return Namespace.select().where(Namespace.name.startswith(prefix)).count()


def slow_create_namespace(name: str) -> str:
    time.sleep(0.5)
    return create_namespace(name)


def test_a_background_worker_runs_from_the_start_until_the_others_finish(scratch_uri):
    names = ["beside%d" % index for index in range(2)]
    results, background = run_beside(slow_create_namespace, scratch_uri,
                                     [(name,) for name in names], count_namespaces,
                                     ("beside",))
    assert [result.value for result in results] == names
    counts = background.value
    assert len(counts) >= 2 and counts == sorted(counts) and counts[0] < 2
    assert Namespace.select().where(Namespace.name.in_(names)).count() == 2


def test_a_failing_background_worker_fails_the_run(scratch_uri):
    with pytest.raises(WorkerFailure, match="(?s)worker 1:.*NotFoundException: boom"):
        run_beside(create_namespace, scratch_uri, [("calm",)], create_unless_boom, ("boom",))


def test_each_worker_returns_in_order_on_committed_data(scratch_uri):
    names = ["worker%d" % index for index in range(3)]
    results = run_in_processes(create_namespace, scratch_uri, [(name,) for name in names])
    assert [result.value for result in results] == names
    assert [result.retries for result in results] == [0, 0, 0]
    assert all(result.seconds >= 0 for result in results)
    assert Namespace.select().where(Namespace.name.in_(names)).count() == 3


def test_a_worker_that_raises_fails_the_run_with_its_traceback(scratch_uri):
    with pytest.raises(WorkerFailure, match="(?s)worker 1:.*NotFoundException: boom"):
        run_in_processes(create_unless_boom, scratch_uri, [("fine",), ("boom",)])


def test_a_worker_blocked_on_a_lock_fails_the_run_within_the_timeout(scratch_uri):
    namespace_model.create_namespace("locked")
    started = time.monotonic()
    with pytest.raises(WorkerFailure, match="reported nothing within"):
        # This process holds the write lock (SQLite) or the unique key (servers) the
        # worker needs; the worker waits far longer than the run may take.
        with transaction():
            Namespace.update(enabled=False).where(Namespace.name == "locked").execute()
            namespace_model.create_namespace("blocked")
            run_in_processes(create_namespace, scratch_uri, [("blocked",)],
                             timeout_s=HANG_TIMEOUT_S)
    assert time.monotonic() - started < HANG_TIMEOUT_S + 10
