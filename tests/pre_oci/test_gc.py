"""The garbage-collection methods of PreOCIModel, on real pushed and imported images.

Collections here run inside the rolled-back ``initialized_db``: they never commit, so blob
files stay (the committed behaviour, files included, is in
tests/pre_oci/test_collector_transactions.py and tests/cli/test_gc.py). Budgets are read
from the RegistryDataInterface docstrings.
"""
import hashlib
import io
import json
import re

import pytest

from registry_model import errors
from registry_model.archive import write_docker_archive
from registry_model.archive.oci_layout import make_layer_tar
from registry_model.blobstore import FilesystemBlobStore, InMemoryBlobStore
from registry_model.clock import now_ts
from registry_model.database import (
    Image,
    ImageStorage,
    Namespace,
    Repository,
    RepositoryTag,
    UploadedBlob,
)
from registry_model.datatypes import GCSummary
from registry_model.images import import_archive
from registry_model.interface import RegistryDataInterface
from registry_model.model import lookup
from registry_model.sample import sample_config, sample_layers, write_sample_archive
from registry_model.testing.factories import NamespaceFactory, RepositoryFactory
from registry_model.testing.queries import count_statements

from . import (
    build_manifest,
    chain,
    link_blobs,
    push,
    row_counts,
    sha256_digest,
    v1_id,
    v1_json,
)

DAY = 24 * 3600
LATER = 15 * DAY  # past the default 14-day time machine and every upload link


@pytest.fixture
def store():
    return InMemoryBlobStore()


@pytest.fixture
def ref(registry_model):
    RepositoryFactory(namespace__name="devtable", name="collected")
    return registry_model.lookup_repository("devtable", "collected")


def doc(method: str) -> str:
    return " ".join(getattr(RegistryDataInterface, method).__doc__.split())


def budget(method: str) -> int:
    match = re.search(r"Budget: (\d+) statement", doc(method))
    assert match, "no budget documented for %s" % method
    return int(match.group(1))


def digests_present(digests) -> list:
    return sorted(row[0] for row in ImageStorage.select(ImageStorage.content_checksum)
                  .where(ImageStorage.content_checksum.in_(list(digests))).tuples())


# --- collecting one repository ----------------------------------------------------------


def test_an_untagged_image_goes_and_the_layers_it_shares_stay(registry_model, ref, store):
    kept, _ = push(registry_model, ref, chain(3, seed="kept"), tag="kept")
    base = chain(1, seed="kept")[0]  # the same base image: V1 id and blob
    base_id = json.loads(base[1])["id"]
    gone_layers = [base,
                   (sha256_digest("gone-1"), v1_json(v1_id("gone-1"), base_id)),
                   (sha256_digest("gone-2"), v1_json(v1_id("gone-2"), v1_id("gone-1")))]
    gone, _ = push(registry_model, ref, gone_layers, tag="gone")
    registry_model.delete_tag(ref, "gone")

    summary = registry_model.garbage_collect_repository(ref, store, now=now_ts() + LATER)

    assert isinstance(summary, GCSummary)
    assert (summary.tags, summary.manifests, summary.images, summary.blobs) == (1, 1, 2, 2)
    assert digests_present(gone.blob_digests) == [base[0]]
    assert registry_model.lookup_manifest_by_digest(ref, gone.digest, allow_dead=True) is None
    # The alive image pulls as before, its whole chain included.
    tag = registry_model.get_repo_tag(ref, "kept")
    assert registry_model.get_manifest_for_tag(tag).digest == kept.digest
    assert all(registry_model.get_repo_blob_by_digest(ref, digest) is not None
               for digest in kept.blob_digests)
    leaf = registry_model.get_legacy_image(ref, tag.docker_image_id, include_parents=True)
    assert [image.blob_digest for image in (leaf,) + leaf.parents] == list(
        reversed(kept.blob_digests))


def test_a_deleted_tag_inside_the_time_machine_survives_and_can_be_restored(registry_model,
                                                                           ref, store):
    built, _ = push(registry_model, ref, chain(2, seed="restorable"))
    registry_model.delete_tag(ref, "latest")

    summary = registry_model.garbage_collect_repository(ref, store, now=now_ts() + 2 * 3600)

    assert (summary.tags, summary.images, summary.blobs) == (0, 0, 0)
    manifest = registry_model.lookup_manifest_by_digest(ref, built.digest, allow_dead=True)
    restored = registry_model.retarget_tag(ref, "latest", manifest, None, None,
                                           is_reversion=True)
    assert restored.reversion and restored.manifest_digest == built.digest


def test_a_dry_run_reports_what_a_collection_removes_and_changes_nothing(registry_model, ref,
                                                                        store):
    push(registry_model, ref, chain(2, seed="dry"))
    registry_model.delete_tag(ref, "latest")
    before = row_counts()

    predicted = registry_model.garbage_collect_repository(ref, store, dry_run=True,
                                                          now=now_ts() + LATER)
    assert row_counts() == before
    done = registry_model.garbage_collect_repository(ref, store, now=now_ts() + LATER)
    rows = ("tags", "manifests", "labels", "images", "links", "blobs")
    assert [getattr(predicted, name) for name in rows] == [getattr(done, name) for name in rows]
    assert done.blobs == 2


# --- deleting a repository --------------------------------------------------------------


def test_a_marked_repository_is_invisible_at_once_and_purged_by_the_collector(
        registry_model, ref, store):
    built, _ = push(registry_model, ref, chain(2, seed="doomed"))
    RepositoryFactory(namespace=Namespace.get(Namespace.name == "devtable"), name="neighbour")
    neighbour = registry_model.lookup_repository("devtable", "neighbour")
    push(registry_model, neighbour, chain(2, seed="doomed"))  # the same blobs

    with count_statements() as counted:
        registry_model.mark_repository_for_deletion(ref)
    assert counted.count <= budget("mark_repository_for_deletion")
    assert registry_model.lookup_repository("devtable", "collected") is None

    summary = registry_model.purge_repository(ref, store)

    assert summary.purged == 1
    assert (summary.tags, summary.manifests, summary.images, summary.links) == (1, 1, 2, 2)
    assert summary.blobs == 0  # the neighbour still uses them
    assert not Repository.select().where(Repository.id == ref.id).exists()
    for digest in built.blob_digests:
        assert registry_model.get_repo_blob_by_digest(neighbour, digest) is not None


def test_garbage_collect_repository_purges_a_marked_repository(registry_model, ref, store):
    push(registry_model, ref, chain(1, seed="marked"))
    registry_model.mark_repository_for_deletion(ref)
    summary = registry_model.garbage_collect_repository(ref, store)
    assert (summary.purged, summary.tags, summary.blobs) == (1, 1, 1)


def test_purging_a_repository_not_marked_raises_and_writes_nothing(registry_model, ref, store):
    push(registry_model, ref, chain(1, seed="alive"))
    before = row_counts()
    with pytest.raises(errors.DataModelException, match="not marked"):
        registry_model.purge_repository(ref, store)
    assert row_counts() == before


def test_marking_or_purging_a_repository_that_is_gone_raises_not_found(registry_model, ref,
                                                                       store):
    Repository.delete().where(Repository.id == ref.id).execute()
    with pytest.raises(errors.NotFoundException):
        registry_model.mark_repository_for_deletion(ref)
    with pytest.raises(errors.NotFoundException):
        registry_model.purge_repository(ref, store)


# --- the worker and the sweep -----------------------------------------------------------


def test_collect_garbage_walks_every_repository_and_reports_where_it_stopped(registry_model,
                                                                            store):
    refs = []
    namespace = NamespaceFactory(name="walk")
    for index in range(3):
        RepositoryFactory(namespace=namespace, name="repo%d" % index)
        refs.append(registry_model.lookup_repository("walk", "repo%d" % index))
        push(registry_model, refs[-1], chain(1, seed="walk%d" % index))
        registry_model.delete_tag(refs[-1], "latest")
    registry_model.mark_repository_for_deletion(refs[2])
    seen = []

    summary = registry_model.collect_garbage(store, batch_size=2, now=now_ts() + LATER,
                                             start_after=refs[0].id,
                                             progress=lambda *args: seen.append(args[0]))

    assert seen[:2] == [refs[1].id, refs[2].id]
    assert summary.last_repository_id == seen[-1]
    assert (summary.purged, summary.tags, summary.blobs) == (1, 2, 2)
    assert registry_model.has_expired_tag(refs[0], "latest")  # before start_after


def test_sweep_orphan_blobs_keeps_named_and_recent_files(registry_model, ref):
    clock = [1_000_000.0]
    store = InMemoryBlobStore(clock=lambda: clock[0])
    named = store.put(b"named").digest
    link_blobs(registry_model, ref, [named])
    orphans = [store.put(b"orphan %d" % index).digest for index in range(150)]
    clock[0] += 7200
    recent = store.put(b"recent").digest

    with count_statements() as counted:
        summary = registry_model.sweep_orphan_blobs(store, grace_period_s=3600,
                                                    now=int(clock[0]))

    assert counted.count <= 2  # 1 per 100 files; 152 files
    assert re.search(r"1 statement per 100 files", doc("sweep_orphan_blobs"))
    assert (summary.orphan_files, summary.recent_files) == (150, 1)
    assert summary.orphan_bytes == sum(len(b"orphan %d" % index) for index in range(150))
    assert sorted(store.list_digests()) == sorted([named, recent])
    assert not any(store.exists(digest) for digest in orphans)


# --- budgets ------------------------------------------------------------------------------


def _collect_budget(batches: dict) -> int:
    text = doc("garbage_collect_repository")
    per_batch = {kind: int(cost) for cost, kind in re.findall(r"(\d+) per batch of (\w+)", text)}
    assert set(per_batch) == {"tags", "images", "links", "blobs"}
    planning = int(re.search(r"plus (\d+) to plan", text).group(1))
    return budget("garbage_collect_repository") + planning + sum(
        per_batch[kind] * count for kind, count in batches.items())


@pytest.mark.parametrize("size", [1, 50])
def test_garbage_collect_repository_stays_within_its_budget_per_batch(registry_model, store,
                                                                      size):
    measured = {}
    for rows in (1, size):
        namespace = NamespaceFactory(removed_tag_expiration_s=0)
        RepositoryFactory(namespace=namespace, name="budget")
        repo = registry_model.lookup_repository(namespace.name, "budget")
        for index in range(rows):
            push(registry_model, repo, chain(1, seed="budget%d-%d" % (size, index),
                                             labels={"com.example.n": str(index)}),
                 tag="t%d" % index)
            registry_model.delete_tag(repo, "t%d" % index)
        lookup.tables()
        with count_statements() as counted:
            summary = registry_model.garbage_collect_repository(repo, store,
                                                                now=now_ts() + LATER)
        assert (summary.tags, summary.labels, summary.images, summary.links,
                summary.blobs) == (rows,) * 5
        measured[rows] = counted.count
        assert counted.count <= _collect_budget(
            {"tags": 1, "images": 1, "links": 1, "blobs": 1}), counted.statements
    assert measured[1] == measured[size]


def test_release_blob_links_is_one_statement(registry_model, ref):
    built, _ = push(registry_model, ref, chain(3, seed="released"))
    with count_statements() as counted:
        released = registry_model.release_blob_links(ref, built.blob_digests)
    assert released == 3 and counted.count <= budget("release_blob_links")
    assert UploadedBlob.select().where(UploadedBlob.repository == ref.id).count() == 0


def test_a_link_of_a_blob_no_manifest_uses_yet_is_kept(registry_model, ref):
    manifest = build_manifest("devtable", "collected", "latest", chain(1, seed="pending"))
    link_blobs(registry_model, ref, manifest.blob_digests)
    assert registry_model.release_blob_links(ref, manifest.blob_digests) == 0
    assert registry_model.get_repo_blob_by_digest(ref, manifest.blob_digests[0]) is not None


# --- imported images ----------------------------------------------------------------------


def _archive(path, layers, repo_tag):
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    write_docker_archive(path, repo_tag, sample_config(diff_ids),
                         [(digest, len(layer), io.BytesIO(layer))
                          for digest, layer in zip(diff_ids, layers, strict=True)])
    return diff_ids


def test_an_imported_image_leaves_no_link_and_is_collected_once_untagged(
        registry_model, tmp_path):
    store = FilesystemBlobStore(tmp_path / "blobs", fsync=False)
    write_sample_archive(tmp_path / "hello.tar")
    base = sample_layers()[0]
    world = [base, make_layer_tar({"world.txt": "hello, world\n"})]
    world_digests = _archive(tmp_path / "world.tar", world, "acme/world:latest")
    hello = import_archive(tmp_path / "hello.tar", "acme", "hello", store, None)
    import_archive(tmp_path / "world.tar", "acme", "world", store, None)

    # Once the manifests are stored, only images hold the layers: no temporary link is left.
    assert UploadedBlob.select().count() == 0
    registry_model.delete_tag(hello.repository, "latest")
    Namespace.update(removed_tag_expiration_s=0).where(Namespace.name == "acme").execute()

    summary = registry_model.garbage_collect_repository(hello.repository, store,
                                                        now=now_ts() + 60)

    hello_digests = [layer.digest for layer in hello.layers]
    assert (summary.tags, summary.images, summary.blobs) == (1, 3, 2)
    assert digests_present(hello_digests) == [world_digests[0]]  # shared with acme/world
    assert Image.select().where(Image.repository == hello.repository.id).count() == 0
    assert RepositoryTag.select().where(
        RepositoryTag.repository == hello.repository.id).count() == 0
    world_ref = registry_model.lookup_repository("acme", "world")
    assert [registry_model.get_repo_blob_by_digest(world_ref, digest) is not None
            for digest in world_digests] == [True, True]
