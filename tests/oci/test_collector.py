"""registry_model.oci.collector: what goes, what stays, and what a collection costs."""
import time

import pytest

from registry_model.blobstore import InMemoryBlobStore
from registry_model.database import ImageStorage, Manifest, ManifestBlob, ManifestChild, Tag
from registry_model.model import blob as blob_model
from registry_model.oci import manifest as manifest_model
from registry_model.oci import tag as tag_model
from registry_model.oci.collector import OCICollector, kept_manifest_ids
from registry_model.testing.factories import ImageFactory, NamespaceFactory, RepositoryFactory
from registry_model.testing.queries import count_statements
from registry_model.transactions import transaction
from tests.oci import index_manifest, parse, pushable_image

T0 = 1_700_000_000_000
# After the blobs' hour-long upload links (made at the real time) have expired too.
LATER_S = int(time.time()) + 2 * 24 * 3600


@pytest.fixture
def namespace(initialized_db):
    return NamespaceFactory(removed_tag_expiration_s=0)


def stored(repo, parsed):
    with transaction():
        return manifest_model.store_manifest(repo.id, parsed, T0 // 1000)[0]


def dead_images(namespace, count):
    repo = RepositoryFactory(namespace=namespace)
    for index in range(count):
        row = stored(repo, pushable_image(repo, seed="%d-%d" % (repo.id, index))[0])
        tag_model.retarget_tag(repo.id, "t%d" % index, row.id, now_ms=T0)
        tag_model.delete_tag(repo.id, "t%d" % index, T0 + 1)
    return repo


def collect(repo, dry_run=False):
    collector = OCICollector(InMemoryBlobStore(), now=LATER_S, dry_run=dry_run)
    collector.collect_repository(repo.id)
    return collector.counts


def test_a_collection_costs_the_same_for_2_and_20_dead_images(namespace):
    small, large = dead_images(namespace, 2), dead_images(namespace, 20)
    costs = []
    for repo, count in ((small, 2), (large, 20)):
        with count_statements() as counted:
            counts = collect(repo)
        assert (counts["tags"], counts["manifests"], counts["blobs"]) == (count, count, 3 * count)
        costs.append(counted.count)
    assert costs[0] == costs[1]


def test_a_child_shared_by_two_lists_stays_while_either_does(namespace):
    repo = RepositoryFactory(namespace=namespace)
    shared = stored(repo, pushable_image(repo, seed="shared")[0])
    other = stored(repo, pushable_image(repo, seed="other")[0])
    first = stored(repo, parse(index_manifest([shared.manifest_bytes])))
    second = stored(repo, parse(index_manifest([shared.manifest_bytes, other.manifest_bytes])))
    tag_model.retarget_tag(repo.id, "first", first.id, now_ms=T0)
    tag_model.retarget_tag(repo.id, "second", second.id, now_ms=T0)
    assert kept_manifest_ids(repo.id) == {first.id, second.id, shared.id, other.id}

    tag_model.delete_tag(repo.id, "second", T0 + 1)
    counts = collect(repo)
    assert counts["manifests"] == 2  # second and other; shared stays with first
    assert {row.id for row in Manifest.select()} >= {first.id, shared.id}
    assert Manifest.get_or_none(Manifest.id == other.id) is None

    tag_model.delete_tag(repo.id, "first", T0 + 2)
    assert collect(repo)["manifests"] == 2
    assert Manifest.select().where(Manifest.repository == repo.id).count() == 0


def test_a_referrer_goes_with_its_subject_unless_tagged_itself(namespace):
    repo = RepositoryFactory(namespace=namespace)
    subject_parsed = pushable_image(repo, seed="subject")[0]
    subject = stored(repo, subject_parsed)
    signature = stored(repo, pushable_image(repo, seed="sig", subject=subject_parsed.bytes)[0])
    sbom = stored(repo, pushable_image(repo, seed="sbom", subject=subject_parsed.bytes)[0])
    tag_model.retarget_tag(repo.id, "latest", subject.id, now_ms=T0)
    tag_model.retarget_tag(repo.id, "sbom-tag", sbom.id, now_ms=T0)
    assert collect(repo)["manifests"] == 0
    tag_model.delete_tag(repo.id, "latest", T0 + 1)
    assert collect(repo)["manifests"] == 2  # subject and its untagged signature
    assert Manifest.get_or_none(Manifest.id == signature.id) is None
    assert Manifest.get_or_none(Manifest.id == sbom.id) is not None


def test_a_dry_run_counts_what_a_run_removes_and_changes_nothing(namespace):
    repo = dead_images(namespace, 3)
    before = (Manifest.select().count(), Tag.select().count())
    predicted = collect(repo, dry_run=True)
    assert (Manifest.select().count(), Tag.select().count()) == before
    done = collect(repo)
    assert {k: predicted[k] for k in ("tags", "manifests", "blobs", "links")} == {
        k: done[k] for k in ("tags", "manifests", "blobs", "links")}


def test_tags_within_the_time_machine_keep_their_manifests(initialized_db):
    repo = RepositoryFactory()  # the default window: 14 days
    row = stored(repo, pushable_image(repo)[0])
    tag_model.retarget_tag(repo.id, "t", row.id, now_ms=T0)
    tag_model.delete_tag(repo.id, "t", T0 + 1)
    collector = OCICollector(InMemoryBlobStore(), now=T0 // 1000 + 3600)
    collector.collect_repository(repo.id)
    assert collector.counts["manifests"] == 0 and collector.counts["tags"] == 0


def manifest_exists(row) -> bool:
    return Manifest.get_or_none(Manifest.id == row.id) is not None


def test_a_referrer_of_a_referrer_stays_with_its_chain_and_goes_with_its_root(namespace):
    repo = RepositoryFactory(namespace=namespace)
    image = pushable_image(repo, seed="image")[0]
    signature = pushable_image(repo, seed="sig", subject=image.bytes)[0]
    countersignature = pushable_image(repo, seed="countersig", subject=signature.bytes)[0]
    # The chain is stored leaf first: a referrer may arrive before its subject.
    chain = [stored(repo, countersignature), stored(repo, signature)]
    root = stored(repo, image)
    tag_model.retarget_tag(repo.id, "latest", root.id, now_ms=T0)
    assert kept_manifest_ids(repo.id) == {root.id} | {row.id for row in chain}
    assert collect(repo)["manifests"] == 0
    tag_model.delete_tag(repo.id, "latest", T0 + 1)
    assert collect(repo)["manifests"] == 3
    assert not any(manifest_exists(row) for row in chain + [root])


def test_a_referrer_of_a_child_stays_while_a_list_keeps_the_child(namespace):
    repo = RepositoryFactory(namespace=namespace)
    child = pushable_image(repo, seed="child")[0]
    child_row = stored(repo, child)
    listing = stored(repo, parse(index_manifest([child.bytes])))
    signature = stored(repo, pushable_image(repo, seed="sig", subject=child.bytes)[0])
    tag_model.retarget_tag(repo.id, "multi", listing.id, now_ms=T0)
    assert collect(repo)["manifests"] == 0
    assert all(manifest_exists(row) for row in (child_row, listing, signature))
    tag_model.delete_tag(repo.id, "multi", T0 + 1)
    assert collect(repo)["manifests"] == 3


def test_an_untagged_referrer_whose_subject_never_came_goes(namespace):
    repo = RepositoryFactory(namespace=namespace)
    absent = pushable_image(repo, seed="absent")[0]
    orphan = stored(repo, pushable_image(repo, seed="sig", subject=absent.bytes)[0])
    assert collect(repo)["manifests"] == 1
    assert not manifest_exists(orphan)


def test_a_hidden_temporary_tag_lets_go_once_ended_whatever_the_time_machine(initialized_db):
    repo = RepositoryFactory()  # the default window: 14 days
    row = stored(repo, pushable_image(repo, seed="by-digest")[0])
    with transaction():
        tag_model.create_temporary_tag(repo.id, row.id, 3600 * 1000, T0)
    before_end = OCICollector(InMemoryBlobStore(), now=T0 // 1000 + 3599)
    before_end.collect_repository(repo.id)
    assert (before_end.counts["tags"], before_end.counts["manifests"]) == (0, 0)
    after_end = OCICollector(InMemoryBlobStore(), now=T0 // 1000 + 3600)
    after_end.collect_repository(repo.id)
    assert (after_end.counts["tags"], after_end.counts["manifests"]) == (1, 1)
    assert not manifest_exists(row)


def test_an_ended_visible_tag_stays_for_the_whole_window_to_the_millisecond(initialized_db):
    repo = RepositoryFactory(namespace=NamespaceFactory(removed_tag_expiration_s=60))
    row = stored(repo, pushable_image(repo)[0])
    tag_model.retarget_tag(repo.id, "t", row.id, now_ms=T0)
    ended_ms = T0 + 500  # mid-second: the collector's clock counts whole seconds
    tag_model.delete_tag(repo.id, "t", ended_ms)
    for now_s, gone in ((ended_ms // 1000 + 60, 0), (ended_ms // 1000 + 61, 1)):
        collector = OCICollector(InMemoryBlobStore(), now=now_s)
        collector.collect_repository(repo.id)
        assert (collector.counts["tags"], collector.counts["manifests"]) == (gone, gone)


def test_blobs_stay_while_the_other_wing_or_an_unexpired_link_uses_them(namespace):
    repo = RepositoryFactory(namespace=namespace)
    row = stored(repo, pushable_image(repo, seed="shared-blobs", layer_count=2)[0])
    storages = [blob.blob for blob in ManifestBlob.select(ManifestBlob, ImageStorage)
                .join(ImageStorage).where(ManifestBlob.manifest == row.id)
                .order_by(ImageStorage.id)]
    ImageFactory(repository=RepositoryFactory(namespace=namespace), storage=storages[0])
    with transaction():
        blob_model.link_blob(RepositoryFactory(namespace=namespace).id, storages[1].id,
                             10 * 24 * 3600, LATER_S)
    counts = collect(repo)
    assert (counts["manifests"], counts["blobs"]) == (1, len(storages) - 2)
    assert ({blob.id for blob in ImageStorage.select()
             .where(ImageStorage.id.in_([s.id for s in storages]))}
            == {storages[0].id, storages[1].id})


def test_lists_go_before_their_children_so_an_interrupted_run_breaks_no_list(namespace,
                                                                             monkeypatch):
    repo = RepositoryFactory(namespace=namespace)
    child_rows = [stored(repo, pushable_image(repo, seed="c%d" % index)[0])
                  for index in range(3)]
    listing = stored(repo, parse(index_manifest([row.manifest_bytes for row in child_rows])))
    batches = []
    original = OCICollector._delete_manifests

    def recording(self, repository_id, ids, watermark):
        batches.append(list(ids))
        return original(self, repository_id, ids, watermark)

    monkeypatch.setattr(OCICollector, "_delete_manifests", recording)
    collector = OCICollector(InMemoryBlobStore(), now=LATER_S, batch_size=1)
    collector.collect_repository(repo.id)
    assert batches[0] == [listing.id] and len(batches) == 4
    assert collector.counts["manifests"] == 4
    assert ManifestChild.select().where(ManifestChild.repository == repo.id).count() == 0
