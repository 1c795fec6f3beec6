"""registry_model.model.upload: resumable upload rows and their commit into linked blobs."""
import hashlib
import json
import uuid

import pytest

from registry_model import errors
from registry_model.database import (
    BlobUpload,
    ImageStorage,
    ImageStoragePlacement,
    UploadedBlob,
)
from registry_model.model import blob as blob_model
from registry_model.model import lookup
from registry_model.model import upload as upload_model
from registry_model.testing.databases import snapshot_rows
from registry_model.testing.factories import ImageStorageFactory, RepositoryFactory

NOW = 1_700_000_000
HOUR = 3600
DIGEST = "sha256:" + hashlib.sha256(b"layer").hexdigest()


def _new_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def repo(initialized_db):
    return RepositoryFactory(name="uploads")


def _started(repo, metadata=None, now=NOW) -> str:
    upload_id = _new_id()
    upload_model.create_upload(repo.id, upload_id, "local", metadata, now)
    return upload_id


def test_create_upload_starts_an_empty_upload_in_the_location(repo):
    upload_id = _new_id()
    upload_model.create_upload(repo.id, upload_id, "local", {"path": "uploads/x"}, NOW)
    stored = BlobUpload.get(BlobUpload.uuid == upload_id)
    assert (stored.repository_id, stored.byte_count, stored.uncompressed_byte_count,
            stored.chunk_count, stored.sha_state, stored.location_id, stored.created) == (
        repo.id, 0, None, 0, None, lookup.location_id("local"), NOW)
    assert json.loads(stored.storage_metadata) == {"path": "uploads/x"}


def test_create_upload_without_metadata_stores_none(repo):
    upload_id = _started(repo, metadata=None)
    assert BlobUpload.get(BlobUpload.uuid == upload_id).storage_metadata is None


def test_create_upload_refuses_an_id_in_use_and_keeps_the_first(repo):
    upload_id = _started(repo, metadata={"first": True})
    other_repo = RepositoryFactory()
    before = snapshot_rows()
    with pytest.raises(errors.DuplicateException):
        upload_model.create_upload(repo.id, upload_id, "local", None, NOW + 1)
    with pytest.raises(errors.DuplicateException):
        upload_model.create_upload(other_repo.id, upload_id, "local", None, NOW + 1)
    assert snapshot_rows() == before
    stored = BlobUpload.get(BlobUpload.uuid == upload_id)
    assert (stored.repository_id, json.loads(stored.storage_metadata)) == (repo.id,
                                                                         {"first": True})


@pytest.mark.parametrize("upload_id,location,metadata,error", [
    ("not-a-uuid", "local", None, errors.DataModelException),
    ("", "local", None, errors.DataModelException),
    (None, "local", None, errors.DataModelException),
    (str(uuid.uuid4()), "mars", None, errors.UnknownLookupValueException),
    (str(uuid.uuid4()), None, None, errors.UnknownLookupValueException),
    (str(uuid.uuid4()), "local", {"when": object()}, errors.DataModelException),
    (str(uuid.uuid4()), "local", {"nan": float("nan")}, errors.DataModelException),
    (str(uuid.uuid4()), "local", ["not", "a", "dict"], errors.DataModelException),
])
def test_create_upload_rejects_bad_input_and_writes_nothing(repo, upload_id, location, metadata,
                                                            error):
    before = snapshot_rows()
    with pytest.raises(error):
        upload_model.create_upload(repo.id, upload_id, location, metadata, NOW)
    assert snapshot_rows() == before


def test_get_upload_finds_it_only_in_its_repository(repo):
    upload_id = _started(repo)
    other = RepositoryFactory()
    assert upload_model.get_upload(repo.id, upload_id).uuid == upload_id
    assert upload_model.get_upload(other.id, upload_id) is None
    assert upload_model.get_upload(repo.id, _new_id()) is None
    assert upload_model.get_upload(repo.id, "not-a-uuid") is None


def test_update_upload_records_progress_for_a_later_worker(repo):
    upload_id = _started(repo, metadata={"chunks": []})
    assert upload_model.update_upload(upload_id, 2048, 8192, 2, "sha-state-1",
                                      {"chunks": [1, 2]})
    stored = upload_model.get_upload(repo.id, upload_id)
    assert (stored.byte_count, stored.uncompressed_byte_count, stored.chunk_count,
            stored.sha_state, json.loads(stored.storage_metadata)) == (
        2048, 8192, 2, "sha-state-1", {"chunks": [1, 2]})
    assert stored.created == NOW


def test_update_upload_of_a_deleted_upload_is_false(repo):
    upload_id = _started(repo)
    assert upload_model.delete_upload(upload_id)
    assert not upload_model.update_upload(upload_id, 1, None, 1, None, None)
    assert BlobUpload.select().count() == 0


@pytest.mark.parametrize("byte_count,uncompressed,chunk_count,sha_state,metadata", [
    (-1, None, 0, "changed", None),
    (0, None, -1, "changed", None),
    (0, -1, 0, "changed", None),
    (1.5, None, 0, "changed", None),
    ("10", None, 0, "changed", None),
    (None, None, 0, "changed", None),
    (True, None, 0, "changed", None),
    (0, "5", 0, "changed", None),
    (0, None, 0, b"binary state", None),
    (0, None, 0, {"state": 1}, None),
    (0, None, 0, "changed", {"bad": {1, 2}}),
    (0, None, 0, "changed", {"inf": float("inf")}),
])
def test_update_upload_rejects_bad_input_and_keeps_the_progress(repo, byte_count, uncompressed,
                                                               chunk_count, sha_state, metadata):
    upload_id = _started(repo, metadata={"kept": 1})
    upload_model.update_upload(upload_id, 10, 30, 1, "state", {"kept": 1})
    with pytest.raises(errors.DataModelException):
        upload_model.update_upload(upload_id, byte_count, uncompressed, chunk_count, sha_state,
                                   metadata)
    stored = upload_model.get_upload(repo.id, upload_id)
    assert (stored.byte_count, stored.uncompressed_byte_count, stored.chunk_count,
            stored.sha_state, json.loads(stored.storage_metadata)) == (10, 30, 1, "state",
                                                                       {"kept": 1})


def test_delete_upload_removes_only_that_upload(repo):
    gone, kept = _started(repo), _started(repo)
    assert upload_model.delete_upload(gone)
    assert not upload_model.delete_upload(gone)
    assert [row.uuid for row in BlobUpload.select()] == [kept]


def test_commit_upload_turns_it_into_a_linked_blob_and_removes_the_upload(repo):
    upload_id = _started(repo)
    upload_model.update_upload(upload_id, 100, 300, 3, "state", None)
    blob = upload_model.commit_upload(upload_id, DIGEST, HOUR, NOW)
    stored = ImageStorage.get_by_id(blob.id)
    assert (stored.content_checksum, stored.image_size, stored.uncompressed_size,
            stored.uploading) == (DIGEST, 100, 300, False)
    assert [row.location_id for row in ImageStoragePlacement.select().where(
        ImageStoragePlacement.storage == blob.id)] == [lookup.location_id("local")]
    assert upload_model.get_upload(repo.id, upload_id) is None
    assert BlobUpload.select().count() == 0
    [link] = UploadedBlob.select()
    assert (link.repository_id, link.blob_id, link.uploaded_at, link.expires_at) == (
        repo.id, blob.id, NOW, NOW + HOUR)
    assert blob_model.get_repository_blob(repo.id, DIGEST, NOW + HOUR - 1).id == blob.id
    assert blob_model.get_repository_blob(repo.id, DIGEST, NOW + HOUR) is None


def test_committing_the_same_digest_in_two_repositories_stores_one_blob(repo):
    other = RepositoryFactory()
    first = upload_model.commit_upload(_started(repo), DIGEST, HOUR, NOW)
    second = upload_model.commit_upload(_started(other), DIGEST, HOUR, NOW)
    third = upload_model.commit_upload(_started(repo), DIGEST, HOUR, NOW + 10)
    assert first.id == second.id == third.id
    assert ImageStorage.select().where(ImageStorage.content_checksum == DIGEST).count() == 1
    assert ImageStoragePlacement.select().where(
        ImageStoragePlacement.storage == first.id).count() == 1
    assert blob_model.get_repository_blob(repo.id, DIGEST, NOW).id == first.id
    assert blob_model.get_repository_blob(other.id, DIGEST, NOW).id == first.id
    assert BlobUpload.select().count() == 0


def test_commit_upload_reuses_a_blob_that_existed_before(repo):
    existing = ImageStorageFactory(content_checksum=DIGEST)
    blob = upload_model.commit_upload(_started(repo), DIGEST, HOUR, NOW)
    assert blob.id == existing.id
    assert ImageStorage.select().where(ImageStorage.content_checksum == DIGEST).count() == 1


def test_commit_of_a_deleted_or_committed_upload_is_none_and_writes_nothing(repo):
    deleted = _started(repo)
    upload_model.delete_upload(deleted)
    committed = _started(repo)
    upload_model.commit_upload(committed, DIGEST, HOUR, NOW)
    before = snapshot_rows()
    assert upload_model.commit_upload(deleted, DIGEST, HOUR, NOW) is None
    assert upload_model.commit_upload(committed, DIGEST, HOUR, NOW) is None
    assert upload_model.commit_upload("not-a-uuid", DIGEST, HOUR, NOW) is None
    assert snapshot_rows() == before


@pytest.mark.parametrize("digest,expiration,error", [
    ("sha256:tooshort", HOUR, errors.InvalidDigestException),
    ("", HOUR, errors.InvalidDigestException),
    (None, HOUR, errors.InvalidDigestException),
    (DIGEST, -1, errors.DataModelException),
    (DIGEST, None, errors.DataModelException),
])
def test_commit_upload_rejects_bad_input_and_keeps_the_upload(repo, digest, expiration, error):
    upload_id = _started(repo)
    before = snapshot_rows()
    with pytest.raises(error):
        upload_model.commit_upload(upload_id, digest, expiration, NOW)
    assert snapshot_rows() == before
    assert upload_model.get_upload(repo.id, upload_id) is not None
