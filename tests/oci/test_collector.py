"""registry_model.oci.collector: what goes, what stays, and what a collection costs."""
import time

import pytest

from registry_model.blobstore import InMemoryBlobStore
from registry_model.database import Manifest, Tag
from registry_model.oci import manifest as manifest_model
from registry_model.oci import tag as tag_model
from registry_model.oci.collector import OCICollector, kept_manifest_ids
from registry_model.testing.factories import NamespaceFactory, RepositoryFactory
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
