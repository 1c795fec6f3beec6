"""The pieces of the S3 store that need no gateway: cutting a stream into parts."""
import io
import os
import random

import pytest

from registry_model.blobstore.s3_bucket import PartCutter, iter_parts


@pytest.mark.parametrize("seed", range(8))
def test_cutter_makes_exact_parts_of_any_chunking(seed):
    rng = random.Random(seed)
    data = os.urandom(rng.randrange(0, 200))
    size = rng.randrange(1, 40)
    cutter = PartCutter(size, data[:rng.randrange(0, min(size, len(data)) or 1)])
    position = cutter.held
    parts = []
    while position < len(data):
        step = rng.randrange(1, 3 * size)
        parts += cutter.add(data[position:position + step])
        position += step
    assert all(len(part) == size for part in parts)
    rest = cutter.rest()
    assert len(rest) == cutter.held < size
    assert b"".join(parts) + rest == data


def test_cutter_passes_a_chunk_of_exactly_one_part_without_copying():
    chunk = os.urandom(16)
    assert PartCutter(16).add(chunk)[0] is chunk


@pytest.mark.parametrize("make", [io.BytesIO, lambda data: io.BufferedReader(io.BytesIO(data)),
                                  lambda data: iter([data[:5], data[5:]])])
@pytest.mark.parametrize("length", [0, 1, 6 * 1024 * 1024, 8 * 1024 * 1024 + 3])
def test_iter_parts_reads_files_and_chunks_alike(make, length):
    data = os.urandom(length)
    size = 2 * 1024 * 1024
    parts = list(iter_parts(make(data), size))
    assert all(len(part) == size for part in parts[:-1])
    assert not parts or 0 < len(parts[-1]) <= size
    assert b"".join(parts) == data
