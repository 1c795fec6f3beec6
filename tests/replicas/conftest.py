"""Fixtures of the streaming-replica tests: a scratch database and a real hot standby.

Collected only with ``REGISTRY_MODEL_REPLICA_TESTS=1`` (see ``tests/conftest.py``) and
``TEST_DATABASE_URI`` naming a database of a local PostgreSQL server, which
:mod:`pg_replica` base-backs-up (the whole server) into ``REGISTRY_MODEL_REPLICA_DIR``
(a new temporary folder when unset) and starts on a free port. The replica is
stopped and its folder removed at the end of the session.
"""
import os
from urllib.parse import urlparse

import pytest

from registry_model.testing.databases import migrated_scratch_database, test_database_uri

from . import pg_replica

REPLICA_DIR_VARIABLE = "REGISTRY_MODEL_REPLICA_DIR"


@pytest.fixture(scope="session")
def primary_uri() -> str:
    """The migrated scratch database on the primary (committed writes, dropped at the end)."""
    uri = test_database_uri()
    if not uri or not urlparse(uri).scheme.startswith("postgres"):
        pytest.fail("the replica tests need TEST_DATABASE_URI=postgresql://... of a local server")
    with migrated_scratch_database(uri) as database:
        database.close()
        yield database.scratch_uri


@pytest.fixture(scope="session")
def streaming_replica(primary_uri):
    """A hot standby of the primary's server, streaming from it, with the scratch database."""
    replica = pg_replica.start(primary_uri, os.environ.get(REPLICA_DIR_VARIABLE) or None)
    try:
        yield replica
    finally:
        pg_replica.stop(replica.data_dir)


@pytest.fixture(scope="session")
def replica_uri(primary_uri, streaming_replica) -> str:
    """The scratch database's URI on the replica."""
    parsed = urlparse(primary_uri)
    return streaming_replica.uri(database=parsed.path.lstrip("/"), user=parsed.username)
