"""Read replicas: stale-tolerant reads go to a replica, everything else to the primary.

:func:`registry_model.database.configure` with ``replicas=[uri, ...]`` builds the
primary with :class:`ReplicaRoutingMixin` and hands it a :class:`ReplicaSet`.
Routing happens in the primary's ``execute_sql``, which peewee queries and
precompiled statements (``db.execute_sql(sql, params)``) both go through. A
statement goes to a replica only when all three hold:

- the call is marked stale-tolerant: it runs inside :func:`stale_reads` or a
  function decorated with :func:`stale_ok` (PreOCIModel marks its lookups and
  listings), and not inside :func:`primary_reads`;
- the primary has no transaction open on this thread (a read inside a
  transaction must see that transaction's writes);
- it is a SELECT without a locking clause.

The replica is chosen at random among the healthy ones. One that fails to
connect or to run the statement (OperationalError, InterfaceError,
DatabaseUnavailableException) is skipped
for the cool-down, a warning is logged, and the statement runs again on the
primary: a SELECT is safe to repeat. Replicas share the primary's
``query_hooks``, so statement counting sees every statement wherever it ran.
Each thread has its own replica connections, as peewee gives it its own primary
connection; closing the primary (``db.close()``, the end of
``connection_context()``) closes this thread's replica connections too, which
returns them to their pools.

A lookup decorated with ``stale_ok(confirm_miss=True)`` that finds nothing on a
replica asks the primary before answering None, since a replica that lags
behind has not seen what was just created.
"""
import functools
import logging
import random
import re
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional, Sequence, TypeVar
from urllib.parse import parse_qs, urlparse

from peewee import Database, InterfaceError, OperationalError

from registry_model import errors

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_COOLDOWN_S = 30.0
REPLICA_CONNECT_TIMEOUT_S = 5

_SELECT = re.compile(r"^[\s(]*SELECT\b", re.IGNORECASE)
_LOCKING = re.compile(r"\bFOR\s+(UPDATE|SHARE|NO\s+KEY\s+UPDATE|KEY\s+SHARE)\b"
                      r"|\bLOCK\s+IN\s+SHARE\s+MODE\b", re.IGNORECASE)


class _ThreadState(threading.local):
    def __init__(self) -> None:
        self.stale_depth = 0  # > 0 inside stale_reads() / a stale_ok function
        self.primary_depth = 0  # > 0 inside primary_reads(): wins over stale_depth
        self.used_replica = False  # a statement of the current stale call ran on a replica


_state = _ThreadState()
# Set once the process configures a replica; never cleared, so a stale flag only
# costs the bookkeeping, never a misrouted read.
_replicas_in_use = False


def stale_reads_allowed() -> bool:
    """True when this thread's current reads may be served by a replica."""
    return _state.stale_depth > 0 and _state.primary_depth == 0


@contextmanager
def stale_reads() -> Iterator[None]:
    """Mark the SELECTs of the block (on this thread) as allowed to be a little stale."""
    _state.stale_depth += 1
    try:
        yield
    finally:
        _state.stale_depth -= 1


@contextmanager
def primary_reads() -> Iterator[None]:
    """Send every statement of the block to the primary, even inside stale_reads().

    For code that reads what it has just written (read-your-writes) without a
    transaction around both.
    """
    _state.primary_depth += 1
    try:
        yield
    finally:
        _state.primary_depth -= 1


def stale_ok(function: Optional[F] = None, *, confirm_miss: bool = False):
    """Decorate a read-only function whose SELECTs may be served by a replica.

    With ``confirm_miss``, a call that returned None after a replica served
    any of its statements runs again on the primary, so a replica that lags
    behind never hides a row that exists. Usable bare (``@stale_ok``) or with
    the option (``@stale_ok(confirm_miss=True)``); the decorated function has
    ``stale_ok`` (and ``confirm_miss``) attributes for introspection.
    """
    def decorate(wrapped: F) -> F:
        @functools.wraps(wrapped)
        def wrapper(*args, **kwargs):
            if not _replicas_in_use:
                # No replica was ever configured in this process: skip the
                # thread-local bookkeeping, which costs as much as a fast lookup.
                return wrapped(*args, **kwargs)
            state = _state
            outer_used = state.used_replica
            state.used_replica = False
            state.stale_depth += 1  # stale_reads() inlined: this wraps the hottest reads
            try:
                result = wrapped(*args, **kwargs)
                used = state.used_replica
            finally:
                state.stale_depth -= 1
                state.used_replica = outer_used or state.used_replica
            if confirm_miss and result is None and used:
                with primary_reads():
                    return wrapped(*args, **kwargs)
            return result

        wrapper.stale_ok = True
        wrapper.confirm_miss = confirm_miss
        return wrapper  # type: ignore[return-value]

    return decorate(function) if function is not None else decorate


def is_routable(sql: str) -> bool:
    """True for a plain SELECT (no FOR UPDATE/SHARE): the only statements a replica runs."""
    return bool(_SELECT.match(sql)) and not _LOCKING.search(sql)


class ReplicaSet:
    """The replicas of one primary, with their health, and counters for monitoring.

    ``databases`` holds the replica database objects in configuration order.
    ``statements[i]`` counts statements replica ``i`` answered, ``failures[i]``
    the failures that put it on cool-down, ``fallbacks`` the statements re-run on
    the primary after a replica failed. Thread-safe.
    """

    def __init__(self, databases: Sequence[Database], names: Sequence[str],
                 cooldown_s: float = DEFAULT_COOLDOWN_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        global _replicas_in_use
        _replicas_in_use = True
        self.databases = list(databases)
        self.names = list(names)
        self.cooldown_s = cooldown_s
        self.clock = clock
        self._down_until = [float("-inf")] * len(self.databases)
        self.statements = [0] * len(self.databases)
        self.failures = [0] * len(self.databases)
        self.fallbacks = 0
        self._lock = threading.Lock()

    def healthy(self) -> list:
        """Indexes of the replicas not on cool-down."""
        now = self.clock()
        with self._lock:
            return [index for index, until in enumerate(self._down_until) if until <= now]

    def choose(self) -> Optional[int]:
        """A random healthy replica's index, or None when all are on cool-down."""
        healthy = self.healthy()
        return random.choice(healthy) if healthy else None

    def mark_down(self, index: int, exc: BaseException) -> None:
        """Put replica ``index`` on cool-down after ``exc`` and drop this thread's connection."""
        with self._lock:
            now = self.clock()
            was_up = self._down_until[index] <= now
            self._down_until[index] = now + self.cooldown_s
            self.failures[index] += 1
        # One warning per outage, not one per thread that had a statement in flight.
        log = logger.warning if was_up else logger.debug
        log("read replica %s failed (%s: %s); reading from the primary for %.1fs",
            self.names[index], type(exc).__name__, str(exc).strip(), self.cooldown_s)
        self._close_quietly(self.databases[index])

    def execute(self, index: int, sql: str, params: Any) -> Any:
        """Run a SELECT on replica ``index``; raises the replica's connection error."""
        cursor = self.databases[index].execute_sql(sql, params)
        with self._lock:
            self.statements[index] += 1
        return cursor

    def count_fallback(self) -> None:
        """Count one statement re-run on the primary after a replica failed."""
        with self._lock:
            self.fallbacks += 1

    def close_thread_connections(self) -> None:
        """Close this thread's replica connections (a pooled one goes back to its pool)."""
        for database in self.databases:
            self._close_quietly(database)

    def close_all(self) -> None:
        """Close every replica connection of every thread where the class allows it (pools)."""
        for database in self.databases:
            closer = getattr(database, "close_all", None)
            if closer is not None:
                closer()
            else:
                self._close_quietly(database)

    @staticmethod
    def _close_quietly(database: Database) -> None:
        if database.is_closed():
            return
        try:
            database.close()
        except Exception:  # a dead connection may fail to close; it is forgotten anyway
            logger.debug("closing a replica connection failed", exc_info=True)


class ReplicaRoutingMixin:
    """Mixin for the primary's database class: routes stale-tolerant SELECTs to replicas."""

    replica_set: Optional[ReplicaSet] = None

    def execute_sql(self, sql, params=None):
        replica_set = self.replica_set
        if (replica_set is None or not stale_reads_allowed() or self.in_transaction()
                or not is_routable(sql)):
            return super().execute_sql(sql, params)
        index = replica_set.choose()
        if index is None:
            return super().execute_sql(sql, params)
        try:
            cursor = replica_set.execute(index, sql, params)
        except (OperationalError, InterfaceError, errors.DatabaseUnavailableException) as exc:
            replica_set.mark_down(index, exc)
            replica_set.count_fallback()
            return super().execute_sql(sql, params)
        _state.used_replica = True
        return cursor

    def close(self):
        """Close this thread's primary connection and its replica connections."""
        if self.replica_set is not None:
            self.replica_set.close_thread_connections()
        return super().close()


def replica_options(uri: str, primary_options: dict) -> dict:
    """The primary's connect options for a replica, with a connect timeout by default.

    A replica that stops answering must cost a request a few seconds, not the
    operating system's TCP timeout: PostgreSQL and MySQL replicas get
    ``connect_timeout`` (:data:`REPLICA_CONNECT_TIMEOUT_S`) unless the options
    or the URI's query string set one.
    """
    options = dict(primary_options)
    parsed = urlparse(uri)
    if not parsed.scheme.startswith("sqlite") and "connect_timeout" not in options \
            and "connect_timeout" not in parse_qs(parsed.query):
        options["connect_timeout"] = REPLICA_CONNECT_TIMEOUT_S
    return options


def attach(primary: Database, replicas: Sequence[Database], names: Sequence[str],
           cooldown_s: float = DEFAULT_COOLDOWN_S) -> ReplicaSet:
    """Give a primary built with ReplicaRoutingMixin its replicas; returns their ReplicaSet.

    The replicas share the primary's ``query_hooks`` list, so a hook added to
    the primary (statement counting) sees the statements replicas run.
    """
    if not isinstance(primary, ReplicaRoutingMixin):
        raise TypeError("the primary's class must include ReplicaRoutingMixin")
    for replica in replicas:
        replica.query_hooks = primary.query_hooks
    replica_set = ReplicaSet(replicas, names, cooldown_s)
    primary.replica_set = replica_set
    return replica_set
