"""The registry_model pytest plugin, registered under the ``pytest11`` entry point.

Fixtures:

- ``initialized_db``: the bound, migrated database. The schema is built once per
  test session (a temporary SQLite file, or the database named by
  ``TEST_DATABASE_URI``) and every test runs inside a transaction that is rolled
  back at its end, so tests see each other's rows never.
- ``registry_model``: a :class:`registry_model.PreOCIModel` on that database.
- ``oci_model``: a :class:`registry_model.OCIModel` on that database.
"""
import pytest

from registry_model.connection import configure, db
from registry_model.migration import upgrade
from registry_model.oci.model import OCIModel
from registry_model.registry_pre_oci_model import PreOCIModel
from registry_model.testing.databases import test_database_uri


@pytest.fixture(scope="session")
def registry_model_session_database(tmp_path_factory):
    """The database of the whole test session, migrated once."""
    uri = test_database_uri()
    if uri is None:
        uri = "sqlite:///%s" % (tmp_path_factory.mktemp("registry_model") / "test.db")
    database = configure(uri)
    upgrade(database)
    yield database
    database.close()


@pytest.fixture
def initialized_db(registry_model_session_database):
    """The migrated database, bound to ``registry_model.database.db``; writes roll back."""
    database = registry_model_session_database
    db.initialize(database)
    with database.atomic() as outer:
        yield database
        outer.rollback()


@pytest.fixture
def registry_model(initialized_db):
    """A PreOCIModel over ``initialized_db``."""
    return PreOCIModel()


@pytest.fixture
def oci_model(initialized_db):
    """An OCIModel over ``initialized_db``."""
    return OCIModel()
