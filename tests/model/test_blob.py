"""registry_model.model.blob: deduplicated blobs, linked to repositories by images."""
import hashlib

import pytest

from registry_model import errors
from registry_model.database import (
    ImageStorage,
    ImageStoragePlacement,
    UploadedBlob,
)
from registry_model.model import blob as blob_model
from registry_model.model import lookup
from registry_model.testing.databases import snapshot_rows
from registry_model.testing.factories import (
    ImageFactory,
    ImageStorageFactory,
    RepositoryFactory,
)
from registry_model.testing.queries import count_statements

NOW = 1_700_000_000
HOUR = 3600


def _digest(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode("utf-8")).hexdigest()


@pytest.fixture
def repos(initialized_db):
    return RepositoryFactory(name="first"), RepositoryFactory(name="second")


def test_a_blob_linked_for_a_while_is_found_until_the_link_expires(repos):
    repo, _ = repos
    blob = ImageStorageFactory(content_checksum=_digest("a"))
    blob_model.link_blob(repo.id, blob.id, HOUR, NOW)
    assert blob_model.get_repository_blob(repo.id, _digest("a"), NOW).id == blob.id
    assert blob_model.get_repository_blob(repo.id, _digest("a"), NOW + HOUR - 1).id == blob.id
    assert blob_model.get_repository_blob(repo.id, _digest("a"), NOW + HOUR) is None


def test_a_link_records_when_it_was_made_and_when_it_expires(repos):
    repo, _ = repos
    blob = ImageStorageFactory()
    link = blob_model.link_blob(repo.id, blob.id, 90, NOW)
    stored = UploadedBlob.get_by_id(link.id)
    assert (stored.repository_id, stored.blob_id, stored.uploaded_at, stored.expires_at) == (
        repo.id, blob.id, NOW, NOW + 90)


def test_a_blob_linked_to_one_repository_is_not_found_in_another(repos):
    first, second = repos
    blob = ImageStorageFactory(content_checksum=_digest("a"))
    blob_model.link_blob(first.id, blob.id, HOUR, NOW)
    assert blob_model.get_repository_blob(second.id, _digest("a"), NOW) is None
    assert blob_model.get_repository_blobs(second.id, [_digest("a")], NOW) == {}


def test_a_blob_used_by_an_image_of_the_repository_is_found_without_a_link(repos):
    repo, other = repos
    image = ImageFactory(repository=repo)
    digest = image.storage.content_checksum
    assert blob_model.get_repository_blob(repo.id, digest, NOW + 10 * 365 * 86400).id == (
        image.storage.id)
    assert blob_model.get_repository_blob(other.id, digest, NOW) is None


def test_a_blob_still_uploading_is_not_found(repos):
    repo, _ = repos
    blob = ImageStorageFactory(content_checksum=_digest("a"), uploading=True)
    blob_model.link_blob(repo.id, blob.id, HOUR, NOW)
    assert blob_model.get_repository_blob(repo.id, _digest("a"), NOW) is None
    assert blob_model.get_repository_blobs(repo.id, [_digest("a")], NOW) == {}


@pytest.mark.parametrize("digest", ["", "sha256:abc", "not a digest", None, 42])
def test_a_malformed_digest_is_not_found_without_querying(repos, digest):
    repo, _ = repos
    with count_statements() as counted:
        assert blob_model.get_repository_blob(repo.id, digest, NOW) is None
        assert blob_model.get_repository_blobs(repo.id, [digest], NOW) == {}
    assert counted.count == 0


def test_get_repository_blobs_maps_each_linked_digest_once_in_one_query(repos):
    repo, _ = repos
    linked = [ImageStorageFactory(content_checksum=_digest(seed)) for seed in "abc"]
    for blob in linked:
        blob_model.link_blob(repo.id, blob.id, HOUR, NOW)
    # A second link of the same blob must not duplicate it in the answer.
    blob_model.link_blob(repo.id, linked[0].id, 2 * HOUR, NOW)
    ImageStorageFactory(content_checksum=_digest("unlinked"))
    wanted = [_digest("a"), _digest("c"), _digest("a"), _digest("unlinked"), _digest("absent")]
    with count_statements() as counted:
        found = blob_model.get_repository_blobs(repo.id, wanted, NOW)
    assert counted.count == 1
    assert {digest: blob.id for digest, blob in found.items()} == {
        _digest("a"): linked[0].id, _digest("c"): linked[2].id}


def test_get_or_create_blob_creates_a_finished_blob_placed_in_the_location(initialized_db):
    location = lookup.location_id("local")
    blob = blob_model.get_or_create_blob(_digest("new"), 12, 34, location)
    stored = ImageStorage.get_by_id(blob.id)
    assert (stored.content_checksum, stored.image_size, stored.uncompressed_size,
            stored.uploading) == (_digest("new"), 12, 34, False)
    assert [row.location_id for row in ImageStoragePlacement.select().where(
        ImageStoragePlacement.storage == blob.id)] == [location]


def test_get_or_create_blob_reuses_the_finished_blob_of_that_digest(initialized_db):
    existing = ImageStorageFactory(content_checksum=_digest("shared"), image_size=7)
    before = snapshot_rows()
    again = blob_model.get_or_create_blob(_digest("shared"), 999, None,
                                          lookup.location_id("local"))
    assert again.id == existing.id
    assert again.image_size == 7
    assert snapshot_rows() == before


def test_get_or_create_blob_never_reuses_a_blob_still_uploading(initialized_db):
    uploading = ImageStorageFactory(content_checksum=_digest("partial"), uploading=True)
    blob = blob_model.get_or_create_blob(_digest("partial"), 5, None, lookup.location_id("local"))
    assert blob.id != uploading.id
    assert not ImageStorage.get_by_id(blob.id).uploading


def test_get_or_create_blob_rejects_a_malformed_digest_before_writing(initialized_db):
    before = snapshot_rows()
    with pytest.raises(errors.InvalidDigestException):
        blob_model.get_or_create_blob("sha256:short", 1, None, lookup.location_id("local"))
    assert snapshot_rows() == before


@pytest.mark.parametrize("expiration", [-1, 1.5, "60", None, True])
def test_link_blob_rejects_a_bad_expiration_before_writing(repos, expiration):
    repo, _ = repos
    blob = ImageStorageFactory()
    before = snapshot_rows()
    with pytest.raises(errors.DataModelException):
        blob_model.link_blob(repo.id, blob.id, expiration, NOW)
    assert snapshot_rows() == before


def test_mount_blob_links_it_into_the_target_until_expiry(repos):
    first, second = repos
    blob = ImageStorageFactory(content_checksum=_digest("a"))
    blob_model.link_blob(first.id, blob.id, HOUR, NOW)
    link = blob_model.mount_blob(blob.id, second.id, 2 * HOUR, NOW)
    assert (link.repository_id, link.blob_id, link.expires_at) == (second.id, blob.id,
                                                                   NOW + 2 * HOUR)
    # The target keeps the blob after the source's own link has expired.
    assert blob_model.get_repository_blob(first.id, _digest("a"), NOW + HOUR) is None
    assert blob_model.get_repository_blob(second.id, _digest("a"), NOW + HOUR).id == blob.id
    assert blob_model.get_repository_blob(second.id, _digest("a"), NOW + 2 * HOUR) is None


def test_mount_blob_of_a_missing_or_unfinished_blob_is_none_and_writes_nothing(repos):
    _, target = repos
    uploading = ImageStorageFactory(uploading=True)
    gone = ImageStorageFactory()
    gone_id = gone.id
    ImageStoragePlacement.delete().where(ImageStoragePlacement.storage == gone_id).execute()
    ImageStorage.delete().where(ImageStorage.id == gone_id).execute()
    before = snapshot_rows()
    assert blob_model.mount_blob(gone_id, target.id, HOUR, NOW) is None
    assert blob_model.mount_blob(uploading.id, target.id, HOUR, NOW) is None
    assert snapshot_rows() == before


def test_mount_blob_rejects_a_negative_expiration_and_writes_nothing(repos):
    _, target = repos
    blob = ImageStorageFactory()
    before = snapshot_rows()
    with pytest.raises(errors.DataModelException):
        blob_model.mount_blob(blob.id, target.id, -5, NOW)
    assert snapshot_rows() == before


def test_mount_blob_costs_two_statements(repos):
    _, target = repos
    blob = ImageStorageFactory()
    lookup.tables()
    with count_statements() as counted:
        blob_model.mount_blob(blob.id, target.id, HOUR, NOW)
    assert counted.count == 2, counted.statements
