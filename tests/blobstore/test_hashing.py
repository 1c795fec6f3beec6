"""ResumableSHA256: hashlib's answers, a text state, and resumption in another process."""
import base64
import hashlib
import itertools
import multiprocessing
import os
import pickle
import random
from concurrent.futures import ProcessPoolExecutor

import pytest

from registry_model import errors
from registry_model.blobstore.base import InvalidHashStateException
from registry_model.blobstore.hashing import (
    STATE_FORMAT,
    BackgroundSHA256,
    ResumableSHA256,
    resume_sha256,
)


def continue_in_worker(state: str, chunk: bytes) -> str:
    """Run in a spawned process: resume the state, hash one more chunk, save again."""
    hasher = ResumableSHA256.from_state(state)
    hasher.update(chunk)
    return hasher.to_state()


def chunkings(data: bytes, seed: int):
    """Random cut points over ``data``, including empty chunks and cuts at block edges."""
    rng = random.Random(seed)
    cuts = sorted(rng.choice([0, 63, 64, 65, 128, rng.randrange(len(data) + 1)])
                  for _ in range(rng.randrange(1, 12)))
    cuts = [min(cut, len(data)) for cut in cuts]
    edges = [0] + cuts + [len(data)]
    return [data[start:end] for start, end in itertools.pairwise(edges)]


@pytest.mark.parametrize("size", [0, 1, 55, 56, 63, 64, 65, 127, 128, 1000, 70_000])
@pytest.mark.parametrize("seed", range(4))
def test_resumed_hash_equals_hashlib_for_any_chunking(size, seed):
    data = random.Random(size * 31 + seed).randbytes(size)
    state = ResumableSHA256().to_state()
    for chunk in chunkings(data, seed):
        hasher = ResumableSHA256.from_state(state)
        hasher.update(chunk)
        state = hasher.to_state()
    resumed = ResumableSHA256.from_state(state)
    assert resumed.length == size
    assert resumed.hexdigest() == hashlib.sha256(data).hexdigest()
    assert resumed.digest() == hashlib.sha256(data).digest()
    assert resumed.digest_str() == "sha256:" + hashlib.sha256(data).hexdigest()


def test_empty_hash_is_the_sha256_of_nothing():
    hasher = ResumableSHA256()
    assert hasher.hexdigest() == hashlib.sha256(b"").hexdigest()
    assert ResumableSHA256.from_state(hasher.to_state()).length == 0


def test_reading_the_digest_does_not_end_the_hash():
    hasher = ResumableSHA256(b"abc")
    assert hasher.hexdigest() == hashlib.sha256(b"abc").hexdigest()
    hasher.update(b"def")
    assert hasher.hexdigest() == hashlib.sha256(b"abcdef").hexdigest()


def test_update_accepts_bytes_like_and_refuses_text():
    hasher = ResumableSHA256()
    hasher.update(bytearray(b"ab"))
    hasher.update(memoryview(b"cd"))
    assert hasher.hexdigest() == hashlib.sha256(b"abcd").hexdigest()
    with pytest.raises(TypeError):
        hasher.update("text")
    assert hasher.length == 4


def test_copy_is_independent():
    original = ResumableSHA256(b"shared")
    fork = original.copy()
    fork.update(b" and more")
    assert original.hexdigest() == hashlib.sha256(b"shared").hexdigest()
    assert fork.hexdigest() == hashlib.sha256(b"shared and more").hexdigest()


def test_state_is_short_ascii_text_for_a_database_column():
    hasher = ResumableSHA256(os.urandom(10_000))
    state = hasher.to_state()
    assert isinstance(state, str) and state.isascii() and len(state) < 200
    assert state.startswith(STATE_FORMAT + ":10000:")
    assert ResumableSHA256.from_state(state.encode("ascii")).hexdigest() == hasher.hexdigest()


def test_state_resumes_in_other_processes():
    data = os.urandom(300_000)
    pieces = [data[:100_001], data[100_001:100_001], data[100_001:250_000], data[250_000:]]
    state = ResumableSHA256().to_state()
    context = multiprocessing.get_context("spawn")
    for piece in pieces:
        # A fresh process per chunk: nothing but the text state carries over.
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            state = pool.submit(continue_in_worker, state, piece).result(timeout=60)
    resumed = ResumableSHA256.from_state(state)
    assert resumed.length == len(data)
    assert resumed.hexdigest() == hashlib.sha256(data).hexdigest()


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _valid_raw():
    return ResumableSHA256(b"x" * 100).to_state().split(":")[2]


@pytest.mark.parametrize("make_state", [
    lambda marker: pickle.dumps(_Exploit(marker)),
    lambda marker: base64.b64encode(pickle.dumps(_Exploit(marker))).decode(),
    lambda marker: "%s:0:%s" % (STATE_FORMAT, base64.b64encode(pickle.dumps(_Exploit(marker)))
                                .decode()),
], ids=["raw-pickle", "base64-pickle", "pickle-in-envelope"])
def test_a_pickle_posing_as_state_is_rejected_without_running(tmp_path, make_state):
    marker = tmp_path / "pwned"
    with pytest.raises(InvalidHashStateException):
        ResumableSHA256.from_state(make_state(str(marker)))
    assert not marker.exists()


@pytest.mark.parametrize("state", [
    None,
    12,
    "",
    "garbage",
    b"\xff\xfe",
    "sha256-rehashes-0:100:" + "A" * 140,
    "%s:100" % STATE_FORMAT,
    "%s:-1:AAAA" % STATE_FORMAT,
    "%s:１００:AAAA" % STATE_FORMAT,
    "%s:100:not base64!" % STATE_FORMAT,
    "%s:100:%s" % (STATE_FORMAT, base64.b64encode(b"\0" * 103).decode()),
    "%s:99:%s" % (STATE_FORMAT, "PLACEHOLDER"),
    "%s:100:%s:extra" % (STATE_FORMAT, "PLACEHOLDER"),
], ids=["none", "int", "empty", "garbage", "binary", "other-format", "missing-part",
        "negative-length", "non-ascii-digits", "bad-base64", "short-raw", "wrong-length",
        "extra-part"])
def test_malformed_states_are_rejected_with_a_clear_exception(state):
    if isinstance(state, str):
        state = state.replace("PLACEHOLDER", _valid_raw())
    with pytest.raises(InvalidHashStateException) as raised:
        ResumableSHA256.from_state(state)
    assert isinstance(raised.value, errors.DataModelException)
    assert str(raised.value)


def test_a_corrupted_buffer_count_is_rejected():
    raw = bytearray(base64.b64decode(_valid_raw()))
    raw[40] = 200  # more pending bytes than a 64-byte block can hold
    state = "%s:%d:%s" % (STATE_FORMAT, 64 + 200, base64.b64encode(bytes(raw)).decode())
    with pytest.raises(InvalidHashStateException):
        ResumableSHA256.from_state(state)


def test_load_state_leaves_the_hasher_unchanged_on_error():
    hasher = ResumableSHA256(b"keep")
    with pytest.raises(InvalidHashStateException):
        hasher.load_state("garbage")
    assert hasher.hexdigest() == hashlib.sha256(b"keep").hexdigest()
    hasher.load_state(ResumableSHA256(b"other").to_state())
    assert (hasher.length, hasher.hexdigest()) == (5, hashlib.sha256(b"other").hexdigest())


def test_resume_sha256_starts_fresh_or_refuses_a_state_longer_than_the_data():
    assert resume_sha256(None, 10).length == 0
    assert resume_sha256(ResumableSHA256(b"abc").to_state(), 3).length == 3
    with pytest.raises(InvalidHashStateException):
        resume_sha256(ResumableSHA256(b"abcd").to_state(), 3)


def test_background_hash_equals_hashlib_in_update_order():
    pieces = [os.urandom(random.Random(seed).randrange(1, 300_000)) for seed in range(12)]
    hasher = BackgroundSHA256(backlog=2)
    for piece in pieces:
        hasher.update(piece)
    assert hasher.length == sum(map(len, pieces))
    assert hasher.hexdigest() == hashlib.sha256(b"".join(pieces)).hexdigest()
    assert BackgroundSHA256().hexdigest() == hashlib.sha256().hexdigest()


def test_background_hash_stops_its_thread_when_closed():
    hasher = BackgroundSHA256()
    hasher.update(b"abc")
    hasher.close()
    assert hasher._pool is None
    assert hasher.hexdigest() == hashlib.sha256(b"abc").hexdigest()
