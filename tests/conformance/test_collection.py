"""Garbage collection and repository deletion, as the interface shows them.

Collections here run inside the rolled-back ``initialized_db``: they never commit, so blob
files stay (the committed behaviour, files included, is in
tests/pre_oci/test_collector_transactions.py and tests/cli/test_gc.py).
"""
import pytest

from registry_model import errors
from registry_model.blobstore import InMemoryBlobStore
from registry_model.clock import now_ts
from registry_model.database import ImageStorage, UploadedBlob
from registry_model.datatypes import GCSummary
from registry_model.testing.budgets import budget, budget_per
from registry_model.testing.builders import layer_bytes, sha256_digest
from registry_model.testing.databases import snapshot_rows

from . import measure

DAY = 24 * 3600
LATER = 15 * DAY  # past the default 14-day time machine and every upload link


@pytest.fixture
def ref(builder):
    return builder.repository("devtable", "collected")


def digests_present(digests) -> list:
    """Which of the digests still have a blob record."""
    return sorted(row[0] for row in ImageStorage.select(ImageStorage.content_checksum)
                  .where(ImageStorage.content_checksum.in_(list(digests))).tuples())


def _collection_budget_for_one_batch_each() -> int:
    return (budget("garbage_collect_repository")
            + budget_per("garbage_collect_repository", "batch of tags")
            + budget_per("garbage_collect_repository", "batch of images")
            + budget_per("garbage_collect_repository", "batch of links")
            + budget_per("garbage_collect_repository", "batch of blobs"))


def _purge_budget_for_one_batch_each() -> int:
    return (budget("purge_repository")
            + budget_per("purge_repository", "batch of tags")
            + budget_per("purge_repository", "batch of images")
            + budget_per("purge_repository", "batch of links")
            + budget_per("purge_repository", "batch of blobs")
            + budget_per("purge_repository", "batch of uploads"))


# Collecting one repository


def test_an_untagged_image_goes_and_the_layers_it_shares_stay(registry_model, builder, ref,
                                                             store):
    kept_layers = layer_bytes(3, "kept")
    kept = builder.push_image(ref, "kept", kept_layers)
    gone = builder.push_image(ref, "gone", [kept_layers[0]] + layer_bytes(2, "gone"))
    registry_model.delete_tag(ref, "gone")

    summary = registry_model.garbage_collect_repository(ref, store, now=now_ts() + LATER)

    assert isinstance(summary, GCSummary)
    unshared = set(gone.blob_digests) - set(kept.blob_digests)
    assert (summary.tags, summary.manifests, summary.images, summary.blobs) == (
        1, 1, builder.image_rows(2), len(unshared))
    assert digests_present(gone.blob_digests) == [sha256_digest(kept_layers[0])]
    assert registry_model.lookup_manifest_by_digest(ref, gone.manifest.digest,
                                                    allow_dead=True) is None
    # The alive image pulls as before, its whole chain included.
    tag = registry_model.get_repo_tag(ref, "kept")
    assert registry_model.get_manifest_for_tag(tag) == kept.manifest
    assert all(registry_model.get_repo_blob_by_digest(ref, digest) is not None
               for digest in kept.blob_digests)
    leaf = registry_model.get_legacy_image(ref, tag.docker_image_id, include_parents=True)
    assert [image.blob_digest for image in (leaf,) + leaf.parents] == [
        sha256_digest(data) for data in reversed(kept_layers)]


def test_a_deleted_tag_inside_the_time_machine_survives_and_can_be_restored(registry_model,
                                                                           builder, ref, store):
    pushed = builder.push_image(ref, "latest", layer_bytes(2, "restorable"))
    registry_model.delete_tag(ref, "latest")

    summary = registry_model.garbage_collect_repository(ref, store, now=now_ts() + 2 * 3600)

    assert (summary.tags, summary.images, summary.blobs) == (0, 0, 0)
    manifest = registry_model.lookup_manifest_by_digest(ref, pushed.manifest.digest,
                                                        allow_dead=True)
    restored = registry_model.retarget_tag(ref, "latest", manifest, None, None,
                                           is_reversion=True)
    assert restored.reversion and restored.manifest_digest == pushed.manifest.digest


def test_a_dry_run_reports_what_a_collection_removes_and_changes_nothing(registry_model,
                                                                        builder, ref, store):
    pushed = builder.push_image(ref, "latest", layer_bytes(2, "dry"))
    registry_model.delete_tag(ref, "latest")
    before = snapshot_rows()

    predicted = registry_model.garbage_collect_repository(ref, store, dry_run=True,
                                                          now=now_ts() + LATER)
    assert snapshot_rows() == before
    done = registry_model.garbage_collect_repository(ref, store, now=now_ts() + LATER)
    rows = ("tags", "manifests", "labels", "images", "links", "blobs")
    assert [getattr(predicted, name) for name in rows] == [getattr(done, name) for name in rows]
    assert done.blobs == len(pushed.blob_digests)


@pytest.mark.parametrize("size", [1, 50])
def test_garbage_collect_repository_stays_within_its_budget_per_batch(registry_model, builder,
                                                                      store, size):
    measured = {}
    for attempt, rows in enumerate((1, size)):
        namespace = "budget%d-%d" % (size, attempt)
        builder.namespace(namespace, 0)
        repo = builder.repository(namespace, "budget")
        for index in range(rows):
            layers = layer_bytes(1, "budget%d-%d-%d" % (size, attempt, index))
            pushed = builder.push_image(repo, "t%d" % index, layers,
                                        labels={"com.example.n": str(index)})
            registry_model.delete_tag(repo, "t%d" % index)
        summary, counted = measure(lambda repo=repo: registry_model.garbage_collect_repository(
            repo, store, now=now_ts() + LATER))
        blobs = rows * len(pushed.blob_digests)
        assert (summary.tags, summary.labels, summary.images, summary.links,
                summary.blobs) == (rows, rows, builder.image_rows(rows), blobs, blobs)
        measured[rows] = counted.count
        assert counted.count <= _collection_budget_for_one_batch_each(), counted.statements
    assert measured[1] == measured[size]


# Deleting a repository


def test_a_marked_repository_is_invisible_at_once_and_purged_by_the_collector(
        registry_model, builder, ref, store):
    layers = layer_bytes(2, "doomed")
    pushed = builder.push_image(ref, "latest", layers)
    neighbour = builder.repository("devtable", "neighbour")
    builder.push_image(neighbour, "latest", layers)  # the same blobs

    _, counted = measure(lambda: registry_model.mark_repository_for_deletion(ref))
    assert counted.count <= budget("mark_repository_for_deletion"), counted.statements
    assert registry_model.lookup_repository("devtable", "collected") is None

    summary, counted = measure(lambda: registry_model.purge_repository(ref, store))

    assert counted.count <= _purge_budget_for_one_batch_each(), counted.statements
    assert summary.purged == 1
    assert (summary.tags, summary.manifests, summary.images, summary.links) == (
        1, 1, builder.image_rows(2), len(pushed.blob_digests))
    assert summary.blobs == 0  # the neighbour still uses them
    assert registry_model.get_repository("devtable", "collected") is None
    for digest in pushed.blob_digests:
        assert registry_model.get_repo_blob_by_digest(neighbour, digest) is not None


def test_garbage_collect_repository_purges_a_marked_repository(registry_model, builder, ref,
                                                               store):
    pushed = builder.push_image(ref, "latest", layer_bytes(1, "marked"))
    registry_model.mark_repository_for_deletion(ref)
    summary = registry_model.garbage_collect_repository(ref, store)
    assert (summary.purged, summary.tags, summary.blobs) == (1, 1, len(pushed.blob_digests))


def test_purging_a_repository_not_marked_raises_and_writes_nothing(registry_model, builder, ref,
                                                                   store):
    builder.push_image(ref, "latest", layer_bytes(1, "alive"))
    before = snapshot_rows()
    with pytest.raises(errors.DataModelException, match="not marked"):
        registry_model.purge_repository(ref, store)
    assert snapshot_rows() == before


def test_marking_or_purging_a_repository_that_is_gone_raises_not_found(registry_model, ref,
                                                                       store):
    registry_model.mark_repository_for_deletion(ref)
    registry_model.purge_repository(ref, store)
    assert registry_model.get_repository("devtable", "collected") is None
    with pytest.raises(errors.NotFoundException):
        registry_model.mark_repository_for_deletion(ref)
    with pytest.raises(errors.NotFoundException):
        registry_model.purge_repository(ref, store)


def test_a_repository_that_is_gone_is_collected_as_zeros(registry_model, ref, store):
    registry_model.mark_repository_for_deletion(ref)
    registry_model.purge_repository(ref, store)
    summary = registry_model.garbage_collect_repository(ref, store)
    assert summary == GCSummary.for_counts({})


# The worker and the sweep


def test_collect_garbage_walks_every_repository_and_reports_where_it_stopped(registry_model,
                                                                            builder, store):
    refs = []
    for index in range(3):
        refs.append(builder.repository("walk", "repo%d" % index))
        pushed = builder.push_image(refs[-1], "latest", layer_bytes(1, "walk%d" % index))
        registry_model.delete_tag(refs[-1], "latest")
    registry_model.mark_repository_for_deletion(refs[2])
    seen = []

    summary = registry_model.collect_garbage(store, batch_size=2, now=now_ts() + LATER,
                                             start_after=refs[0].id,
                                             progress=lambda *args: seen.append(args[0]))

    assert seen[:2] == [refs[1].id, refs[2].id]
    assert summary.last_repository_id == seen[-1]
    assert (summary.purged, summary.tags, summary.blobs) == (1, 2, 2 * len(pushed.blob_digests))
    assert registry_model.has_expired_tag(refs[0], "latest")  # before start_after


def test_collect_garbage_stays_within_its_budget(registry_model, builder, store):
    """The walk's own statements, beside each repository's collection within its budget."""
    refs = [builder.repository("walkbudget", "repo%d" % index) for index in range(3)]
    for ref in refs:
        builder.push_image(ref, "latest", layer_bytes(1, ref.name))
        registry_model.delete_tag(ref, "latest")
    later = now_ts() + LATER
    existing = {entry.id for entry in registry_model.list_repositories(limit=1000)}
    start_after = min(existing) - 1
    collections = []
    for ref in registry_model.list_repositories(limit=1000):
        _, counted = measure(lambda ref=ref: registry_model.garbage_collect_repository(
            ref, store, now=later, dry_run=True, batch_size=2))  # as the walk's
        collections.append(counted.count)
    summary, counted = measure(lambda: registry_model.collect_garbage(
        store, batch_size=2, now=later, dry_run=True, start_after=start_after))
    repository_batches = len(existing) // 2 + 1
    walk = (budget("collect_garbage")
            + budget_per("collect_garbage", "batch of repositories") * repository_batches
            + budget_per("collect_garbage", "batch of stray blobs") * 1)
    assert summary.tags == 3
    assert counted.count <= walk + sum(collections), counted.statements


def test_sweep_orphan_blobs_keeps_named_and_recent_files(registry_model, implementation, ref):
    clock = [1_000_000.0]
    store = InMemoryBlobStore(clock=lambda: clock[0])
    implementation.builder_class(registry_model, store).upload(ref, b"named")
    named = sha256_digest(b"named")
    orphans = [store.put(b"orphan %d" % index).digest for index in range(150)]
    clock[0] += 7200
    recent = store.put(b"recent").digest

    summary, counted = measure(lambda: registry_model.sweep_orphan_blobs(
        store, grace_period_s=3600, now=int(clock[0])))

    # 152 files: two hundreds begun.
    assert counted.count <= 2 * budget_per("sweep_orphan_blobs", "100 files in the store")
    assert (summary.orphan_files, summary.recent_files) == (150, 1)
    assert summary.orphan_bytes == sum(len(b"orphan %d" % index) for index in range(150))
    assert sorted(store.list_digests()) == sorted([named, recent])
    assert not any(store.exists(digest) for digest in orphans)


# Temporary links


def test_release_blob_links_drops_the_links_of_blobs_images_use(registry_model, builder, ref):
    pushed = builder.push_image(ref, "latest", layer_bytes(3, "released"))
    released, counted = measure(lambda: registry_model.release_blob_links(
        ref, pushed.blob_digests))
    assert released == len(pushed.blob_digests) and counted.count <= budget("release_blob_links")
    assert UploadedBlob.select().where(UploadedBlob.repository == ref.id).count() == 0
    assert all(registry_model.get_repo_blob_by_digest(ref, digest) is not None
               for digest in pushed.blob_digests)


def test_a_link_of_a_blob_no_manifest_uses_yet_is_kept(registry_model, builder, ref):
    blobs = builder.upload_all(ref, layer_bytes(1, "pending"))
    assert registry_model.release_blob_links(ref, list(blobs)) == 0
    assert registry_model.get_repo_blob_by_digest(ref, next(iter(blobs))) is not None
