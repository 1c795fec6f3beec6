"""Fixtures of the backfill proofs: a settable registry clock and a random pre-OCI registry."""
import pytest

from registry_model import clock as registry_clock
from registry_model.blobstore import InMemoryBlobStore
from registry_model.oci.model import OCIModel

START = 1_700_000_000


class Clock:
    """The registry's clock for both wings, in Unix seconds; ``tick(seconds)`` moves it."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> int:
        return self.now

    def ms(self) -> int:
        return self.now * 1000

    def tick(self, seconds: int) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    """A Clock patched in as ``registry_model.clock.now_ts`` and ``now_ms``."""
    patched = Clock()
    monkeypatch.setattr(registry_clock, "now_ts", patched)
    monkeypatch.setattr(registry_clock, "now_ms", patched.ms)
    return patched


@pytest.fixture
def store():
    """An in-memory blob store for the test."""
    return InMemoryBlobStore()


@pytest.fixture
def oci_model(initialized_db):
    """An OCIModel over ``initialized_db``."""
    return OCIModel()
