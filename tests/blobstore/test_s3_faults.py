"""S3BlobStore when the gateway dies (SIGKILL) mid-upload and mid-download, then restarts:
a clear BlobStoreUnavailableException after boto3's bounded retries, never a partial blob
under a digest, an upload that resumes where its last saved chunk ended, and a collector
that loses nothing referenced."""
import hashlib
import os
import time
import uuid

import pytest

from registry_model.blobstore import ResumableSHA256
from registry_model.blobstore.errors import BlobStoreUnavailableException
from registry_model.testing.builders import layer_bytes
from registry_model.testing.implementations import IMPLEMENTATIONS
from tests import s3_gateway

MIB = 1024 * 1024
RETRY_BOUND_S = 60  # boto3's four attempts with backoff take seconds, not minutes


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Gateway:
    """Kills and restarts the test cluster's gateway; restarts it after the test whatever."""

    def __init__(self) -> None:
        self.down = False

    def kill(self) -> None:
        s3_gateway.gateway("gateway-stop")
        self.down = True

    def restart(self) -> None:
        s3_gateway.gateway("gateway-start")
        self.down = False


@pytest.fixture
def s3_store(s3_gateway_uri):
    """A store on a boto3 client of its own (not the session's): its pooled connections die
    with the gateway and its retry quota is spent here, neither to carry over to other tests."""
    store = s3_gateway.store_under_fresh_prefix()
    yield store
    s3_gateway.empty(store)


@pytest.fixture
def gateway(s3_gateway_uri):
    control = Gateway()
    yield control
    if control.down:
        control.restart()


def killing_source(gateway, data: bytes, kill_at: int):
    """Yields ``data`` in 1 MiB pieces and kills the gateway once ``kill_at`` bytes are out."""
    for start in range(0, len(data), MIB):
        if start >= kill_at and not gateway.down:
            gateway.kill()
        yield data[start:start + MIB]


def test_a_put_cut_by_the_gateway_fails_clearly_and_stores_nothing(s3_store, gateway):
    data = os.urandom(20 * MIB)
    started = time.monotonic()
    with pytest.raises(BlobStoreUnavailableException):
        s3_store.put(killing_source(gateway, data, 10 * MIB))
    assert time.monotonic() - started < RETRY_BOUND_S
    gateway.restart()
    assert not s3_store.exists(sha(data))
    assert list(s3_store.list_digests()) == []
    assert s3_store.put(data).digest == sha(data)


def test_an_upload_cut_by_the_gateway_resumes_from_its_last_chunk(s3_store, gateway):
    data = os.urandom(24 * MIB)
    upload_id = str(uuid.uuid4())
    s3_store.initiate_upload(upload_id)
    hasher = ResumableSHA256()
    assert s3_store.write_chunk(upload_id, 0, data[:9 * MIB], hasher=hasher) == 9 * MIB
    saved = hasher.to_state()
    with pytest.raises(BlobStoreUnavailableException):
        s3_store.write_chunk(upload_id, 9 * MIB,
                             killing_source(gateway, data[9 * MIB:], 8 * MIB), hasher=hasher)
    assert hasher.to_state() == saved
    gateway.restart()
    # Another process would find the same state: the failed chunk left no trace in it.
    assert s3_store.upload_length(upload_id) == 9 * MIB
    assert not s3_store.exists(sha(data))
    assert s3_store.write_chunk(upload_id, 9 * MIB, data[9 * MIB:], hasher=hasher) == len(data)
    assert s3_store.complete_upload(upload_id, sha(data), hasher.to_state()).size == len(data)
    assert s3_store.read(sha(data)) == data


def test_a_completion_cut_by_the_gateway_can_be_retried(s3_store, gateway):
    data = os.urandom(9 * MIB)
    upload_id = str(uuid.uuid4())
    s3_store.initiate_upload(upload_id)
    s3_store.write_chunk(upload_id, 0, data)
    gateway.kill()
    with pytest.raises(BlobStoreUnavailableException):
        s3_store.complete_upload(upload_id, sha(data))
    gateway.restart()
    assert not s3_store.exists(sha(data))
    assert s3_store.complete_upload(upload_id, sha(data)).size == len(data)
    assert s3_store.read(sha(data)) == data


def test_a_download_cut_by_the_gateway_fails_clearly_then_reads_on_from_where_it_was(
        s3_store, gateway):
    data = os.urandom(48 * MIB)
    digest = s3_store.put(data).digest
    read = hashlib.sha256()
    with s3_store.open(digest) as blob:
        first = blob.read(MIB)
        read.update(first)
        gateway.kill()
        with pytest.raises(BlobStoreUnavailableException):
            while True:
                piece = blob.read(MIB)
                assert piece, "the stream ended early instead of failing"
                read.update(piece)
        position = blob.tell()
        assert position < len(data)
        gateway.restart()
        blob.seek(position)
        read.update(blob.read())
    assert "sha256:" + read.hexdigest() == digest


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS[:1], ids=lambda entry: entry.name)
def test_the_collector_loses_nothing_referenced_when_the_gateway_dies(
        initialized_db, s3_store, gateway, implementation):
    model = implementation.model_class()
    builder = implementation.builder_class(model, s3_store)
    ref = builder.repository("devtable", "faulty")
    pushed = builder.push_image(ref, "latest", layer_bytes(3, "kept"))
    orphan = s3_store.put(b"orphan").digest
    later = int(time.time()) + 7200
    gateway.kill()
    with pytest.raises(BlobStoreUnavailableException):
        model.sweep_orphan_blobs(s3_store, grace_period_s=60, now=later)
    gateway.restart()
    assert set(pushed.blob_digests) | {orphan} <= set(s3_store.list_digests())
    assert model.sweep_orphan_blobs(s3_store, grace_period_s=60, now=later).orphan_files == 1
    assert set(s3_store.list_digests()) == set(pushed.blob_digests)
