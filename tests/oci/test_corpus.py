"""Every valid image manifest and index of the corpus (tests/data/manifests) goes through
OCIModel byte for byte: the same digest and bytes come back, whatever the media type."""
import pytest

from registry_model import OCIModel, clock, errors
from registry_model.database import ImageStorage
from registry_model.datatypes import RepositoryReference
from registry_model.manifests import parse_manifest_from_bytes
from registry_model.model import blob as blob_model
from registry_model.testing.factories import ImageStorageFactory, RepositoryFactory
from tests.manifests.test_corpus import read, rows_under

HOUR = 3600


@pytest.fixture
def oci_model(initialized_db):
    return OCIModel()


def link(repo, digests, now):
    for digest in digests:
        storage = (ImageStorage.get_or_none(ImageStorage.content_checksum == digest)
                   or ImageStorageFactory(content_checksum=digest))
        blob_model.link_blob(repo.id, storage.id, HOUR, now)


@pytest.mark.parametrize("row", rows_under("valid/schema2/", "valid/oci-manifest/"))
def test_every_corpus_image_manifest_is_pushed_and_read_back_exactly(oci_model, row):
    parsed = parse_manifest_from_bytes(read(row), row["media_type"])
    repo = RepositoryFactory()
    ref = RepositoryReference.for_repo_obj(repo)
    link(repo, parsed.blob_digests, clock.now_ts())
    manifest, tag = oci_model.create_manifest_and_retarget_tag(ref, parsed, "t", None)
    assert manifest.digest == parsed.digest == row["expected_digest"]
    found = oci_model.lookup_manifest_by_digest(ref, parsed.digest)
    assert found.manifest_bytes == read(row) and found.media_type == row["media_type"]
    assert oci_model.get_manifest_for_tag(tag) == found


@pytest.mark.parametrize("row", rows_under("valid/schema2-list/", "valid/oci-index/"))
def test_every_corpus_index_names_its_first_missing_child(oci_model, row):
    parsed = parse_manifest_from_bytes(read(row), row["media_type"])
    ref = RepositoryReference.for_repo_obj(RepositoryFactory())
    with pytest.raises(errors.ManifestChildUnknownException,
                       match=parsed.child_manifests[0].digest):
        oci_model.create_manifest_and_retarget_tag(ref, parsed, "t", None)
