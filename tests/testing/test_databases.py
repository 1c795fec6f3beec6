"""registry_model.testing.databases: scratch databases for tests that commit."""
import pytest

from registry_model import errors
from registry_model.database import configure
from registry_model.testing.databases import scratch_database, scratch_database_uri


def _tables(uri):
    database = configure(uri)
    try:
        return database.get_tables()
    finally:
        database.close()


def test_scratch_database_is_a_with_block_yielding_the_uri_of_an_empty_database():
    with scratch_database() as uri:
        assert isinstance(uri, str)
        database = configure(uri)
        database.execute_sql("CREATE TABLE probe (id INTEGER)")
        database.close()
        assert _tables(uri) == ["probe"]
    if not uri.startswith("sqlite"):
        with pytest.raises(errors.DatabaseDoesNotExistException):
            _tables(uri)
    with scratch_database() as other:
        assert other != uri and _tables(other) == []


def test_the_old_name_still_works_and_says_the_new_one():
    with pytest.warns(DeprecationWarning, match="scratch_database"):
        context = scratch_database_uri()
    with context as uri:
        assert _tables(uri) == []


def test_rows_added_after_a_mark_are_deleted_and_the_marked_ones_kept():
    from registry_model.testing.databases import (
        delete_rows_after,
        mark_rows,
        migrated_scratch_database,
        snapshot_rows,
    )
    from registry_model.testing.implementations import IMPLEMENTATIONS

    builders = {implementation.name: implementation.builder_class(implementation.model_class())
                for implementation in IMPLEMENTATIONS}
    with migrated_scratch_database() as database:
        kept = {}
        for name, builder in builders.items():
            kept[name] = builder.repository("kept", name)
            builder.push_image(kept[name], "v1", layers=[b"base", b"top"], labels={"a": "b"})
        marks = mark_rows(database.scratch_uri)
        before = snapshot_rows()
        for name, builder in builders.items():
            builder.push_image(kept[name], "v2", layers=[b"base", b"other"], labels={"c": "d"})
            added = builder.repository("added", name)
            builder.push_image(added, "v1", layers=[b"base", b"more"])
        assert snapshot_rows() != before
        delete_rows_after(database.scratch_uri, marks)
        assert snapshot_rows() == before
