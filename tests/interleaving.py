"""Forcing an interleaving of two writers: one stops right after a chosen statement.

Two threads, each with its own connection (:func:`start`, :func:`finish`); a peewee
query hook (:class:`StopAfter`, added for a test with :func:`query_hooks`, the ``hooks``
fixture of tests/conftest.py) holds one of them after the statement it matches, so the
test decides who locks first instead of hoping for it.
"""
import threading
from contextlib import contextmanager

from registry_model.database import db

TIMEOUT_S = 30
# Long enough for a blocked thread to show it is blocked.
SETTLE_S = 1.0


def normalized(sql: str) -> str:
    return sql.replace('"', "").replace("`", "")


class StopAfter:
    """A query hook stopping the thread named ``thread`` right after a matching statement."""

    def __init__(self, thread: str, matches) -> None:
        self.thread = thread
        self.matches = matches
        self.reached = threading.Event()
        self.release = threading.Event()

    def __call__(self, event) -> None:
        if (threading.current_thread().name == self.thread and not self.reached.is_set()
                and self.matches(normalized(event.sql))):
            self.reached.set()
            self.release.wait(TIMEOUT_S)


@contextmanager
def query_hooks():
    """Add query hooks to the bound database for the block (``add(hook)``); each is
    released and removed at its end."""
    added = []

    def add(hook):
        db.obj.query_hooks.append(hook)
        added.append(hook)
        return hook

    try:
        yield add
    finally:
        for hook in added:
            getattr(hook, "release", threading.Event()).set()
            if hook in db.obj.query_hooks:
                db.obj.query_hooks.remove(hook)


def start(name: str, work) -> tuple:
    """Run ``work`` in a thread with its own connection: ``(thread, outcome dict)``."""
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = work()
        except BaseException as exc:  # the test inspects it
            outcome["error"] = exc
        finally:
            db.close()

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread, outcome


def finish(*threads) -> None:
    for thread in threads:
        thread.join(TIMEOUT_S)
        assert not thread.is_alive(), "%s never finished" % thread.name
