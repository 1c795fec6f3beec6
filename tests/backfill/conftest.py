"""Fixtures of the backfill proofs: a settable registry clock and a random pre-OCI registry."""
import pytest

from registry_model.blobstore import InMemoryBlobStore
from registry_model.oci.model import OCIModel

START = 1_700_000_000


@pytest.fixture
def clock(clock):
    """The shared test clock (tests/conftest.py), set to START for every backfill proof."""
    return clock.at(START)


@pytest.fixture
def store():
    """An in-memory blob store for the test."""
    return InMemoryBlobStore()


@pytest.fixture
def oci_model(initialized_db):
    """An OCIModel over ``initialized_db``."""
    return OCIModel()
