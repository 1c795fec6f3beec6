"""S3BlobStore beyond the shared contract, on Ceph's RADOS Gateway: keys, multipart uploads
(saved state, another process, cancel, mismatch), range reads, listing, batch deletes, and
the orphan sweep and the collector on a bucket."""
import hashlib
import io
import json
import multiprocessing
import os
import time
import urllib.error
import urllib.request
import uuid

import pytest

from registry_model import errors
from registry_model.blobstore import (
    BlobDigestMismatchException,
    InvalidHashStateException,
    ResumableSHA256,
    UploadOffsetException,
)
from registry_model.blobstore.errors import BlobStoreUnavailableException
from registry_model.blobstore.s3 import S3BlobStore
from registry_model.blobstore.uri import open_store
from registry_model.testing.builders import layer_bytes, sha256_digest
from registry_model.testing.implementations import IMPLEMENTATIONS

MIB = 1024 * 1024
PART = 5 * MIB
SPAWN = multiprocessing.get_context("spawn")


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(s3_store):
    # The smallest part S3 allows, so that a few MiB already make a multipart upload.
    return S3BlobStore(s3_store.bucket, s3_store._keys.root, s3_store.endpoint_url,
                       client=s3_store._client, part_size=PART)


def keys(store, under: str = "") -> list:
    listed = store._client.list_objects_v2(Bucket=store.bucket, Prefix=store._keys.root + under)
    return sorted(item["Key"][len(store._keys.root):] for item in listed.get("Contents", ()))


def multipart_uploads(store) -> list:
    listed = store._client.list_multipart_uploads(Bucket=store.bucket, Prefix=store._keys.root)
    return listed.get("Uploads", [])


def state_of(store, upload_id: str) -> dict:
    key = store._keys.upload(upload_id, "state")
    return json.loads(store._client.get_object(Bucket=store.bucket, Key=key)["Body"].read())


def write_in_worker(uri: str, upload_id: str, offset: int, data: bytes, state: str) -> tuple:
    hasher = ResumableSHA256.from_state(state)
    store = open_store(uri)
    return store.write_chunk(upload_id, offset, data, hasher=hasher), hasher.to_state()


def test_blobs_live_under_the_prefix_by_digest(store):
    digest = store.put(b"content").digest
    hex_digest = digest.split(":")[1]
    assert keys(store) == ["blobs/sha256/%s/%s" % (hex_digest[:2], hex_digest)]


def test_a_large_put_is_a_multipart_upload_copied_under_its_digest(store):
    data = os.urandom(2 * PART + 123)
    blob = store.put(io.BytesIO(data))
    assert blob == (sha(data), len(data))
    assert keys(store) == [store._keys.blob(blob.digest)[len(store._keys.root):]]
    assert multipart_uploads(store) == []
    assert store.read(blob.digest) == data


def test_an_upload_keeps_its_multipart_state_and_resumes_in_another_process(store):
    upload_id = str(uuid.uuid4())
    store.initiate_upload(upload_id)
    data = os.urandom(2 * PART + 1000)
    hasher = ResumableSHA256()
    assert store.write_chunk(upload_id, 0, data[:PART + 10], hasher=hasher) == PART + 10
    saved = state_of(store, upload_id)
    assert saved["length"] == PART + 10 and saved["tail_size"] == 10
    assert [(number, size) for number, _, size in saved["parts"]] == [(1, PART)]
    assert saved["parts"][0][1].strip('"') and saved["multipart"]
    assert ResumableSHA256.from_state(saved["hash"]).length == PART + 10
    # The next chunk from a fresh process, as after a restart: only the bucket is shared.
    uri = "s3://%s/%s?endpoint=%s" % (store.bucket, store._keys.root, store.endpoint_url)
    with SPAWN.Pool(1) as pool:
        length, state = pool.apply(write_in_worker, (uri, upload_id, PART + 10,
                                                     data[PART + 10:], hasher.to_state()))
    assert length == len(data)
    assert state_of(store, upload_id)["length"] == len(data)
    blob = store.complete_upload(upload_id, sha(data), state)
    assert blob == (sha(data), len(data))
    assert store.read(blob.digest) == data
    assert keys(store, "uploads/") == [] and multipart_uploads(store) == []


def test_the_callers_hasher_serves_as_the_stores_only_when_in_the_same_state(store,
                                                                             monkeypatch):
    data = os.urandom(PART + 100)
    hashed = []
    update = ResumableSHA256.update
    monkeypatch.setattr(ResumableSHA256, "update",
                        lambda self, chunk: hashed.append(len(chunk)) or update(self, chunk))
    # In the store's state (both new): every byte is hashed once, for both.
    shared = str(uuid.uuid4())
    store.initiate_upload(shared)
    hasher = ResumableSHA256()
    store.write_chunk(shared, 0, data, hasher=hasher)
    assert sum(hashed) == len(data)
    assert state_of(store, shared)["hash"] == hasher.to_state()
    assert hasher.digest_str() == sha(data)
    # A hasher of other bytes of that length: the store keeps hashing what it stored.
    other = str(uuid.uuid4())
    store.initiate_upload(other)
    store.write_chunk(other, 0, data[:10])
    wrong = ResumableSHA256(b"x" * 10)
    store.write_chunk(other, 10, data[10:], hasher=wrong)
    assert wrong.length == len(data) and wrong.digest_str() != sha(data)
    assert store.complete_upload(other, sha(data)) == (sha(data), len(data))
    assert store.complete_upload(shared, sha(data), hasher.to_state()).digest == sha(data)


def test_cancel_aborts_the_multipart_upload_and_leaves_nothing(store):
    upload_id = str(uuid.uuid4())
    store.initiate_upload(upload_id)
    store.write_chunk(upload_id, 0, os.urandom(PART + 5))
    assert len(multipart_uploads(store)) == 1
    store.cancel_upload(upload_id)
    assert multipart_uploads(store) == [] and keys(store) == []


def test_a_mismatched_digest_leaves_no_object_and_the_upload_completes_later(store):
    data = os.urandom(PART + 77)
    upload_id = str(uuid.uuid4())
    store.initiate_upload(upload_id)
    store.write_chunk(upload_id, 0, data)
    wrong = sha(b"not these bytes")
    with pytest.raises(BlobDigestMismatchException):
        store.complete_upload(upload_id, wrong)
    assert keys(store, "blobs/") == []
    assert store.complete_upload(upload_id, sha(data)).size == len(data)


def test_a_partial_hash_state_must_reach_the_tail(store):
    data = os.urandom(PART + 77)
    upload_id = str(uuid.uuid4())
    store.initiate_upload(upload_id)
    store.write_chunk(upload_id, 0, data)
    with pytest.raises(InvalidHashStateException, match="tail"):
        store.complete_upload(upload_id, sha(data), ResumableSHA256(data[:100]).to_state())
    tail_reaching = ResumableSHA256(data[:PART + 7]).to_state()
    assert store.complete_upload(upload_id, sha(data), tail_reaching).size == len(data)


def test_upload_hasher_covers_parts_that_cannot_be_read_back(store):
    data = os.urandom(2 * PART + 77)
    upload_id = str(uuid.uuid4())
    store.initiate_upload(upload_id)
    store.write_chunk(upload_id, 0, data[:100])
    store.write_chunk(upload_id, 100, data[100:])
    # A caller's state for the first chunk only: the parts after it are not read but the
    # state object's own hash answers, which covers them.
    hasher = store.upload_hasher(upload_id, ResumableSHA256(data[:100]).to_state())
    assert (hasher.length, hasher.digest_str()) == (len(data), sha(data))
    assert store.complete_upload(upload_id, sha(data), hasher.to_state()).size == len(data)


def test_open_seeks_with_ranged_reads(store):
    data = os.urandom(3 * MIB + 11)
    digest = store.put(data).digest
    with store.open(digest) as blob:
        assert blob.seek(0, io.SEEK_END) == len(data)
        blob.seek(2 * MIB + 5)
        assert blob.read(100) == data[2 * MIB + 5:2 * MIB + 105]
        blob.seek(7)
        assert blob.read(10) == data[7:17]
        assert blob.tell() == 17


def test_remove_many_deletes_in_batches_of_the_limit(store, monkeypatch):
    blobs = [store.put(b"blob %d" % index).digest for index in range(25)]
    requests = []
    original = store._client.delete_objects
    store._client.delete_objects = lambda **kw: requests.append(kw) or original(**kw)
    monkeypatch.setattr("registry_model.blobstore.s3.DELETE_BATCH", 10)
    store.remove_many(blobs[:23])
    assert [len(kw["Delete"]["Objects"]) for kw in requests] == [10, 10, 3]
    assert list(store.list_digests()) == sorted(blobs[23:])


def test_an_endpoint_that_does_not_answer_fails_at_once():
    started = time.monotonic()
    with pytest.raises(BlobStoreUnavailableException, match="127.0.0.1:9"):
        open_store("s3://bucket/p?endpoint=http://127.0.0.1:9")
    assert time.monotonic() - started < 30
    assert issubclass(BlobStoreUnavailableException, errors.DataModelException)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS, ids=lambda entry: entry.name)
def test_the_orphan_sweep_on_a_bucket_keeps_named_and_recent_blobs(initialized_db, store,
                                                                   implementation):
    model = implementation.model_class()
    builder = implementation.builder_class(model, store)
    ref = builder.repository("devtable", "swept")
    pushed = builder.push_image(ref, "latest", layer_bytes(2, "named"))
    orphans = [store.put(b"orphan %d" % index).digest for index in range(5)]
    named = set(pushed.blob_digests)

    kept_recent = model.sweep_orphan_blobs(store, grace_period_s=3600)
    assert (kept_recent.orphan_files, kept_recent.recent_files) == (0, 5)
    summary = model.sweep_orphan_blobs(store, grace_period_s=60, now=int(time.time()) + 7200)
    assert summary.orphan_files == 5
    assert named <= set(store.list_digests())
    assert not any(store.exists(digest) for digest in orphans)
    assert sha256_digest(layer_bytes(2, "named")[0]) in named


def test_of_two_writers_at_one_offset_one_wins(store):
    upload_id = str(uuid.uuid4())
    store.initiate_upload(upload_id)
    other = S3BlobStore(store.bucket, store._keys.root, store.endpoint_url)
    stale = store._load_upload(upload_id)
    store.write_chunk(upload_id, 0, b"first")
    # The loser read the state before the winner saved it: its save is refused.
    fresh = other._load_upload
    answers = [stale]
    other._load_upload = lambda upload: answers.pop() if answers else fresh(upload)
    with pytest.raises(UploadOffsetException) as raised:
        other.write_chunk(upload_id, 0, b"second")
    assert (raised.value.offset, raised.value.length) == (0, 5)
    assert store.complete_upload(upload_id, sha(b"first")).size == 5


def test_a_redirect_url_is_signed_without_a_request_and_refused_once_expired(store):
    data = b"presigned"
    digest = store.put(data).digest
    url = store.redirect_url(digest, 1)
    assert url.startswith(store.endpoint_url + "/")
    assert "X-Amz-Expires=1&" in url and "X-Amz-Signature=" in url  # SigV4, not SigV2
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == data
    time.sleep(2.5)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=10)
    assert refused.value.code == 403
    # Signing asks nothing of the gateway: a blob not in the bucket answers 404 when fetched.
    missing = store.redirect_url(sha(b"never stored"), 60)
    with pytest.raises(urllib.error.HTTPError) as absent:
        urllib.request.urlopen(missing, timeout=10)
    assert absent.value.code == 404


@pytest.mark.parametrize("expires_s", [0, -1, 7 * 24 * 3600 + 1, 1.5, True, "60"])
def test_a_redirect_expiry_outside_one_second_to_seven_days_is_refused(store, expires_s):
    with pytest.raises(ValueError):
        store.redirect_url(sha(b"x"), expires_s)


def test_a_redirect_url_of_a_malformed_digest_is_refused(store):
    with pytest.raises(errors.InvalidDigestException):
        store.redirect_url("sha256:../../etc", 60)
