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

:func:`run_beside` adds a background worker, such as a garbage collector, that calls its
function over and over, from the start until every other worker has finished (at least
once), as a registry's collector runs beside its pushes::

    pushes, collections = run_beside(push_images, uri, [(worker,) for worker in range(3)],
                                     collect_once, (storage,))
    collections.value  # what each call of collect_once returned, in order
"""
import logging
import multiprocessing
import queue
import time
import traceback
from typing import Any, Callable, NamedTuple, Optional, Sequence

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


def _child(target: Callable, args: tuple, uri: str, index: int, start, results,
           stop=None) -> None:
    """One worker: bind, wait for the others, call (``stop`` given: call until it is set)."""
    from registry_model.database import configure, db

    counter = _RetryCounter()
    retry_logger = logging.getLogger(RETRY_LOGGER)
    retry_logger.addHandler(counter)
    retry_logger.setLevel(logging.INFO)
    try:
        configure(uri)
        start.wait()
        started = time.monotonic()
        if stop is None:
            value = target(*args)
        else:
            value = [target(*args)]
            while not stop.is_set():
                value.append(target(*args))
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
    return _run(target, uri, arguments, None, (), timeout_s)


def run_beside(target: Callable, uri: str, arguments: Sequence[tuple], background: Callable,
               background_args: tuple = (), timeout_s: float = 300) -> tuple:
    """As :func:`run_in_processes`, with one more process calling ``background(*args)``
    again and again until the others have finished (at least once).

    Returns ``(a WorkerResult per tuple, the background's WorkerResult)``; the
    background's value is the list of what each of its calls returned. Its failure
    fails the run as any worker's does.
    """
    results = _run(target, uri, arguments, background, tuple(background_args), timeout_s)
    return results[:-1], results[-1]


def _run(target: Callable, uri: str, arguments: Sequence[tuple],
         background: Optional[Callable], background_args: tuple, timeout_s: float) -> list:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [(target, tuple(args), None) for args in arguments]
    stop = context.Event() if background is not None else None
    if background is not None:
        workers.append((background, background_args, stop))
    start = context.Barrier(len(workers), timeout=timeout_s)
    processes = [context.Process(target=_child, args=(function, args, uri, index, start,
                                                      results, looping), daemon=True)
                 for index, (function, args, looping) in enumerate(workers)]
    for process in processes:
        process.start()
    outcomes: dict = {}
    deadline = time.monotonic() + timeout_s
    try:
        while len(outcomes) < len(processes) and time.monotonic() < deadline:
            if stop is not None and all(index in outcomes for index in range(len(arguments))):
                stop.set()  # every worker has finished: the background may stop
            try:
                index, value, failure = results.get(timeout=0.5)
            except queue.Empty:
                if all(processes[index].exitcode is not None
                       for index in range(len(processes)) if index not in outcomes):
                    break  # every process still owing a result has died
                continue
            outcomes[index] = (value, failure)
            if failure is not None and stop is not None:
                stop.set()  # a failed run need not wait for the background
    finally:
        if stop is not None:
            stop.set()
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
