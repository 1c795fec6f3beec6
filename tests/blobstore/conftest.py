import os

import pytest

from . import s3_gateway


@pytest.fixture(scope="session")
def s3_gateway_uri():
    """The running gateway's base URI, starting a cluster for the session if none is named."""
    folder = None
    if not os.environ.get(s3_gateway.URI_VARIABLE):
        folder = s3_gateway.start_for_session()
    yield os.environ[s3_gateway.URI_VARIABLE]
    if folder is not None:
        s3_gateway.stop(folder)


@pytest.fixture
def s3_store(s3_gateway_uri):
    """An S3BlobStore on the gateway under a fresh prefix, emptied afterwards."""
    from registry_model.blobstore.uri import open_store

    store = open_store(s3_gateway.fresh_uri())
    yield store
    s3_gateway.empty(store)
