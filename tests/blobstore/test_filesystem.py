"""FilesystemBlobStore beyond the shared contract: its layout, memory use and several processes."""
import fcntl
import hashlib
import multiprocessing
import os
import threading
import time
import tracemalloc
import uuid
from concurrent.futures import ProcessPoolExecutor

import pytest

from registry_model import errors
from registry_model.blobstore import (
    FilesystemBlobStore,
    ResumableSHA256,
    UploadNotFoundException,
    UploadOffsetException,
)

from .test_conformance import MIB, LazySource

SPAWN = multiprocessing.get_context("spawn")


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tree(path) -> list:
    """Every file and folder under ``path``, relative to it."""
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


# Run in spawned processes: each opens its own store on the shared root.

def put_in_worker(root: str, data: bytes) -> tuple:
    return tuple(FilesystemBlobStore(root).put(data))


def write_in_worker(root: str, upload_id: str, offset: int, data: bytes, state: str) -> tuple:
    hasher = ResumableSHA256.from_state(state)
    length = FilesystemBlobStore(root).write_chunk(upload_id, offset, data, hasher=hasher)
    return length, hasher.to_state()


def race_in_worker(root: str, upload_id: str, data: bytes, start) -> str:
    start.wait()
    try:
        FilesystemBlobStore(root).write_chunk(upload_id, 0, data)
    except UploadOffsetException as exc:
        return "refused at length %d" % exc.length
    return "wrote"


@pytest.fixture
def root(tmp_path):
    return tmp_path / "store"


@pytest.fixture
def store(root):
    return FilesystemBlobStore(root)


def test_blobs_live_under_their_digest_and_uploads_under_their_id(store, root):
    digest = store.put(b"content").digest
    hex_digest = digest.split(":")[1]
    assert (root / "blobs" / "sha256" / hex_digest[:2] / hex_digest).read_bytes() == b"content"
    upload_id = str(uuid.uuid4())
    store.initiate_upload(upload_id)
    store.write_chunk(upload_id, 0, b"partial")
    assert (root / "uploads" / upload_id).read_bytes() == b"partial"
    store.complete_upload(upload_id, sha(b"partial"))
    assert not (root / "uploads" / upload_id).exists()
    assert tree(root / "tmp") == []


def test_put_leaves_no_temporary_file_whether_it_succeeds_or_fails(store, root):
    store.put(b"ok")

    def failing():
        yield b"half"
        raise OSError("gone")

    with pytest.raises(OSError):
        store.put(failing())
    assert tree(root / "tmp") == []
    assert list(store.list_digests()) == [sha(b"ok")]


def test_another_store_on_the_same_root_sees_blobs_and_uploads(store, root):
    digest = store.put(b"persisted").digest
    upload_id = str(uuid.uuid4())
    store.initiate_upload(upload_id)
    store.write_chunk(upload_id, 0, b"half")
    other = FilesystemBlobStore(str(root))
    assert other.read(digest) == b"persisted"
    assert other.write_chunk(upload_id, 4, b" done") == 9
    assert store.complete_upload(upload_id, sha(b"half done")).size == 9


def test_list_digests_skips_stray_files(store, root):
    digest = store.put(b"real").digest
    blobs = root / "blobs" / "sha256"
    (blobs / "zz").mkdir()
    (blobs / "zz" / ("f" * 64)).write_bytes(b"bad prefix folder")
    (blobs / "ab").mkdir(exist_ok=True)
    (blobs / "ab" / ("cd" + "0" * 62)).write_bytes(b"in the wrong folder")
    (blobs / "ab" / "notes.txt").write_bytes(b"junk")
    (root / "tmp" / "leftover").write_bytes(b"crashed put")
    assert list(store.list_digests()) == [digest]


def test_put_again_refreshes_last_modified(store, root):
    digest = store.put(b"old").digest
    day_ago = time.time() - 86400
    hex_digest = digest.split(":")[1]
    os.utime(root / "blobs" / "sha256" / hex_digest[:2] / hex_digest, (day_ago, day_ago))
    assert store.last_modified(digest) == pytest.approx(day_ago)
    store.put(b"old")
    assert store.last_modified(digest) > day_ago + 86000


def test_crafted_names_touch_nothing_outside_the_root(store, root, tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    before = tree(tmp_path)
    # Unchecked, this digest would name tmp_path/victim in the blob layout.
    digest = "sha256:../../victim"
    with pytest.raises(errors.InvalidDigestException):
        store.remove(digest)
    with pytest.raises(errors.InvalidDigestException):
        store.read(digest)
    assert not store.exists(digest)
    for upload_id in ("../../victim", "../tmp/x", "..%2f..%2fvictim"):
        with pytest.raises(errors.DataModelException):
            store.initiate_upload(upload_id)
        with pytest.raises(errors.DataModelException):
            store.cancel_upload(upload_id)
    assert victim.read_bytes() == b"precious"
    assert tree(tmp_path) == before


def test_fifty_megabyte_blob_never_sits_in_memory(store):
    tracemalloc.start()
    try:
        blob = store.put(LazySource(50 * MIB))
        with store.open(blob.digest) as stream:
            while stream.read(MIB):
                pass
        upload_id = str(uuid.uuid4())
        store.initiate_upload(upload_id)
        hasher = ResumableSHA256()
        store.write_chunk(upload_id, 0, LazySource(50 * MIB), hasher=hasher)
        # No hash state given: completing reads all 50 MB back to hash them.
        uploaded = store.complete_upload(upload_id, hasher.digest_str())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert blob.size == uploaded.size == 50 * MIB
    assert peak < 10 * MIB


def test_concurrent_puts_from_several_processes_store_one_blob(store, root):
    data = os.urandom(3 * MIB)
    with ProcessPoolExecutor(max_workers=4, mp_context=SPAWN) as pool:
        futures = [pool.submit(put_in_worker, str(root), data) for _ in range(6)]
        results = [future.result(timeout=120) for future in futures]
    assert results == [(sha(data), len(data))] * 6
    assert list(store.list_digests()) == [sha(data)]
    assert store.read(sha(data)) == data
    assert tree(root / "tmp") == []


def test_upload_resumes_across_processes_with_the_saved_hash_state(store, root):
    upload_id = str(uuid.uuid4())
    store.initiate_upload(upload_id)
    data = os.urandom(2 * MIB + 12345)
    pieces = [data[:MIB + 1], data[MIB + 1:2 * MIB], data[2 * MIB:]]
    length, state = 0, ResumableSHA256().to_state()
    for piece in pieces:
        # A new process per chunk, as when a load balancer spreads a session over workers.
        with ProcessPoolExecutor(max_workers=1, mp_context=SPAWN) as pool:
            length, state = pool.submit(write_in_worker, str(root), upload_id, length, piece,
                                        state).result(timeout=120)
    assert length == len(data) == store.upload_length(upload_id)
    assert store.complete_upload(upload_id, sha(data), hash_state=state) == (sha(data), len(data))
    assert store.read(sha(data)) == data


def test_two_processes_writing_at_one_offset_cannot_both_succeed(store, root):
    first, second = b"A" * (2 * MIB), b"B" * (3 * MIB)
    refusals = {"refused at length %d" % len(first), "refused at length %d" % len(second)}
    with SPAWN.Manager() as manager, ProcessPoolExecutor(max_workers=2, mp_context=SPAWN) as pool:
        for _ in range(3):
            upload_id = str(uuid.uuid4())
            store.initiate_upload(upload_id)
            start = manager.Barrier(2)
            futures = [pool.submit(race_in_worker, str(root), upload_id, data, start)
                       for data in (first, second)]
            outcomes = sorted(future.result(timeout=120) for future in futures)
            assert outcomes[1] == "wrote" and outcomes[0] in refusals
            assert (root / "uploads" / upload_id).read_bytes() in (first, second)


def _waiting_flock_on(inode: int) -> bool:
    with open("/proc/locks") as locks:
        return any("->" in line and (":%d " % inode) in line for line in locks)


def test_a_writer_waiting_for_the_lock_does_not_append_to_a_completed_upload(store, root):
    upload_id = str(uuid.uuid4())
    store.initiate_upload(upload_id)
    store.write_chunk(upload_id, 0, b"whole")
    path = root / "uploads" / upload_id
    outcome = []

    def late_writer():
        try:
            outcome.append(store.write_chunk(upload_id, 5, b" and late"))
        except UploadNotFoundException as exc:
            outcome.append(exc)

    with open(path, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        writer = threading.Thread(target=late_writer)
        writer.start()
        deadline = time.monotonic() + 30
        while not _waiting_flock_on(os.fstat(held.fileno()).st_ino):
            assert time.monotonic() < deadline, "the writer never waited for the lock"
            time.sleep(0.01)
        # What complete_upload does under the lock: move the file into the blobs.
        moved = root / "moved"
        os.replace(path, moved)
    writer.join(timeout=30)
    assert len(outcome) == 1 and isinstance(outcome[0], UploadNotFoundException)
    assert moved.read_bytes() == b"whole"
