"""registry_model.model.storage: blob records and their placements."""
import pytest

from registry_model import errors
from registry_model.database import (
    ImageStorage,
    ImageStorageLocation,
    ImageStoragePlacement,
)
from registry_model.model import lookup
from registry_model.model import storage as storage_model
from registry_model.testing.databases import snapshot_rows
from registry_model.testing.factories import ImageStorageFactory

DIGEST = "sha256:" + "ab" * 32


@pytest.fixture
def second_location(initialized_db):
    """A ``remote`` location beside ``local``; the lookup cache forgets it afterwards."""
    ImageStorageLocation.create(name="remote")
    lookup.clear()
    yield "remote"
    # The row goes with the test's rollback; the cached id must go with it.
    lookup.clear()


def test_create_storage_stores_sizes_and_digest(initialized_db):
    created = storage_model.create_storage(DIGEST, image_size=10, uncompressed_size=30)
    stored = ImageStorage.get_by_id(created.id)
    assert (stored.content_checksum, stored.image_size, stored.uncompressed_size,
            stored.uploading) == (DIGEST, 10, 30, False)
    assert stored.uuid and stored.uuid != ImageStorageFactory().uuid


def test_create_storage_places_the_blob_in_local_by_default(initialized_db):
    created = storage_model.create_storage(DIGEST)
    assert storage_model.get_storage_locations(created.id) == ["local"]


def test_create_storage_of_a_running_upload_has_no_digest(initialized_db):
    created = storage_model.create_storage(uploading=True)
    stored = ImageStorage.get_by_id(created.id)
    assert (stored.content_checksum, stored.uploading) == (None, True)


def test_create_storage_places_each_location_once(initialized_db, second_location):
    created = storage_model.create_storage(
        DIGEST, locations=[second_location, "local", second_location])
    assert storage_model.get_storage_locations(created.id) == ["local", "remote"]
    assert ImageStoragePlacement.select().where(
        ImageStoragePlacement.storage == created.id).count() == 2


def test_create_storage_without_locations_places_nothing(initialized_db):
    created = storage_model.create_storage(DIGEST, locations=())
    assert storage_model.get_storage_locations(created.id) == []


def test_the_same_digest_may_have_several_records(initialized_db):
    first = storage_model.create_storage(DIGEST)
    second = storage_model.create_storage(DIGEST)
    assert first.id != second.id
    assert ImageStorage.select().where(ImageStorage.content_checksum == DIGEST).count() == 2


@pytest.mark.parametrize("arguments, exception", [
    ({"content_checksum": "sha256:short"}, errors.InvalidDigestException),
    ({"content_checksum": "md5"}, errors.InvalidDigestException),
    ({"content_checksum": "sha256:" + "AB" * 32}, errors.InvalidDigestException),
    ({"image_size": -1}, errors.DataModelException),
    ({"image_size": 1.5}, errors.DataModelException),
    ({"image_size": True}, errors.DataModelException),
    ({"uncompressed_size": "10"}, errors.DataModelException),
    ({"locations": ["moon"]}, errors.UnknownLookupValueException),
    ({"locations": ["local", "moon"]}, errors.UnknownLookupValueException),
])
def test_create_storage_rejects_bad_input_before_writing(initialized_db, arguments, exception):
    before = snapshot_rows()
    with pytest.raises(exception):
        storage_model.create_storage(**{"content_checksum": DIGEST, **arguments})
    assert snapshot_rows() == before


def test_get_storage_locations_sorts_names_and_ignores_other_blobs(initialized_db,
                                                                  second_location):
    blob = ImageStorageFactory(locations=[second_location, "local"])
    ImageStorageFactory(locations=["local"])
    assert storage_model.get_storage_locations(blob.id) == ["local", "remote"]


def test_get_storage_locations_of_an_unknown_blob_is_empty(initialized_db):
    assert storage_model.get_storage_locations(-1) == []
