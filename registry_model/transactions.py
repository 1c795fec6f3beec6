"""Transactions: one write, whole or not at all, and retries when a concurrent writer wins.

Writes go through :func:`transaction` (one transaction, or a savepoint inside
the caller's) or :func:`run_with_retry` (the same, retried when a concurrent
writer wins a race)::

    from registry_model.transactions import run_with_retry
    row = run_with_retry(lambda: Namespace.create(name="acme"))
"""
import hashlib
import logging
import random
import time
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

from peewee import IntegrityError, OperationalError

from registry_model import errors
from registry_model.connection import backend_name, db

logger = logging.getLogger(__name__)

T = TypeVar("T")


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


def advisory_lock(key: str) -> None:
    """On PostgreSQL, wait until no other transaction holds ``key``, then hold it to the end.

    A transaction-scoped advisory lock on a hash of ``key``, taken in a statement of its
    own (none on other backends). Under READ COMMITTED a statement that waits for a row
    lock still reads the snapshot taken before it waited, so it cannot see a row another
    writer inserted meanwhile; writers that take this lock first run their next statement
    after the previous holder's commit. MySQL's locking reads always read the latest rows
    and SQLite has one writer, so they need none.
    """
    if backend_name() != "postgresql":
        return
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    db.execute_sql("SELECT pg_advisory_xact_lock(%s)",
                   (int.from_bytes(digest[:8], "big", signed=True),))


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
