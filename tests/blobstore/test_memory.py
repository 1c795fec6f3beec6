"""InMemoryBlobStore beyond the shared contract: isolation and its clock."""
import hashlib
import uuid

from registry_model.blobstore import InMemoryBlobStore


def test_each_store_is_isolated():
    first, second = InMemoryBlobStore(), InMemoryBlobStore()
    digest = first.put(b"only in the first").digest
    upload_id = str(uuid.uuid4())
    first.initiate_upload(upload_id)
    assert not second.exists(digest)
    assert list(second.list_digests()) == []
    second.initiate_upload(upload_id)
    assert first.write_chunk(upload_id, 0, b"abc") == 3
    assert second.upload_length(upload_id) == 0


def test_last_modified_comes_from_the_clock_and_put_again_refreshes_it():
    now = [1_000.0]
    store = InMemoryBlobStore(clock=lambda: now[0])
    digest = store.put(b"blob").digest
    assert store.last_modified(digest) == 1_000.0
    now[0] = 2_000.0
    store.put(b"blob")
    assert store.last_modified(digest) == 2_000.0
    upload_id = str(uuid.uuid4())
    store.initiate_upload(upload_id)
    store.write_chunk(upload_id, 0, b"uploaded")
    now[0] = 3_000.0
    uploaded = store.complete_upload(upload_id, "sha256:" + hashlib.sha256(b"uploaded").hexdigest())
    assert store.last_modified(uploaded.digest) == 3_000.0


def test_list_digests_is_a_snapshot_safe_to_iterate_while_removing():
    store = InMemoryBlobStore()
    digests = [store.put(b"%d" % i).digest for i in range(5)]
    for digest in store.list_digests():
        store.remove(digest)
    assert list(store.list_digests()) == []
    assert not any(store.exists(digest) for digest in digests)


def test_read_returns_the_stored_bytes_immutably():
    store = InMemoryBlobStore()
    source = bytearray(b"mutable source")
    digest = store.put(source).digest
    source[:] = b"changed later!"
    assert store.read(digest) == b"mutable source"
    with store.open(digest) as blob:
        assert blob.read() == b"mutable source"
