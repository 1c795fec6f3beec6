"""Blob cases the interface cannot set up: a record still uploading (see tests/conformance)."""
from registry_model.datatypes import Blob
from registry_model.testing.databases import snapshot_rows
from registry_model.testing.factories import ImageStorageFactory, RepositoryFactory


def test_mount_of_a_blob_still_uploading_is_false_and_links_nothing(registry_model):
    RepositoryFactory(namespace__name="buynlarge", name="target")
    target = registry_model.lookup_repository("buynlarge", "target")
    uploading = Blob.for_image_storage(ImageStorageFactory(uploading=True))
    before = snapshot_rows()
    assert registry_model.mount_blob_into_repository(uploading, target, 3600) is False
    assert snapshot_rows() == before
