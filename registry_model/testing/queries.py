"""Count the SQL statements a block of code sends, as the query budgets do.

::

    with count_statements() as counted:
        registry_model.lookup_repository("devtable", "simple")
    assert counted.count <= 1, counted.statements

Transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE) is not
counted. Built on peewee's query hooks of the bound database.
"""
import re
from contextlib import contextmanager
from typing import Iterator

from registry_model.connection import db

_TRANSACTION_CONTROL = re.compile(
    r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|START TRANSACTION)\b",
    re.IGNORECASE)


class StatementCounter:
    """The statements seen so far: ``statements`` lists their SQL, ``count`` their number."""

    def __init__(self) -> None:
        self.statements: list = []

    def __call__(self, event) -> None:
        if not _TRANSACTION_CONTROL.match(event.sql):
            self.statements.append(event.sql)

    @property
    def count(self) -> int:
        """How many statements were sent, transaction control left out."""
        return len(self.statements)


@contextmanager
def count_statements() -> Iterator[StatementCounter]:
    """Count the statements sent to the bound database inside the ``with`` block."""
    counter = StatementCounter()
    hooks = db.obj.query_hooks
    hooks.append(counter)
    try:
        yield counter
    finally:
        hooks.remove(counter)
