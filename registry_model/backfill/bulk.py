"""Multi-row INSERTs for the backfill's large batches, rendered by peewee and bound directly.

``insert_many`` builds a node per value and renders each to SQL, which for a batch
of a few thousand manifests with tens of thousands of blob rows costs more than the
database's own work. Here peewee renders the INSERT of one row (quoting, column
names, the backend's placeholder) and the row group is repeated; values go through
each field's ``db_value``, as peewee would bind them, and the statement through the
database's ``execute_sql``, so statement counting sees it. A statement holds at most
:data:`MAX_PARAMETERS` values (below SQLite's limit) and about :data:`MAX_BYTES` of
text and bytes (well below MariaDB's 16 MiB packet); past either, the rows are split.
"""
from itertools import chain
from typing import Sequence

from peewee import ForeignKeyField, IntegerField

from registry_model.connection import db

MAX_PARAMETERS = 30_000
MAX_BYTES = 4 << 20


def _chunks(rows: Sequence[tuple], width: int):
    chunk: list = []
    size = 0
    for row in rows:
        chunk.append(row)
        size += sum(len(value) for value in row if isinstance(value, (str, bytes)))
        if (len(chunk) + 1) * width > MAX_PARAMETERS or size >= MAX_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def insert_rows(model, fields: Sequence, rows: Sequence[tuple]) -> int:
    """Insert ``rows`` (tuples in the order of ``fields``) into ``model``'s table.

    One statement for up to :data:`MAX_PARAMETERS` values and :data:`MAX_BYTES`, more
    past that; returns how many statements it sent.
    """
    if not rows:
        return 0
    first = model.insert_many([rows[0]], fields=list(fields)).returning()  # no RETURNING
    sql, _ = first.sql()
    head, _, group = sql.rpartition(" VALUES ")
    if not group.startswith("(") or not group.endswith(")"):
        raise AssertionError("unexpected INSERT rendering: %s" % sql)
    # Integers (and ids) go to every driver as they are; the rest as peewee binds them.
    converters = [None if isinstance(field, (IntegerField, ForeignKeyField)) else field.db_value
                  for field in fields]
    statements = 0
    for chunk in _chunks(rows, len(fields)):
        if not any(converters):
            params = list(chain.from_iterable(chunk))
        else:
            params = [convert(value) if convert is not None else value for row in chunk
                      for convert, value in zip(converters, row, strict=True)]
        db.execute_sql("%s VALUES %s" % (head, ", ".join([group] * len(chunk))), params)
        statements += 1
    return statements
