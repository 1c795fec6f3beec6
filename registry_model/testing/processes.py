"""Run a function in several spawned processes at once, each on its own connection.

Races between writers only show with real commits on separate connections, which is
what registry workers have. :func:`run_in_processes` starts one process per argument
tuple (``spawn``, so nothing of the parent's connection is inherited), binds each to
the database URI, holds them at a barrier until all are ready and then calls the
function; it returns what each call returned, in order::

    with migrated_scratch_database() as database:
        results = run_in_processes(create_labels, database.scratch_uri,
                                   [(manifest_id, worker) for worker in range(6)])

The function must be importable by name (defined at module level) and return a
picklable value. Each result is a :class:`WorkerResult`: the return value, how many
times :func:`registry_model.transactions.run_with_retry` retried a lost race in that process,
and the seconds the call took.
A process that raises, dies or does not finish within ``timeout_s`` fails the run with
:class:`WorkerFailure` (hung processes are killed first), so a deadlock nobody resolves
fails a test instead of hanging it.
"""
import logging
import multiprocessing
import queue
import time
import traceback
from typing import Any, Callable, NamedTuple, Sequence

RETRY_LOGGER = "registry_model.transactions"
RETRY_MESSAGE = "write lost a race"


class WorkerResult(NamedTuple):
    """What one process's call returned, how many lost races it retried and how long it took."""

    value: Any
    retries: int
    seconds: float


class WorkerFailure(AssertionError):
    """A worker process raised, died or hung; the message holds what is known."""


class _RetryCounter(logging.Handler):
    """Counts run_with_retry's "write lost a race" records in this process."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith(RETRY_MESSAGE):
            self.count += 1


def _child(target: Callable, args: tuple, uri: str, index: int, start, results) -> None:
    from registry_model.database import configure, db

    counter = _RetryCounter()
    retry_logger = logging.getLogger(RETRY_LOGGER)
    retry_logger.addHandler(counter)
    retry_logger.setLevel(logging.INFO)
    try:
        configure(uri)
        start.wait()
        started = time.monotonic()
        value = target(*args)
        outcome = (index, WorkerResult(value, counter.count, time.monotonic() - started), None)
    except BaseException:  # the parent fails the run with this traceback
        outcome = (index, None, traceback.format_exc())
    finally:
        db.close()
    results.put(outcome)


def run_in_processes(target: Callable, uri: str, arguments: Sequence[tuple],
                     timeout_s: float = 120) -> list:
    """Call ``target(*args)`` for each tuple of ``arguments``, all at once, in spawned processes.

    Each process binds to ``uri`` first and waits for the others before calling. Returns
    a :class:`WorkerResult` per tuple, in order. Raises WorkerFailure when a call raised,
    a process died, or the whole run took longer than ``timeout_s`` (hung processes are
    killed).
    """
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start = context.Barrier(len(arguments), timeout=timeout_s)
    processes = [context.Process(target=_child, args=(target, tuple(args), uri, index,
                                                      start, results), daemon=True)
                 for index, args in enumerate(arguments)]
    for process in processes:
        process.start()
    outcomes: dict = {}
    deadline = time.monotonic() + timeout_s
    try:
        while len(outcomes) < len(processes) and time.monotonic() < deadline:
            try:
                index, value, failure = results.get(timeout=0.5)
            except queue.Empty:
                if all(processes[index].exitcode is not None
                       for index in range(len(processes)) if index not in outcomes):
                    break  # every process still owing a result has died
                continue
            outcomes[index] = (value, failure)
    finally:
        for process in processes:
            process.join(timeout=5 if len(outcomes) == len(processes) else 0.1)
            if process.is_alive():
                process.kill()
                process.join()
    missing = [index for index in range(len(processes)) if index not in outcomes]
    if missing:
        raise WorkerFailure("worker(s) %s reported nothing within %s s (exit codes %s): hung or "
                            "died" % (missing, timeout_s,
                                      [processes[index].exitcode for index in missing]))
    failures = ["worker %d:\n%s" % (index, failure)
                for index, (_, failure) in sorted(outcomes.items()) if failure is not None]
    if failures:
        raise WorkerFailure("\n".join(failures))
    return [outcomes[index][0] for index in range(len(processes))]
