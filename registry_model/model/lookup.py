"""Process-wide cache of the lookup tables (kinds, visibilities, media types, ...).

The rows are filled by the first migration and never change at run time, so
each process reads them once per database and then maps names to ids (and
back) without a query. The cache is keyed by the database object, so binding
another database with ``configure`` reads that one's ids afresh.
"""
import threading
import weakref
from typing import NamedTuple

from registry_model import errors
from registry_model.connection import db
from registry_model.model.tables import (
    ImageStorageLocation,
    LabelSourceType,
    MediaType,
    RepositoryKind,
    Visibility,
)


class LookupTables(NamedTuple):
    """Name-to-id maps of every lookup table, plus the mutability of label sources."""

    kinds: dict
    visibilities: dict
    locations: dict
    media_types: dict
    source_types: dict
    mutable_source_type_ids: frozenset


_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_inverse_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_lock = threading.Lock()
_current: tuple = (None, None, None)


def _load() -> LookupTables:
    def names(model):
        return {row.name: row.id for row in model.select(model.id, model.name)}

    source_rows = list(LabelSourceType.select())
    return LookupTables(
        kinds=names(RepositoryKind),
        visibilities=names(Visibility),
        locations=names(ImageStorageLocation),
        media_types=names(MediaType),
        source_types={row.name: row.id for row in source_rows},
        mutable_source_type_ids=frozenset(row.id for row in source_rows if row.mutable),
    )


def _loaded() -> tuple:
    """``(database, tables, inverse maps)`` of the bound database, loaded on first use."""
    global _current
    database = db.obj
    current = _current
    if current[0] is database:
        return current
    with _lock:
        cached = _cache.get(database)
        if cached is None:
            cached = _load()
            _cache[database] = cached
            _inverse_cache[database] = {
                field: {row_id: name for name, row_id in getattr(cached, field).items()}
                for field in ("kinds", "visibilities", "locations", "media_types",
                              "source_types")}
        # One tuple, swapped whole, so a reader never pairs one database with
        # another's ids; the weak maps keep the tables of every database seen.
        _current = (database, cached, _inverse_cache[database])
        return _current


def tables() -> LookupTables:
    """The cached lookup tables of the bound database, loaded on first use."""
    return _loaded()[1]


def _name(field: str, row_id: int) -> str:
    return names(field)[row_id]


def names(field: str) -> dict:
    """``{id: name}`` of one lookup table (``kinds``, ``media_types``, ...), bound database."""
    return _loaded()[2][field]


def clear() -> None:
    """Forget every cached table (after a migration adds lookup rows, say)."""
    global _current
    with _lock:
        _cache.clear()
        _inverse_cache.clear()
        _current = (None, None, None)


def _id(field: str, name: str, exception: type, what: str) -> int:
    try:
        return getattr(tables(), field)[name]
    except (KeyError, TypeError):
        raise exception("unknown %s %r" % (what, name)) from None


def kind_id(name: str) -> int:
    """Id of a repository kind; InvalidRepositoryKindException for an unknown name."""
    return _id("kinds", name, errors.InvalidRepositoryKindException, "repository kind")


def kind_name(row_id: int) -> str:
    """Name of the repository kind with this id."""
    return _name("kinds", row_id)


def visibility_id(name: str) -> int:
    """Id of a visibility (public, private); UnknownLookupValueException otherwise."""
    return _id("visibilities", name, errors.UnknownLookupValueException, "visibility")


def is_public(visibility_row_id: int) -> bool:
    """True when the visibility id is the ``public`` one."""
    return tables().visibilities.get("public") == visibility_row_id


def location_id(name: str) -> int:
    """Id of a storage location; UnknownLookupValueException for an unknown name."""
    return _id("locations", name, errors.UnknownLookupValueException, "storage location")


def location_name(row_id: int) -> str:
    """Name of the storage location with this id."""
    return _name("locations", row_id)


def media_type_id(name: str) -> int:
    """Id of a media type; InvalidMediaTypeException for an unknown name."""
    return _id("media_types", name, errors.InvalidMediaTypeException, "media type")


def media_type_name(row_id: int) -> str:
    """Name of the media type with this id."""
    return _name("media_types", row_id)


def source_type_id(name: str) -> int:
    """Id of a label source type; UnknownLabelSourceTypeException for an unknown name."""
    return _id("source_types", name, errors.UnknownLabelSourceTypeException,
               "label source type")


def source_type_name(row_id: int) -> str:
    """Name of the label source type with this id."""
    return _name("source_types", row_id)


def is_mutable_source_type(row_id: int) -> bool:
    """True when labels of this source type may be deleted."""
    return row_id in tables().mutable_source_type_ids
