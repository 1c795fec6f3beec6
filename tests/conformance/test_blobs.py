"""Blobs, uploads and mounts: what a registry's blob endpoints see."""
import uuid

import pytest
from peewee import fn

from registry_model import errors
from registry_model.database import BlobUpload as BlobUploadRow
from registry_model.database import ImageStorage, UploadedBlob
from registry_model.datatypes import Blob, BlobUpload
from registry_model.testing.builders import sha256_digest
from registry_model.testing.databases import snapshot_rows as row_counts

LAYER = b"layer bytes"
DIGEST = sha256_digest(LAYER)
HOUR = 3600


@pytest.fixture
def refs(builder):
    return (builder.repository("devtable", "source"), builder.repository("buynlarge", "target"))


def _upload(registry_model, ref, metadata=None) -> BlobUpload:
    return registry_model.create_blob_upload(ref, str(uuid.uuid4()), "local", metadata)


def _committed(builder, ref, expiration=HOUR) -> Blob:
    return builder.upload(ref, LAYER, expiration)


def test_create_blob_upload_returns_an_empty_upload(registry_model, refs):
    source, _ = refs
    upload_id = str(uuid.uuid4())
    upload = registry_model.create_blob_upload(source, upload_id, "local", {"key": "value"})
    assert isinstance(upload, BlobUpload)
    assert (upload.upload_id, upload.repository_id, upload.byte_count,
            upload.uncompressed_byte_count, upload.chunk_count, upload.sha_state,
            upload.location_name, upload.storage_metadata) == (
        upload_id, source.id, 0, None, 0, None, "local", {"key": "value"})
    assert upload.created > 0
    assert registry_model.lookup_blob_upload(source, upload_id) == upload


def test_lookup_blob_upload_sees_only_the_repositorys_own_uploads(registry_model, refs):
    source, target = refs
    upload = _upload(registry_model, source)
    assert registry_model.lookup_blob_upload(target, upload.upload_id) is None
    assert registry_model.lookup_blob_upload(source, str(uuid.uuid4())) is None
    assert registry_model.lookup_blob_upload(source, "not-a-uuid") is None


def test_create_blob_upload_refuses_an_id_in_use(registry_model, refs):
    source, target = refs
    upload = _upload(registry_model, source)
    before = row_counts()
    with pytest.raises(errors.DuplicateException):
        registry_model.create_blob_upload(target, upload.upload_id, "local", None)
    assert row_counts() == before


@pytest.mark.parametrize("upload_id,location,metadata", [
    ("upload-1", "local", None),
    (str(uuid.uuid4()), "nowhere", None),
    (str(uuid.uuid4()), "local", {"not json": {1}}),
])
def test_create_blob_upload_rejects_bad_input_and_writes_nothing(registry_model, refs, upload_id,
                                                                 location, metadata):
    source, _ = refs
    before = row_counts()
    with pytest.raises(errors.DataModelException):
        registry_model.create_blob_upload(source, upload_id, location, metadata)
    assert row_counts() == before


def test_update_blob_upload_round_trips_the_progress(registry_model, refs):
    source, _ = refs
    upload = _upload(registry_model, source, {"parts": []})
    updated = registry_model.update_blob_upload(upload, 4096, {"parts": ["a"]}, 1024, 2,
                                                "sha-state")
    assert (updated.byte_count, updated.uncompressed_byte_count, updated.chunk_count,
            updated.sha_state, updated.storage_metadata) == (1024, 4096, 2, "sha-state",
                                                             {"parts": ["a"]})
    # What the next worker reads is what this one wrote.
    assert registry_model.lookup_blob_upload(source, upload.upload_id) == updated


def test_update_or_commit_of_a_deleted_upload_is_none(registry_model, refs):
    source, _ = refs
    upload = _upload(registry_model, source)
    registry_model.delete_blob_upload(upload)
    assert registry_model.lookup_blob_upload(source, upload.upload_id) is None
    before = row_counts()
    assert registry_model.update_blob_upload(upload, None, None, 10, 1, None) is None
    assert registry_model.commit_blob_upload(upload, DIGEST, HOUR) is None
    assert row_counts() == before


def test_update_blob_upload_rejects_negative_counts_and_keeps_the_progress(registry_model, refs):
    source, _ = refs
    upload = registry_model.update_blob_upload(_upload(registry_model, source), 30, None, 10, 1,
                                               "state")
    for args in ((None, None, -1, 1, "x"), (None, None, 1, -1, "x"), (-3, None, 1, 1, "x")):
        with pytest.raises(errors.DataModelException):
            registry_model.update_blob_upload(upload, *args)
    assert registry_model.lookup_blob_upload(source, upload.upload_id) == upload


def test_commit_blob_upload_gives_a_blob_linked_to_the_repository(registry_model, refs):
    source, target = refs
    upload = registry_model.update_blob_upload(_upload(registry_model, source), 300, None, 100,
                                               1, None)
    blob = registry_model.commit_blob_upload(upload, DIGEST, HOUR)
    assert isinstance(blob, Blob)
    assert (blob.digest, blob.compressed_size, blob.uncompressed_size, blob.uploading,
            blob.placements) == (DIGEST, 100, 300, False, None)
    assert registry_model.lookup_blob_upload(source, upload.upload_id) is None
    assert BlobUploadRow.select().count() == 0
    assert registry_model.get_repo_blob_by_digest(source, DIGEST) == blob
    assert registry_model.get_repo_blob_by_digest(target, DIGEST) is None


def test_get_repo_blob_by_digest_loads_placements_when_asked(registry_model, builder, refs):
    source, _ = refs
    blob = _committed(builder, source)
    with_placements = registry_model.get_repo_blob_by_digest(source, DIGEST,
                                                             include_placements=True)
    assert with_placements.placements == ("local",)
    assert with_placements._replace(placements=None) == blob


def test_get_repo_blob_by_digest_of_unknown_or_malformed_digests_is_none(registry_model, builder,
                                                                         refs):
    source, _ = refs
    _committed(builder, source)
    assert registry_model.get_repo_blob_by_digest(source, sha256_digest("other")) is None
    assert registry_model.get_repo_blob_by_digest(source, "sha256:nothex") is None
    assert registry_model.get_repo_blob_by_digest(source, "") is None


def test_get_repo_blob_by_digest_finds_blobs_of_the_repositorys_images(registry_model, builder,
                                                                       refs):
    source, target = refs
    pushed = builder.push_image(source, "latest", layers=[b"image layer"])
    # With its upload links released, only the pushed image links the blob.
    assert registry_model.release_blob_links(source, pushed.blob_digests) == len(
        pushed.blob_digests)
    found = registry_model.get_repo_blob_by_digest(source, pushed.blob_digests[0])
    assert found.digest == pushed.blob_digests[0]
    assert registry_model.get_repo_blob_by_digest(target, pushed.blob_digests[0]) is None


def test_an_expired_link_no_longer_shows_the_blob(registry_model, builder, refs):
    source, _ = refs
    blob = _committed(builder, source, expiration=0)
    assert registry_model.get_repo_blob_by_digest(source, DIGEST) is None
    assert ImageStorage.get_or_none(ImageStorage.id == blob.id) is not None


def test_committing_one_digest_in_two_repositories_shares_one_blob(registry_model, builder, refs):
    source, target = refs
    first = _committed(builder, source)
    second = _committed(builder, target)
    assert first.id == second.id
    assert ImageStorage.select().where(ImageStorage.content_checksum == DIGEST).count() == 1
    assert registry_model.get_repo_blob_by_digest(target, DIGEST).id == first.id


def test_mount_blob_into_repository_makes_the_blob_visible_there(registry_model, builder, refs):
    source, target = refs
    blob = _committed(builder, source)
    before = ImageStorage.select().count()
    assert registry_model.mount_blob_into_repository(blob, target, HOUR)
    assert registry_model.get_repo_blob_by_digest(target, DIGEST) == blob
    assert ImageStorage.select().count() == before
    link = UploadedBlob.get(UploadedBlob.repository == target.id)
    assert link.blob_id == blob.id
    assert link.expires_at - link.uploaded_at == HOUR


def test_mount_of_a_missing_blob_is_false_and_links_nothing(registry_model, builder, refs):
    source, target = refs
    blob = _committed(builder, source)
    missing = blob._replace(id=ImageStorage.select(fn.MAX(ImageStorage.id)).scalar() + 1000)
    before = row_counts()
    assert registry_model.mount_blob_into_repository(missing, target, HOUR) is False
    assert row_counts() == before


def test_commit_blob_upload_rejects_a_malformed_digest_and_keeps_the_upload(registry_model,
                                                                           refs):
    source, _ = refs
    upload = _upload(registry_model, source)
    before = row_counts()
    with pytest.raises(errors.InvalidDigestException):
        registry_model.commit_blob_upload(upload, "sha256:abc", HOUR)
    assert row_counts() == before
    assert registry_model.lookup_blob_upload(source, upload.upload_id) == upload
