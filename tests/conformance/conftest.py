"""The conformance suite runs every test once per implementation of the interface.

The implementations are listed in :mod:`registry_model.testing.implementations`; here
``registry_model`` (overriding the plugin's PreOCIModel) is each one in turn and ``builder``
writes test data through it. Tests in this folder never import a wing's tables or factories.
"""

import pytest

from registry_model.blobstore import InMemoryBlobStore
from registry_model.testing.implementations import IMPLEMENTATIONS


def pytest_collection_modifyitems(items):
    """A test an implementation's entry lists as a known bug is a strict expected failure."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        entry = callspec.params.get("implementation") if callspec is not None else None
        reason = getattr(entry, "known_bugs", {}).get(getattr(item, "originalname", None))
        if reason is not None:
            item.add_marker(pytest.mark.xfail(strict=True, reason="%s: %s" % (entry.name,
                                                                              reason)))


@pytest.fixture(params=IMPLEMENTATIONS, ids=[entry.name for entry in IMPLEMENTATIONS])
def implementation(request):
    """One entry of IMPLEMENTATIONS."""
    return request.param


@pytest.fixture
def registry_model(implementation, initialized_db):
    """The implementation under test, on the per-test database."""
    return implementation.model_class()


@pytest.fixture
def store():
    """An in-memory blob store for the test."""
    return InMemoryBlobStore()


@pytest.fixture
def builder(implementation, registry_model, store):
    """Writes test data through ``registry_model`` (uploads into ``store``)."""
    return implementation.builder_class(registry_model, store)
