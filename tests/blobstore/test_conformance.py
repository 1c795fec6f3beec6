"""The BlobStore contract, run against every backend (like distribution's driver testsuites).

A new backend is one more entry in ``BACKENDS``; backend-specific behaviour
(file layout, several processes) lives in ``test_filesystem.py`` and
``test_memory.py``.
"""
import hashlib
import io
import os
import threading
import time
import uuid

import pytest

from registry_model import errors
from registry_model.blobstore import (
    BlobDigestMismatchException,
    BlobNotFoundException,
    BlobStore,
    FilesystemBlobStore,
    InMemoryBlobStore,
    InvalidHashStateException,
    InvalidUploadIdException,
    ResumableSHA256,
    StoredBlob,
    UnsupportedDigestException,
    UploadExistsException,
    UploadNotFoundException,
    UploadOffsetException,
)
from registry_model.blobstore.base import CHUNK_SIZE
from tests import s3_gateway

BACKENDS = {
    "memory": lambda request, tmp_path: InMemoryBlobStore(),
    "filesystem": lambda request, tmp_path: FilesystemBlobStore(tmp_path / "store", fsync=False),
}
if s3_gateway.available():
    # Ceph's RADOS Gateway (tests/ceph/rgw.py): .ci/run starts it before the suites.
    BACKENDS["s3"] = lambda request, tmp_path: request.getfixturevalue("s3_store")

MIB = 1024 * 1024

TRAVERSAL_DIGESTS = [
    "sha256:../../../etc/passwd",
    "sha256:..%2f..%2fetc",
    "sha256/../../x",
    "../sha256:" + "a" * 64,
    "sha256:" + "a" * 62 + "/.",
    "sha256:" + "a" * 64 + "/../../../../tmp/x",
    "sha256:" + "A" * 64,
    "sha256:" + "a" * 64 + "\n",
    "sha256:" + "a" * 63 + "\x00",
    "/etc/passwd",
    "",
]


@pytest.fixture(params=sorted(BACKENDS))
def store(request, tmp_path) -> BlobStore:
    return BACKENDS[request.param](request, tmp_path)


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def new_upload(store) -> str:
    upload_id = str(uuid.uuid4())
    store.initiate_upload(upload_id)
    return upload_id


class LazySource(io.RawIOBase):
    """A read-only file of ``size`` pseudo-random bytes made on demand; records read sizes."""

    def __init__(self, size: int, expected=None) -> None:
        self.remaining = size
        self.requested = []
        self.expected = hashlib.sha256() if expected is None else expected
        self.block = os.urandom(MIB)

    def readable(self) -> bool:
        return True

    def read(self, size=-1):
        self.requested.append(size)
        if size is None or size < 0:
            raise AssertionError("the store asked for the whole source at once")
        size = min(size, self.remaining, len(self.block))
        # A different byte per chunk so that reordered chunks change the digest.
        chunk = bytes([self.remaining % 251]) + self.block[:size - 1] if size else b""
        self.remaining -= size
        self.expected.update(chunk)
        return chunk


# -- put / read ---------------------------------------------------------------


def test_put_returns_the_sha256_digest_and_size(store):
    blob = store.put(b"hello world")
    assert blob == StoredBlob(sha(b"hello world"), 11)
    digest, size = blob
    assert (digest, size) == (blob.digest, blob.size)
    assert store.exists(blob.digest)
    assert store.size(blob.digest) == 11
    assert store.read(blob.digest) == b"hello world"


@pytest.mark.parametrize("make_source", [
    lambda data: bytearray(data),
    lambda data: memoryview(data),
    lambda data: io.BytesIO(data),
    lambda data: (data[i:i + 3] for i in range(0, len(data), 3)),
    lambda data: [b"", data, b""],
], ids=["bytearray", "memoryview", "file", "generator", "list-with-empty-chunks"])
def test_put_accepts_every_kind_of_source(store, make_source):
    data = b"layer bytes " * 100
    assert store.put(make_source(data)) == (sha(data), len(data))
    assert store.read(sha(data)) == data


def test_put_stores_the_empty_blob(store):
    blob = store.put(b"")
    assert blob == (sha(b""), 0)
    assert store.read(blob.digest) == b""
    assert list(store.list_digests()) == [blob.digest]


def test_put_rejects_text(store):
    with pytest.raises(TypeError):
        store.put("not bytes")
    with pytest.raises(TypeError):
        store.put(io.StringIO("text file"))
    assert list(store.list_digests()) == []


def test_put_of_an_existing_blob_is_idempotent(store):
    first = store.put(b"same")
    second = store.put(io.BytesIO(b"same"))
    assert first == second
    assert list(store.list_digests()) == [first.digest]
    assert store.read(first.digest) == b"same"


def test_put_stores_nothing_when_the_source_fails(store):
    def failing():
        yield b"first part"
        raise OSError("client went away")

    with pytest.raises(OSError, match="client went away"):
        store.put(failing())
    assert list(store.list_digests()) == []
    assert not store.exists(sha(b"first part"))


def test_open_streams_the_blob_in_pieces(store):
    data = os.urandom(3 * CHUNK_SIZE + 17)
    digest = store.put(data).digest
    with store.open(digest) as blob:
        assert blob.read(10) == data[:10]
        assert blob.read(CHUNK_SIZE) == data[10:10 + CHUNK_SIZE]
        assert blob.read() == data[10 + CHUNK_SIZE:]
        assert blob.read(1) == b""


def test_fifty_megabyte_blob_is_streamed_in_and_out_in_bounded_chunks(store):
    source = LazySource(50 * MIB)
    blob = store.put(source)
    assert blob == ("sha256:" + source.expected.hexdigest(), 50 * MIB)
    assert max(source.requested) <= CHUNK_SIZE
    assert len(source.requested) > 50
    read_back = hashlib.sha256()
    with store.open(blob.digest) as stream:
        for chunk in iter(lambda: stream.read(MIB), b""):
            assert len(chunk) <= MIB
            read_back.update(chunk)
    assert "sha256:" + read_back.hexdigest() == blob.digest


def test_missing_blob_raises_not_found_everywhere(store):
    digest = sha(b"never stored")
    assert not store.exists(digest)
    for method in (store.size, store.open, store.read, store.remove, store.last_modified):
        with pytest.raises(BlobNotFoundException) as raised:
            method(digest)
        assert isinstance(raised.value, errors.NotFoundException)


def test_remove_deletes_only_that_blob(store):
    keep = store.put(b"keep").digest
    drop = store.put(b"drop").digest
    store.remove(drop)
    assert not store.exists(drop)
    assert store.exists(keep)
    assert list(store.list_digests()) == [keep]
    with pytest.raises(BlobNotFoundException):
        store.remove(drop)
    assert store.put(b"drop").digest == drop


def test_list_digests_yields_every_blob_once_in_order(store):
    assert list(store.list_digests()) == []
    digests = [store.put(b"blob %d" % i).digest for i in range(20)]
    store.put(b"blob 3")
    assert list(store.list_digests()) == sorted(digests)


def test_list_blobs_gives_sizes_and_times_and_remove_many_deletes(store):
    before = time.time()
    blobs = [store.put(b"blob %d" % index) for index in range(12)]
    listed = list(store.list_blobs())
    assert [digest for digest, _, _ in listed] == sorted(blob.digest for blob in blobs)
    assert {digest: size for digest, size, _ in listed} == dict(blobs)
    assert all(before - 2 <= when <= time.time() + 2 for _, _, when in listed)
    store.remove_many([blob.digest for blob in blobs[:10]] + [sha(b"never stored")])
    assert list(store.list_digests()) == sorted(blob.digest for blob in blobs[10:])


def test_last_modified_is_the_time_of_the_put_in_epoch_seconds(store):
    before = time.time()
    digest = store.put(b"timed").digest
    after = time.time()
    # File systems stamp with a coarse clock that may lag time.time() a little.
    assert before - 1 <= store.last_modified(digest) <= after + 1


# -- digests --------------------------------------------------------------------


@pytest.mark.parametrize("digest", TRAVERSAL_DIGESTS)
def test_crafted_digests_are_rejected_before_touching_storage(store, digest):
    assert not store.exists(digest)
    for method in (store.size, store.open, store.read, store.remove, store.last_modified):
        with pytest.raises(errors.InvalidDigestException):
            method(digest)
    upload_id = new_upload(store)
    store.write_chunk(upload_id, 0, b"payload")
    with pytest.raises(errors.InvalidDigestException):
        store.complete_upload(upload_id, digest)
    assert store.upload_length(upload_id) == 7
    assert list(store.list_digests()) == []


@pytest.mark.parametrize("digest", [None, 42, b"sha256:" + b"a" * 64])
def test_non_text_digests_are_rejected(store, digest):
    assert not store.exists(digest)
    with pytest.raises(errors.InvalidDigestException):
        store.size(digest)


def test_other_algorithms_are_refused_as_unsupported(store):
    digest = "sha512:" + hashlib.sha512(b"x").hexdigest()
    assert not store.exists(digest)
    with pytest.raises(UnsupportedDigestException) as raised:
        store.read(digest)
    assert isinstance(raised.value, errors.InvalidDigestException)


# -- concurrency ------------------------------------------------------------------


def test_concurrent_puts_of_the_same_blob_all_succeed(store):
    data = os.urandom(2 * CHUNK_SIZE + 5)
    results, failures = [], []
    start = threading.Barrier(8)

    def put():
        start.wait()
        try:
            results.append(store.put(io.BytesIO(data)))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=put) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert results == [(sha(data), len(data))] * 8
    assert list(store.list_digests()) == [sha(data)]
    assert store.read(sha(data)) == data


# -- uploads -----------------------------------------------------------------------


def test_chunked_upload_becomes_a_blob(store):
    upload_id = new_upload(store)
    assert store.upload_length(upload_id) == 0
    assert store.write_chunk(upload_id, 0, b"abc") == 3
    assert store.write_chunk(upload_id, 3, io.BytesIO(b"def")) == 6
    assert store.write_chunk(upload_id, 6, iter([b"g", b"h"])) == 8
    assert store.upload_length(upload_id) == 8
    assert not store.exists(sha(b"abcdefgh"))
    assert store.complete_upload(upload_id, sha(b"abcdefgh")) == (sha(b"abcdefgh"), 8)
    assert store.read(sha(b"abcdefgh")) == b"abcdefgh"
    with pytest.raises(UploadNotFoundException):
        store.upload_length(upload_id)


def test_empty_upload_completes_to_the_empty_blob(store):
    upload_id = new_upload(store)
    assert store.write_chunk(upload_id, 0, b"") == 0
    assert store.complete_upload(upload_id, sha(b"")) == (sha(b""), 0)
    assert store.read(sha(b"")) == b""


def test_write_chunk_feeds_the_hasher_whose_state_completes_the_upload(store):
    upload_id = new_upload(store)
    data = os.urandom(CHUNK_SIZE + 999)
    state = ResumableSHA256().to_state()
    offset = 0
    for piece in (data[:100], data[100:CHUNK_SIZE], data[CHUNK_SIZE:]):
        hasher = ResumableSHA256.from_state(state)
        offset = store.write_chunk(upload_id, offset, piece, hasher=hasher)
        assert hasher.length == offset
        state = hasher.to_state()
    assert ResumableSHA256.from_state(state).digest_str() == sha(data)
    assert store.complete_upload(upload_id, sha(data), hash_state=state) == (sha(data), len(data))
    assert store.read(sha(data)) == data


def test_complete_upload_hashes_the_bytes_after_a_partial_state(store):
    upload_id = new_upload(store)
    store.write_chunk(upload_id, 0, b"0123456789")
    partial = ResumableSHA256(b"01234").to_state()
    assert store.complete_upload(upload_id, sha(b"0123456789"), partial).size == 10


def test_complete_upload_trusts_the_hash_state_it_is_given(store):
    upload_id = new_upload(store)
    store.write_chunk(upload_id, 0, b"real bytes")
    other = ResumableSHA256(b"fake bytes").to_state()
    with pytest.raises(BlobDigestMismatchException) as raised:
        store.complete_upload(upload_id, sha(b"real bytes"), other)
    assert raised.value.actual == sha(b"fake bytes")
    assert store.complete_upload(upload_id, sha(b"real bytes")).size == 10


@pytest.mark.parametrize("prefix", [None, b"", b"0123", b"0123456789"],
                         ids=["no-state", "empty-state", "partial-state", "full-state"])
def test_upload_hasher_catches_a_prefix_state_up_with_every_written_byte(store, prefix):
    upload_id = new_upload(store)
    store.write_chunk(upload_id, 0, b"01234")
    store.write_chunk(upload_id, 5, b"56789")
    state = ResumableSHA256(prefix).to_state() if prefix is not None else None
    hasher = store.upload_hasher(upload_id, state)
    assert (hasher.length, hasher.digest_str()) == (10, sha(b"0123456789"))
    assert store.upload_length(upload_id) == 10  # reading changed nothing
    assert store.complete_upload(upload_id, sha(b"0123456789"), hasher.to_state()).size == 10


def test_upload_hasher_of_an_empty_or_unknown_upload(store):
    upload_id = new_upload(store)
    assert store.upload_hasher(upload_id).digest_str() == sha(b"")
    store.cancel_upload(upload_id)
    with pytest.raises(UploadNotFoundException):
        store.upload_hasher(upload_id)


@pytest.mark.parametrize("bad_state", [
    "garbage",
    ResumableSHA256(b"more bytes than the upload holds").to_state(),
], ids=["malformed", "longer-than-upload"])
def test_complete_upload_rejects_an_unusable_hash_state_and_keeps_the_upload(store, bad_state):
    upload_id = new_upload(store)
    store.write_chunk(upload_id, 0, b"short")
    with pytest.raises(InvalidHashStateException):
        store.complete_upload(upload_id, sha(b"short"), bad_state)
    with pytest.raises(InvalidHashStateException):
        store.upload_hasher(upload_id, bad_state)
    assert store.upload_length(upload_id) == 5
    assert not store.exists(sha(b"short"))


def test_digest_mismatch_keeps_the_upload_for_a_retry(store):
    upload_id = new_upload(store)
    store.write_chunk(upload_id, 0, b"content")
    wrong = sha(b"something else")
    with pytest.raises(BlobDigestMismatchException) as raised:
        store.complete_upload(upload_id, wrong)
    assert (raised.value.expected, raised.value.actual) == (wrong, sha(b"content"))
    assert not store.exists(wrong)
    assert not store.exists(sha(b"content"))
    assert store.upload_length(upload_id) == 7
    assert store.complete_upload(upload_id, sha(b"content")).size == 7


def test_completing_an_upload_of_an_existing_blob_succeeds(store):
    existing = store.put(b"twice")
    upload_id = new_upload(store)
    store.write_chunk(upload_id, 0, b"twice")
    assert store.complete_upload(upload_id, existing.digest) == existing
    assert list(store.list_digests()) == [existing.digest]
    with pytest.raises(UploadNotFoundException):
        store.upload_length(upload_id)


@pytest.mark.parametrize("offset", [0, 2, 100, -1], ids=["repeat", "gap", "far", "negative"])
def test_write_chunk_at_a_wrong_offset_writes_nothing(store, offset):
    upload_id = new_upload(store)
    store.write_chunk(upload_id, 0, b"x")
    with pytest.raises(UploadOffsetException) as raised:
        store.write_chunk(upload_id, offset, b"y")
    assert (raised.value.offset, raised.value.length) == (offset, 1)
    assert store.upload_length(upload_id) == 1
    assert store.complete_upload(upload_id, sha(b"x")).size == 1


def test_write_chunk_offset_must_be_an_int(store):
    upload_id = new_upload(store)
    for offset in ("0", 0.0, True, None):
        with pytest.raises(TypeError):
            store.write_chunk(upload_id, offset, b"x")
    assert store.upload_length(upload_id) == 0


def test_write_chunk_refuses_a_hasher_of_another_length(store):
    upload_id = new_upload(store)
    store.write_chunk(upload_id, 0, b"abc")
    hasher = ResumableSHA256(b"ab")
    with pytest.raises(InvalidHashStateException):
        store.write_chunk(upload_id, 3, b"def", hasher=hasher)
    assert store.upload_length(upload_id) == 3
    assert hasher.length == 2


def test_a_chunk_whose_source_fails_is_rolled_back_with_its_hasher(store):
    upload_id = new_upload(store)
    hasher = ResumableSHA256()
    store.write_chunk(upload_id, 0, b"good", hasher=hasher)
    before = hasher.to_state()

    def failing():
        yield b"partial " * 1000
        raise OSError("connection reset")

    with pytest.raises(OSError, match="connection reset"):
        store.write_chunk(upload_id, 4, failing(), hasher=hasher)
    assert store.upload_length(upload_id) == 4
    assert hasher.to_state() == before
    assert store.write_chunk(upload_id, 4, b"!", hasher=hasher) == 5
    assert store.complete_upload(upload_id, sha(b"good!"), hasher.to_state()).size == 5


def test_fifty_megabyte_upload_in_chunks_from_lazy_sources(store):
    upload_id = new_upload(store)
    hasher = ResumableSHA256()
    sent = hashlib.sha256()
    offset = 0
    for _ in range(2):
        source = LazySource(25 * MIB, expected=sent)
        offset = store.write_chunk(upload_id, offset, source, hasher=hasher)
        assert max(source.requested) <= CHUNK_SIZE
    assert offset == 50 * MIB
    assert hasher.digest_str() == "sha256:" + sent.hexdigest()
    blob = store.complete_upload(upload_id, hasher.digest_str(), hasher.to_state())
    assert blob == (hasher.digest_str(), 50 * MIB)
    read_back = hashlib.sha256()
    with store.open(blob.digest) as stream:
        for chunk in iter(lambda: stream.read(MIB), b""):
            read_back.update(chunk)
    assert read_back.hexdigest() == sent.hexdigest()


def test_initiating_an_existing_upload_is_refused(store):
    upload_id = new_upload(store)
    store.write_chunk(upload_id, 0, b"kept")
    with pytest.raises(UploadExistsException) as raised:
        store.initiate_upload(upload_id)
    assert isinstance(raised.value, errors.DuplicateException)
    assert store.upload_length(upload_id) == 4


def test_unknown_upload_raises_not_found_everywhere(store):
    upload_id = str(uuid.uuid4())
    with pytest.raises(UploadNotFoundException):
        store.write_chunk(upload_id, 0, b"x")
    with pytest.raises(UploadNotFoundException):
        store.upload_length(upload_id)
    with pytest.raises(UploadNotFoundException):
        store.complete_upload(upload_id, sha(b"x"))
    with pytest.raises(UploadNotFoundException):
        store.cancel_upload(upload_id)


def test_cancel_upload_discards_the_bytes_and_frees_the_id(store):
    upload_id = new_upload(store)
    store.write_chunk(upload_id, 0, b"discard me")
    store.cancel_upload(upload_id)
    with pytest.raises(UploadNotFoundException):
        store.upload_length(upload_id)
    with pytest.raises(UploadNotFoundException):
        store.complete_upload(upload_id, sha(b"discard me"))
    assert not store.exists(sha(b"discard me"))
    store.initiate_upload(upload_id)
    assert store.upload_length(upload_id) == 0


def test_uploads_are_independent(store):
    first, second = new_upload(store), new_upload(store)
    store.write_chunk(first, 0, b"first")
    store.write_chunk(second, 0, b"second!")
    store.cancel_upload(first)
    assert store.complete_upload(second, sha(b"second!")).size == 7
    assert list(store.list_digests()) == [sha(b"second!")]


def test_upload_ids_in_other_spellings_name_the_same_upload(store):
    upload_id = uuid.uuid4()
    store.initiate_upload(str(upload_id).upper())
    store.write_chunk("{%s}" % upload_id, 0, b"x")
    assert store.upload_length(str(upload_id)) == 1
    with pytest.raises(UploadExistsException):
        store.initiate_upload(str(upload_id))


@pytest.mark.parametrize("upload_id", [
    "../../blobs/sha256", "not-a-uuid", "", "/tmp/x", None, 7, uuid.uuid4(),
])
def test_upload_ids_must_be_uuid_strings(store, upload_id):
    calls = [
        lambda: store.initiate_upload(upload_id),
        lambda: store.write_chunk(upload_id, 0, b"x"),
        lambda: store.upload_length(upload_id),
        lambda: store.complete_upload(upload_id, sha(b"x")),
        lambda: store.cancel_upload(upload_id),
    ]
    for call in calls:
        with pytest.raises(InvalidUploadIdException) as raised:
            call()
        assert isinstance(raised.value, errors.DataModelException)


# -- redirects ------------------------------------------------------------------


def test_a_store_redirects_to_a_url_of_the_blob_or_says_it_cannot(store):
    import urllib.request

    data = b"redirected bytes " * 100
    digest = store.put(data).digest
    url = store.redirect_url(digest, 60)
    if not store.can_redirect:
        assert url is None
        return
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == data
    ranged = urllib.request.Request(url, headers={"Range": "bytes=17-33"})
    with urllib.request.urlopen(ranged, timeout=10) as response:
        assert (response.status, response.read()) == (206, data[17:34])
