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
