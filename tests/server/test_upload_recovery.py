"""An upload session whose row update failed after its chunk was stored goes on.

The database fails once, right at the UPDATE of the upload's row that follows a written
chunk (503 UNAVAILABLE, the chunk in the store, the row still at the old offset), or a
worker "dies" there (the store written directly, the row untouched). The client then
retries the chunk, asks for the status, or completes: it finishes with every byte once
and the right digest, on the folder, memory and S3 stores. On S3 the chunks cross a part,
which cannot be read back before the upload completes.
"""
import contextlib
import re
from unittest import mock

import pytest

from registry_model import errors
from registry_model.blobstore import (
    FilesystemBlobStore,
    InMemoryBlobStore,
    UploadOffsetException,
)
from registry_model.database import db
from registry_model.server import create_app
from registry_model.server.errors import RegistryError
from registry_model.server.upload_recovery import skip_held
from registry_model.testing.queries import count_statements
from tests import s3_gateway
from tests.server.conftest import digest_of

MIB = 1024 * 1024
S3_PART = 5 * MIB

STORES = ["filesystem", "memory"] + (["s3"] if s3_gateway.available() else [])


@pytest.fixture(params=STORES)
def store(request, tmp_path):
    if request.param == "filesystem":
        return FilesystemBlobStore(tmp_path / "blobs", fsync=False)
    if request.param == "memory":
        return InMemoryBlobStore()
    from registry_model.blobstore.s3 import S3BlobStore
    shared = request.getfixturevalue("s3_store")  # a fresh prefix, emptied afterwards
    return S3BlobStore(shared.bucket, shared._keys.root, shared.endpoint_url,
                       part_size=S3_PART)


@pytest.fixture
def client(oci_model, store):
    return create_app(oci_model, store).test_client()


@pytest.fixture
def data(store):
    """The blob: on S3 the chunks the tests cut from it fill parts."""
    local = isinstance(store, (FilesystemBlobStore, InMemoryBlobStore))
    size = 3000 if local else 3 * S3_PART
    return bytes(index * 7 % 251 for index in range(size))


@contextlib.contextmanager
def row_update_fails_once():
    """The next UPDATE of an upload's row fails as a lost connection does (503)."""
    database = db.obj
    real = database.execute_sql
    failed = []

    def execute_sql(sql, params=None, *args, **kwargs):
        if not failed and re.match(r"\s*UPDATE\W+blob_upload\b", sql, re.IGNORECASE):
            failed.append(sql)
            raise errors.DatabaseConnectionLostException("injected: lost before the update")
        return real(sql, params, *args, **kwargs)

    with mock.patch.object(database, "execute_sql", execute_sql):
        yield
    assert failed, "no upload row was updated"


def start(client) -> str:
    response = client.post("/v2/acme/app/blobs/uploads/")
    assert response.status_code == 202
    return response.headers["Location"]


def patch(client, location: str, chunk: bytes, first: int = None):
    headers = {"Content-Type": "application/octet-stream"}
    if first is not None:
        headers["Content-Range"] = "%d-%d" % (first, first + len(chunk) - 1)
    return client.patch(location, data=chunk, headers=headers)


def lost_patch(client, location: str, chunk: bytes, first: int = None) -> None:
    """A PATCH whose chunk is stored but whose row update fails: 503."""
    with row_update_fails_once():
        response = patch(client, location, chunk, first)
    assert response.status_code == 503, response.get_json()
    assert response.get_json()["errors"][0]["code"] == "UNAVAILABLE"


def finish(client, location: str, digest: str, chunk: bytes = b"", first: int = None):
    headers = {}
    if first is not None:
        headers["Content-Range"] = "%d-%d" % (first, first + len(chunk) - 1)
    return client.put("%s?digest=%s" % (location, digest), data=chunk, headers=headers)


def assert_range(response, status: int, length: int) -> None:
    """The answer has that status and the Range of ``length`` bytes held."""
    assert (response.status_code, response.headers["Range"]) == (status, "0-%d" % (length - 1))


def assert_blob(client, store, data: bytes, response) -> None:
    assert response.status_code == 201, response.get_json()
    digest = digest_of(data)
    assert response.headers["Docker-Content-Digest"] == digest
    assert store.read(digest) == data
    assert client.get("/v2/acme/app/blobs/%s" % digest).data == data


@pytest.mark.parametrize("ranged", [True, False], ids=["content-range", "streamed"])
@pytest.mark.parametrize("then", ["sends-it-again", "asks-the-status"])
def test_after_a_lost_update_the_client_goes_on_with_every_byte_once(client, store, data,
                                                                    ranged, then):
    location = start(client)
    cut = len(data) * 2 // 3
    lost_patch(client, location, data[:cut], 0 if ranged else None)
    if then == "sends-it-again":  # taken once: the held bytes are skipped
        assert_range(patch(client, location, data[:cut], 0 if ranged else None), 202, cut)
    else:  # the stored length, which the client resumes from
        assert_range(client.get(location), 204, cut)
    assert_range(patch(client, location, data[cut:], cut if ranged else None), 202, len(data))
    assert_blob(client, store, data, finish(client, location, digest_of(data)))


def test_a_later_chunk_sent_again_after_its_progress_was_lost_is_taken_once(client, store,
                                                                           data):
    location = start(client)
    cut = len(data) // 2
    assert patch(client, location, data[:10], 0).status_code == 202
    lost_patch(client, location, data[10:cut], 10)
    assert_range(patch(client, location, data[10:cut], 10), 202, cut)
    assert_blob(client, store, data, finish(client, location, digest_of(data), data[cut:], cut))


def test_a_chunk_out_of_order_after_a_lost_update_is_416_with_the_stored_range(client, store,
                                                                             data):
    location = start(client)
    cut = len(data) // 2
    lost_patch(client, location, data[:cut], 0)
    assert_range(patch(client, location, data[cut + 1:], cut + 1), 416, cut)
    assert_range(patch(client, location, data[cut:], cut), 202, len(data))
    assert_blob(client, store, data, finish(client, location, digest_of(data)))


def test_a_body_shorter_than_the_stored_chunk_is_416_and_writes_nothing(client, store, data):
    location = start(client)
    cut = len(data) // 2
    lost_patch(client, location, data[:cut])
    assert_range(patch(client, location, data[:cut - 1]), 416, cut)
    assert_range(client.get(location), 204, cut)
    assert_blob(client, store, data, finish(client, location, digest_of(data), data[cut:]))


def test_the_completing_put_after_a_lost_update_covers_every_stored_byte(client, store, data):
    location = start(client)
    lost_patch(client, location, data)
    assert_blob(client, store, data, finish(client, location, digest_of(data)))


@pytest.mark.parametrize("digest_of_what", ["the-row's-bytes", "all-but-the-last-byte"])
def test_a_wrong_digest_after_a_lost_update_is_still_refused(client, store, data,
                                                             digest_of_what):
    location = start(client)
    lost_patch(client, location, data)
    wrong = digest_of(b"" if digest_of_what == "the-row's-bytes" else data[:-1])
    refused = finish(client, location, wrong)
    assert refused.status_code == 400
    assert refused.get_json()["errors"][0]["code"] == "DIGEST_INVALID"
    assert client.get(location).status_code == 404  # the session is discarded
    assert not store.exists(digest_of(data)) and not store.exists(wrong)


@pytest.mark.parametrize("ranged", [True, False], ids=["content-range", "streamed"])
def test_a_closing_put_sent_again_after_its_progress_was_lost_completes(client, store, data,
                                                                      ranged):
    location = start(client)
    cut = len(data) // 3
    assert patch(client, location, data[:cut], 0 if ranged else None).status_code == 202
    with row_update_fails_once():
        lost = finish(client, location, digest_of(data), data[cut:], cut if ranged else None)
    assert lost.status_code == 503
    retried = finish(client, location, digest_of(data), data[cut:], cut if ranged else None)
    assert_blob(client, store, data, retried)


def test_a_killed_worker_leaves_a_prefix_of_its_chunk_that_the_retry_completes(client, store,
                                                                              data):
    location = start(client)
    upload_id = location.rsplit("/", 1)[1]
    cut = len(data) // 2
    # The worker stored part of the chunk and died: no row update, no answer.
    store.write_chunk(upload_id, 0, data[:cut])
    retried = patch(client, location, data, 0)
    assert_range(retried, 202, len(data))
    assert_blob(client, store, data, finish(client, location, digest_of(data)))


def test_a_chunk_read_then_refused_lost_a_race_and_is_416(client, store, data, monkeypatch):
    location = start(client)
    write_chunk = store.write_chunk

    def losing(upload_id, offset, chunks, hasher=None):
        for _ in chunks:  # read whole, as S3's writer does before it saves its state
            pass
        write_chunk(upload_id, offset, data[:10])  # another request's chunk saved first
        raise UploadOffsetException(upload_id, offset, 10)

    monkeypatch.setattr(store, "write_chunk", losing)
    refused = patch(client, location, b"x" * 20, 0)
    monkeypatch.undo()
    # Not a retry: its bytes were read and dropped, so it is no 202.
    assert_range(refused, 416, 10)
    assert_range(patch(client, location, data[10:], 10), 202, len(data))
    assert_blob(client, store, data, finish(client, location, digest_of(data)))


def test_the_normal_path_sends_no_statement_more_and_the_recovery_one(client, data):
    location = start(client)
    with count_statements() as counted:
        assert patch(client, location, data[:10], 0).status_code == 202
    # What main sends: the repository, the upload's row, its update.
    assert counted.count == 3, counted.statements
    with count_statements() as counted:
        assert client.get(location).status_code == 204
    assert counted.count == 2, counted.statements
    lost_patch(client, location, data[10:20], 10)
    with count_statements() as counted:
        assert patch(client, location, data[10:30], 10).status_code == 202
    assert counted.count == 4, counted.statements  # and the row caught up


@pytest.mark.parametrize("held", [0, 1, 3, 4, 5, 9])
def test_skip_held_drops_exactly_the_held_bytes_across_chunks(held):
    body = [b"abc", b"d", b"efghi"]
    assert b"".join(skip_held(iter(body), held, AssertionError())) == b"abcdefghi"[held:]


def test_skip_held_refuses_a_body_within_the_held_bytes_but_not_an_empty_one():
    refusal = RegistryError("BLOB_UPLOAD_INVALID", status=416)
    with pytest.raises(RegistryError) as raised:
        list(skip_held(iter([b"abc", b"d"]), 5, refusal))
    assert raised.value is refusal
    assert list(skip_held(iter([]), 5, refusal)) == []
