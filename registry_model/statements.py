"""Read statements written as peewee queries, compiled once per process and database.

Building a peewee query and turning it into SQL costs far more than running an
indexed lookup on SQLite (and a good part of one on PostgreSQL), so the hot
read paths do it once: a :class:`Statement` holds a function that builds the
query with :func:`param` placeholders where call-time values go, renders it
the first time it runs against a database object, and from then on only binds
the values and executes the cached SQL through that database's
``execute_sql``, which is what peewee's own queries go through too (so query
hooks, statement counting, reconnects and replica routing all still apply).

Rows come back as namedtuples named after the selected columns (a field's
column name, such as ``image_id``, or the alias given with ``.alias()``), with
the same Python values peewee would have produced (booleans, enums, datetimes).
Optional clauses and IN lists of varying length are expressed through the
*shape*: positional arguments of the builder, each distinct shape compiled
once.
"""
import threading
import weakref
from collections import namedtuple
from datetime import datetime
from typing import Any, Callable, Optional

from peewee import (
    Alias,
    BooleanField,
    CharField,
    DateTimeField,
    Field,
    ForeignKeyField,
    IntegerField,
    PostgresqlDatabase,
    TextField,
    Value,
)
from playhouse.fields import IntEnumField

from registry_model.connection import backend_name, db

# Field classes whose driver values already are what peewee would return on
# every backend; anything else (booleans from SQLite/MySQL integers, enums,
# datetimes from SQLite text) goes through the field's python_value.
_DRIVER_NATIVE_FIELDS = (IntegerField, ForeignKeyField, CharField, TextField)


class _Placeholder:
    """Stands in a rendered query's parameter list for a value bound at call time.

    Not a tuple: peewee would unpack a tuple value into a row value.
    """

    __slots__ = ("name", "index")

    def __init__(self, name: str, index: Optional[int]) -> None:
        self.name = name
        self.index = index


def param(name: str, index: Optional[int] = None) -> Value:
    """A placeholder for the call-time value ``name`` (its ``index``-th item for a list).

    The value is bound exactly as given, without the field conversions peewee
    applies to literals, so callers pass what the column stores (ints, strs).
    """
    return Value(_Placeholder(name, index), converter=False)


def params(name: str, count: int) -> list:
    """Placeholders for the first ``count`` items of the list value ``name`` (an IN list)."""
    return [param(name, index) for index in range(count)]


def _column_name(node: Any) -> str:
    if isinstance(node, Alias):
        return node._alias
    if isinstance(node, Field):
        return node.column_name
    if getattr(node, "_alias", None):  # a scalar subquery, named with .alias()
        return node._alias
    raise TypeError("statement columns must be fields or aliases, not %r" % (node,))


def _datetime_converter(field: DateTimeField) -> Callable:
    """SQLite's text datetimes parsed as peewee would, without its strptime loop.

    peewee tries ``strptime`` format by format (several microseconds a value,
    most of a large image listing on SQLite); its two datetime formats are
    ISO 8601 and ``fromisoformat`` reads exactly them. Anything else goes to
    peewee's own conversion, so the result is always the same.
    """
    def convert(value: Any) -> Any:
        if isinstance(value, str) and len(value) in (19, 26) and value[10:11] == " ":
            try:
                return datetime.fromisoformat(value)
            except ValueError:
                pass
        return field.python_value(value)
    convert.iso_text = True  # type: ignore[attr-defined]  # _row_builder writes it in place
    return convert


def _converter(node: Any, typed_driver: bool, backend: str) -> Optional[Callable]:
    """How to turn the driver's value of a column into peewee's, or None if it already is.

    ``typed_driver``: the driver already returns booleans and datetimes as such
    (psycopg2 for BOOLEAN and TIMESTAMP columns), so those need nothing. A field may
    say what its values need on each ``backend`` (``statement_converters``: backend
    name to a callable for values that are not None, or None for nothing).
    """
    field = node.node if isinstance(node, Alias) else node
    if not isinstance(field, Field):
        return None  # a subquery or expression: the driver's value, as peewee gives it
    by_backend = getattr(field, "statement_converters", None)
    if by_backend is not None and backend in by_backend:
        return by_backend[backend]  # what the field says python_value comes to there
    if isinstance(field, IntEnumField):
        # A dict lookup: calling the enum class costs more than the rest of the row.
        members = {member.value: member for member in field.enum_class}
        return members.__getitem__
    if isinstance(field, (BooleanField, DateTimeField)) and typed_driver:
        return None
    if isinstance(field, BooleanField):
        return bool
    if isinstance(field, DateTimeField):
        return _datetime_converter(field)
    if isinstance(field, _DRIVER_NATIVE_FIELDS):
        return None
    if type(field).python_value is Field.python_value and type(field).adapt is Field.adapt:
        return None  # a plain Field subclass (such as AncestorsField) keeps the driver's value
    return field.python_value


def _binder(rendered: list) -> Callable[[dict], list]:
    """A function from the call's values to the statement's parameter list.

    Generated once per rendering, like namedtuple's methods, because binding
    runs on every call and an interpreted loop over the parameters costs as
    much as a whole indexed lookup on SQLite. Only placeholder names (repr'd)
    and positions go into the source; constants stay objects.
    """
    constants = []
    items = []
    for value in rendered:
        if not isinstance(value, _Placeholder):
            items.append("constants[%d]" % len(constants))
            constants.append(value)
        elif value.index is None:
            items.append("values[%r]" % value.name)
        else:
            items.append("values[%r][%d]" % (value.name, value.index))
    return eval("lambda values: [%s]" % ", ".join(items), {"constants": constants})  # noqa: S307


def _row_builder(row_type: Optional[type], converters: dict, width: int) -> Callable:
    """A function from the driver's rows to converted ``row_type`` (or plain) tuples.

    Generated once per rendering, like :func:`_binder`: a comprehension with each
    conversion written in place costs a third of a loop over the converters per
    row, which is most of the Python of a large listing. ``converters`` maps a
    column's position to its conversion (applied to values that are not None).
    SQLite's datetimes are parsed in place too (the checks of
    :func:`_datetime_converter`, then ``fromisoformat``); should one of the right
    shape not parse, the rows are built again through the converters.
    """
    if not converters:
        if row_type is None:
            return list
        return lambda rows: [tuple.__new__(row_type, row) for row in rows]
    exact = _generated_builder(row_type, converters, width, inline_iso=False)
    if not any(getattr(convert, "iso_text", False) for convert in converters.values()):
        return exact
    fast = _generated_builder(row_type, converters, width, inline_iso=True)

    def build(rows: list) -> list:
        try:
            return fast(rows)
        except ValueError:  # shaped like a datetime, yet not one: peewee's way, row by row
            return exact(rows)
    return build


def _generated_builder(row_type: Optional[type], converters: dict, width: int,
                       inline_iso: bool) -> Callable:
    items = []
    for position in range(width):
        convert = converters.get(position)
        if convert is None:
            items.append("row[%d]" % position)
        elif inline_iso and getattr(convert, "iso_text", False):
            value = "v_%d" % position
            items.append(f"(iso({value}) if ({value} := row[{position}]).__class__ is str "
                         f"and len({value}) in (19, 26) and {value}[10] == ' ' "
                         f"else convert_{position}({value}) if {value} is not None else None)")
        else:
            items.append("convert_%d(row[%d]) if row[%d] is not None else None"
                         % (position, position, position))
    values = "(%s,)" % ", ".join(items)
    namespace = {"new": tuple.__new__, "row_type": row_type, "iso": datetime.fromisoformat}
    namespace.update(("convert_%d" % position, convert)
                     for position, convert in converters.items())
    source = "lambda rows: [%s for row in rows]" % (
        values if row_type is None else "new(row_type, %s)" % values)
    return eval(source, namespace)  # noqa: S307


class _Compiled:
    """One rendered shape: SQL, how to build its parameter list, and how to build its rows."""

    __slots__ = ("sql", "bind", "columns", "build_rows", "build_tuples")

    def __init__(self, query: Any, database: Any) -> None:
        self.sql, rendered = query.sql()
        self.bind = _binder(rendered)
        columns = [_column_name(node) for node in query._returning]
        if len(set(columns)) != len(columns):
            raise TypeError("statement selects two columns named alike: %s" % columns)
        typed_driver = isinstance(database, PostgresqlDatabase)
        backend = backend_name(database)
        converters = {position: _converter(node, typed_driver, backend)
                      for position, node in enumerate(query._returning)}
        converters = {position: convert for position, convert in converters.items()
                      if convert is not None}
        self.columns = tuple(columns)
        self.build_rows = _row_builder(namedtuple("Row", columns), converters, len(columns))
        self.build_tuples = _row_builder(None, converters, len(columns))


_statements: "weakref.WeakSet" = weakref.WeakSet()


def forget_all() -> None:
    """Make every statement build its query again: what it depends on changed.

    For a change of the schema the builders read, such as a wing declaring another blob
    reference (:mod:`registry_model.model.blob_references`) after statements ran.
    """
    for statement in list(_statements):
        statement.forget()


class Statement:
    """A read query built by ``build(*shape)`` and rendered once per database and shape.

    ``build`` returns a peewee SELECT whose call-time values are
    :func:`param` placeholders; :meth:`rows` and :meth:`first` bind the
    values by name and run the cached SQL on the bound database.
    """

    def __init__(self, build: Callable[..., Any]) -> None:
        self._build = build
        self._compiled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._current: tuple = (None, None)
        _statements.add(self)

    def forget(self) -> None:
        """Drop the rendered SQL, so the next call builds the query again."""
        with self._lock:
            self._compiled = weakref.WeakKeyDictionary()
            self._current = (None, None)

    def _for(self, shape: tuple) -> _Compiled:
        database = db.obj
        current = self._current
        if current[0] is database:
            by_shape = current[1]
        else:
            with self._lock:
                by_shape = self._compiled.setdefault(database, {})
            # One tuple, so a thread never pairs one database with another's SQL.
            self._current = (database, by_shape)
        compiled = by_shape.get(shape)
        if compiled is None:
            compiled = _Compiled(self._build(*shape), database)
            by_shape[shape] = compiled
        return compiled

    def rows(self, shape: tuple = (), **values: Any) -> list:
        """Every row for these values, as namedtuples of the selected columns."""
        compiled = self._for(shape)
        return compiled.build_rows(
            db.obj.execute_sql(compiled.sql, compiled.bind(values)).fetchall())

    def tuples(self, shape: tuple = (), **values: Any) -> list:
        """Every row for these values as a plain tuple, columns in select order.

        The same values as :meth:`rows`, without a namedtuple per row: for listings
        of thousands of rows whose caller unpacks them at once.
        """
        compiled = self._for(shape)
        return compiled.build_tuples(
            db.obj.execute_sql(compiled.sql, compiled.bind(values)).fetchall())

    def columns(self, shape: tuple = ()) -> tuple:
        """The names of the columns the statement selects, in order (as :meth:`rows` names them)."""
        return self._for(shape).columns

    def first(self, shape: tuple = (), **values: Any) -> Optional[tuple]:
        """The first row for these values, or None."""
        found = self.rows(shape, **values)
        return found[0] if found else None

    def sql(self, shape: tuple = ()) -> str:
        """The SQL this statement runs for ``shape`` on the bound database (for EXPLAIN, tests)."""
        return self._for(shape).sql
