"""registry_model.pre_oci.image: legacy (V1) images, their ancestry and aggregate sizes."""
import datetime
import hashlib

import pytest

from registry_model import errors
from registry_model.database import MAX_ANCESTORS_LENGTH, Image, parse_ancestors
from registry_model.pre_oci import image as image_model
from registry_model.testing.databases import snapshot_rows
from registry_model.testing.factories import (
    ImageFactory,
    ImageStorageFactory,
    RepositoryFactory,
)
from registry_model.testing.queries import count_statements


def _v1_id(n: int) -> str:
    return hashlib.sha256(b"test_image-%d" % n).hexdigest()


def test_create_image_of_a_base_image_has_root_ancestors_and_its_own_size(initialized_db):
    repo = RepositoryFactory()
    storage = ImageStorageFactory(image_size=100)
    created = image_model.create_image(
        repo, _v1_id(1), storage, created=datetime.datetime(2020, 1, 2, 3, 4, 5),
        comment="base", command='["sh"]', v1_json_metadata='{"id": "x"}', v1_checksum="tarsum")
    stored = Image.get_by_id(created.id)
    assert (stored.repository_id, stored.docker_image_id, stored.storage_id) == (
        repo.id, _v1_id(1), storage.id)
    assert (stored.ancestors, stored.aggregate_size) == ("/", 100)
    assert (stored.created, stored.comment, stored.command, stored.v1_json_metadata,
            stored.v1_checksum) == (datetime.datetime(2020, 1, 2, 3, 4, 5), "base", '["sh"]',
                                    '{"id": "x"}', "tarsum")


def test_create_image_chain_records_ancestors_root_first_and_sums_sizes(initialized_db):
    repo = RepositoryFactory()
    base = image_model.create_image(repo, _v1_id(1), ImageStorageFactory(image_size=100))
    middle = image_model.create_image(repo, _v1_id(2), ImageStorageFactory(image_size=20),
                                      parent=base)
    top = image_model.create_image(repo, _v1_id(3), ImageStorageFactory(image_size=3),
                                   parent=middle)
    assert middle.ancestors == "/%d/" % base.id
    assert top.ancestors == "/%d/%d/" % (base.id, middle.id)
    assert Image.get_by_id(top.id).ancestor_id_list() == [base.id, middle.id]
    assert [Image.get_by_id(i.id).aggregate_size for i in (base, middle, top)] == [100, 120, 123]


def test_create_image_leaves_aggregate_size_unknown_when_a_size_is_unknown(initialized_db):
    repo = RepositoryFactory()
    unsized_blobs = [ImageStorageFactory(image_size=None, uncompressed_size=None)
                     for _ in range(2)]
    unsized = image_model.create_image(repo, _v1_id(1), unsized_blobs[0])
    above = image_model.create_image(repo, _v1_id(2), ImageStorageFactory(image_size=5),
                                     parent=unsized)
    sized = image_model.create_image(repo, _v1_id(3), ImageStorageFactory(image_size=5))
    on_unsized_blob = image_model.create_image(repo, _v1_id(4), unsized_blobs[1], parent=sized)
    assert [Image.get_by_id(i.id).aggregate_size
            for i in (unsized, above, on_unsized_blob)] == [None, None, None]


def test_create_image_rejects_a_parent_from_another_repository(initialized_db):
    repo = RepositoryFactory()
    foreign_parent = ImageFactory()
    before = snapshot_rows()
    with pytest.raises(errors.InvalidImageException):
        image_model.create_image(repo, _v1_id(1), foreign_parent.storage, parent=foreign_parent)
    assert snapshot_rows() == before


def test_create_image_rejects_a_v1_id_used_in_the_repository(initialized_db):
    existing = ImageFactory(docker_image_id=_v1_id(1))
    storage = ImageStorageFactory()
    before = snapshot_rows()
    with pytest.raises(errors.DuplicateException):
        image_model.create_image(existing.repository, _v1_id(1), storage)
    assert snapshot_rows() == before


def test_the_same_v1_id_may_live_in_two_repositories(initialized_db):
    ImageFactory(docker_image_id=_v1_id(1))
    other = RepositoryFactory()
    created = image_model.create_image(other, _v1_id(1), ImageStorageFactory())
    assert Image.select().where(Image.docker_image_id == _v1_id(1)).count() == 2
    assert created.repository_id == other.id


@pytest.mark.parametrize("docker_image_id", ["", "abc", "A" * 64, "g" * 64, _v1_id(1) + "\n",
                                             None])
def test_create_image_rejects_a_malformed_v1_id(initialized_db, docker_image_id):
    repo = RepositoryFactory()
    storage = ImageStorageFactory()
    before = snapshot_rows()
    with pytest.raises(errors.InvalidNameException):
        image_model.create_image(repo, docker_image_id, storage)
    assert snapshot_rows() == before


def test_create_image_rejects_a_chain_too_deep_for_the_ancestors_column(initialized_db):
    # The longest path the column holds: any child's path would be longer.
    deep_path = "/" + "1/" * ((MAX_ANCESTORS_LENGTH - 1) // 2)
    assert len(deep_path) in (MAX_ANCESTORS_LENGTH - 1, MAX_ANCESTORS_LENGTH)
    deepest = ImageFactory(ancestors=deep_path)
    before = snapshot_rows()
    with pytest.raises(errors.InvalidImageException):
        image_model.create_image(deepest.repository, _v1_id(1), deepest.storage,
                                 parent=deepest)
    assert snapshot_rows() == before


def test_parse_ancestors_reads_ids_root_first():
    assert parse_ancestors("/") == []
    assert parse_ancestors("/7/9/") == [7, 9]


def test_get_repository_images_loads_storage_in_one_query_in_id_order(initialized_db):
    base = ImageFactory()
    top = ImageFactory(parent=base)
    ImageFactory()  # another repository
    with count_statements() as counted:
        images = image_model.get_repository_images(base.repository_id)
        sizes = [image.image_size for image in images]
    assert [image.id for image in images] == [base.id, top.id]
    assert sizes == [base.storage.image_size, top.storage.image_size]
    assert counted.count == 1


def test_get_repository_images_of_an_empty_repository_is_empty(initialized_db):
    assert image_model.get_repository_images(RepositoryFactory().id) == []


def test_get_image_finds_by_v1_id_within_the_repository(initialized_db):
    image = ImageFactory()
    elsewhere = ImageFactory()
    with count_statements() as counted:
        found = image_model.get_image(image.repository_id, image.docker_image_id)
        assert found.content_checksum == image.storage.content_checksum
    assert found.id == image.id
    assert counted.count == 1
    assert image_model.get_image(image.repository_id, elsewhere.docker_image_id) is None


@pytest.mark.parametrize("docker_image_id", ["missing", "", None, _v1_id(99)])
def test_get_image_answers_none_for_unknown_or_malformed_ids(initialized_db, docker_image_id):
    image = ImageFactory()
    assert image_model.get_image(image.repository_id, docker_image_id) is None


def test_get_images_by_id_maps_ids_to_images_with_storage(initialized_db):
    base = ImageFactory()
    top = ImageFactory(parent=base)
    with count_statements() as counted:
        found = image_model.get_images_by_id([top.id, base.id, -1])
        digests = {image_id: image.content_checksum for image_id, image in found.items()}
    assert sorted(found) == sorted([base.id, top.id])
    assert digests[top.id] == top.storage.content_checksum
    assert counted.count == 1


def test_get_images_by_id_of_no_ids_sends_no_query(initialized_db):
    with count_statements() as counted:
        assert image_model.get_images_by_id([]) == {}
    assert counted.count == 0


def test_get_repository_image_tuples_are_the_rows_as_plain_tuples(initialized_db):
    base = ImageFactory()
    ImageFactory(parent=base)
    rows = image_model.get_repository_images(base.repository_id)
    columns, tuples = image_model.get_repository_image_tuples(base.repository_id)
    assert columns == rows[0]._fields
    assert [type(row) for row in tuples] == [tuple, tuple]
    assert tuples == [tuple(row) for row in rows]
