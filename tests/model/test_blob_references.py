"""registry_model.model.blob_references: every wing's references keep a blob, in every decision.

A second wing is stood in for by declaring one more reference on an existing table the
collector does not clean up by itself: an UploadedBlob row counting whether or not it has
expired (the real links count only until they expire), or, where the collector would
delete the expired links first, a blob's placement rows. While such a reference is
declared, collection (real and dry), the sweep of unreferenced records, the repository's
blob lookup and link release must all see it.
"""
import pytest

from registry_model import registry_model, statements
from registry_model.blobstore import InMemoryBlobStore
from registry_model.database import ImageStorage, ImageStoragePlacement, UploadedBlob
from registry_model.datatypes import RepositoryReference
from registry_model.model import blob as blob_model
from registry_model.model import blob_gc, blob_references
from registry_model.pre_oci.collector import PreOCICollector
from registry_model.pre_oci.tables import Image
from registry_model.testing.factories import (
    ImageFactory,
    ImageStorageFactory,
    NamespaceFactory,
    RepositoryFactory,
    RepositoryTagFactory,
)
from registry_model.testing.queries import count_statements

NOW = 1_700_000_000
HOUR = 3600


@pytest.fixture
def repo(initialized_db):
    return RepositoryFactory(namespace=NamespaceFactory(removed_tag_expiration_s=0))


@pytest.fixture
def other_wing(monkeypatch):
    """Declare, for the test only, that any link (expired too) references its blob."""
    monkeypatch.setattr(blob_references, "_declared", list(blob_references._declared))
    blob_references.declare(UploadedBlob, UploadedBlob.blob, UploadedBlob.repository)
    yield
    statements.forget_all()  # the declaration goes: so do reads compiled with it


@pytest.fixture
def placement_wing(monkeypatch):
    """Declare, for the test only, that a blob's placements reference it (no repository)."""
    monkeypatch.setattr(blob_references, "_declared", list(blob_references._declared))
    blob_references.declare(ImageStoragePlacement, ImageStoragePlacement.storage,
                            ImageStoragePlacement.location)
    yield
    statements.forget_all()


def expired_link(repo, storage):
    return blob_model.link_blob(repo.id, storage.id, HOUR, NOW - 2 * HOUR)


def collect(repo, dry_run=False):
    collector = PreOCICollector(InMemoryBlobStore(), now=NOW, dry_run=dry_run)
    collector.collect_repository(repo.id)
    return collector.counts


def test_the_pre_oci_wing_declares_image_storage_on_import():
    declared = blob_references.wing_references()
    assert (Image, Image.storage, Image.repository) in [tuple(ref) for ref in declared]


def test_declaring_twice_keeps_one_reference(other_wing):
    before = len(blob_references.wing_references())
    blob_references.declare(UploadedBlob, UploadedBlob.blob, UploadedBlob.repository)
    assert len(blob_references.wing_references()) == before


def test_without_the_other_wing_an_expired_link_keeps_nothing(repo):
    storage = ImageStorageFactory()
    expired_link(repo, storage)
    assert collect(repo)["blobs"] == 1
    assert ImageStorage.get_or_none(ImageStorage.id == storage.id) is None


def test_a_blob_only_another_wing_references_survives_collection_and_its_dry_run(
        repo, placement_wing):
    storage = ImageStorageFactory()  # placed in the local location
    RepositoryTagFactory(repository=repo, image=ImageFactory(repository=repo, storage=storage),
                         lifetime_start_ts=NOW - 2 * HOUR, lifetime_end_ts=NOW - HOUR)
    predicted = collect(repo, dry_run=True)
    counts = collect(repo)
    assert predicted["images"] == counts["images"] == 1
    assert predicted["blobs"] == counts["blobs"] == 0
    assert ImageStorage.get_or_none(ImageStorage.id == storage.id) is not None


def test_the_unreferenced_sweep_asks_every_wing(repo, other_wing):
    kept, lost = ImageStorageFactory(), ImageStorageFactory()
    expired_link(repo, kept)
    top = ImageStorage.select().order_by(ImageStorage.id.desc()).get().id
    assert blob_references.unreferenced_blob_ids(0, top, 100, NOW) == [lost.id]


def test_used_blob_ids_is_one_statement_and_honours_what_a_dry_run_ignores(repo, other_wing):
    by_image, by_other = ImageStorageFactory(), ImageStorageFactory()
    image = ImageFactory(repository=repo, storage=by_image)
    link = expired_link(repo, by_other)
    with count_statements() as counted:
        used = blob_references.used_blob_ids([by_image.id, by_other.id], NOW)
    assert counted.count == 1 and used == {by_image.id, by_other.id}
    ignoring = {Image: {image.id}, UploadedBlob: {link.id}}
    assert blob_references.used_blob_ids([by_image.id, by_other.id], NOW, ignoring) == set()


def test_the_repository_blob_lookup_sees_the_other_wing(repo, other_wing):
    storage = ImageStorageFactory()
    expired_link(repo, storage)
    ref = RepositoryReference.for_repo_obj(repo)
    blob = registry_model.get_repo_blob_by_digest(ref, storage.content_checksum)
    assert blob is not None and blob.id == storage.id


def test_link_release_counts_a_reference_of_any_wing(repo, other_wing):
    storage = ImageStorageFactory()
    expired_link(repo, storage)
    fresh = blob_model.link_blob(repo.id, storage.id, HOUR, NOW)
    # The other wing's row (the expired link) uses the blob in this repository, so both
    # links count as no longer needed and go.
    assert blob_gc.release_blob_links(repo.id, [storage.content_checksum]) == 2
    assert UploadedBlob.get_or_none(UploadedBlob.id == fresh.id) is None
