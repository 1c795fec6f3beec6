"""The S3 gateway the tests use: the one .ci/run started, or one started for this session.

``REGISTRY_MODEL_S3_URI`` (with the AWS credential variables) names a running gateway,
as ``tests/ceph/rgw.py start`` prints it; without it, a machine with Ceph's packages
starts its own cluster once per test session; under CI (the CI variable set) the S3 tests
always run, and fail if no gateway can be had. Each store gets a fresh prefix, emptied
afterwards, so tests never see each other's blobs. tests/conftest.py imports the fixtures.
"""
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

SCRIPT = Path(__file__).resolve().parent / "ceph" / "rgw.py"
URI_VARIABLE = "REGISTRY_MODEL_S3_URI"
DIR_VARIABLE = "REGISTRY_MODEL_CEPH_DIR"
# Debian's python3-rados lives only in the system Python.
SYSTEM_PYTHON = "/usr/bin/python3"


def available() -> bool:
    """True when a gateway is running or can be started here."""
    return (bool(os.environ.get(URI_VARIABLE)) or bool(os.environ.get("CI"))
            or shutil.which("radosgw") is not None)


def start_for_session() -> str:
    """Start a cluster in a new folder; set the variables; return the folder."""
    folder = tempfile.mkdtemp(prefix="registry_model_ceph_")
    output = subprocess.run([SYSTEM_PYTHON, str(SCRIPT), "start", "--dir", folder],
                            check=True, stdout=subprocess.PIPE, text=True).stdout
    for line in output.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        os.environ[name] = value
    return folder


def stop(folder: str) -> None:
    subprocess.run([SYSTEM_PYTHON, str(SCRIPT), "stop", "--dir", folder], check=True)


def gateway(command: str) -> None:
    """Run ``gateway-stop`` or ``gateway-start`` on the session's cluster."""
    subprocess.run([SYSTEM_PYTHON, str(SCRIPT), command, "--dir", os.environ[DIR_VARIABLE]],
                   check=True)


def fresh_uri() -> str:
    """The gateway's URI with a prefix of its own."""
    base = os.environ[URI_VARIABLE]
    head, _, query = base.partition("?")
    return "%s/%s?%s" % (head.rstrip("/"), uuid.uuid4().hex, query)


def empty(store) -> None:
    """Delete every object under the store's prefix, and abort its multipart uploads."""
    client, bucket, prefix = store._client, store.bucket, store._keys.root
    for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket,
                                                                        Prefix=prefix):
        for upload in page.get("Uploads", ()):
            client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"],
                                          UploadId=upload["UploadId"])
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", ())]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


@pytest.fixture(scope="session")
def s3_gateway_uri():
    """The running gateway's base URI, starting a cluster for the session if none is named."""
    if not available():
        # As the skopeo fixture does: a user's machine may lack Ceph, CI never does.
        pytest.skip("no S3 gateway: apt-get install ceph-mon ceph-osd radosgw python3-rados "
                    "(under CI this is a failure)")
    folder = None
    if not os.environ.get(URI_VARIABLE):
        folder = start_for_session()
    yield os.environ[URI_VARIABLE]
    if folder is not None:
        stop(folder)


def store_under_fresh_prefix(client=None):
    """An S3BlobStore on the gateway under a prefix of its own, as ``open_store`` of
    :func:`fresh_uri` opens it; with ``client``, on that boto3 client instead of a new one."""
    from registry_model.blobstore.s3 import S3BlobStore
    from registry_model.blobstore.uri import open_store

    uri = fresh_uri()
    if client is None:
        return open_store(uri)
    parts = urlsplit(uri)
    options = parse_qs(parts.query)
    return S3BlobStore(parts.hostname, prefix=unquote(parts.path),
                       endpoint_url=options.get("endpoint", [None])[-1],
                       region=options.get("region", [None])[-1], client=client)


@pytest.fixture(scope="session")
def s3_client(s3_gateway_uri):
    """One boto3 client of the gateway for the session's stores.

    Making a client parses botocore's service models, a tenth of a second or more: the
    S3 tests would pay that for each store. A client is thread-safe and holds no state a
    test sees (its stores differ by prefix), except across a gateway restart:
    tests/blobstore/test_s3_faults.py gives its stores clients of their own.
    """
    from registry_model.blobstore.s3_bucket import make_client

    parts = urlsplit(s3_gateway_uri)
    options = parse_qs(parts.query)
    return make_client(options.get("endpoint", [None])[-1], options.get("region", [None])[-1])


@pytest.fixture
def s3_store(s3_client):
    """An S3BlobStore on the gateway under a fresh prefix, emptied afterwards."""
    store = store_under_fresh_prefix(s3_client)
    yield store
    empty(store)
