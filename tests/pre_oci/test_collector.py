"""registry_model.pre_oci.collector on model.collection: what goes, what never does, the cost.

These run inside the rolled-back ``initialized_db``, so no collection here ever commits and
no blob file is ever removed (that is the point of the after-commit rule; the committed
behaviour is in test_collector_transactions.py). Files are checked through dry runs, which read
the blob store without changing it.
"""
import hashlib

import pytest

from registry_model import errors
from registry_model.blobstore import InMemoryBlobStore
from registry_model.database import (
    ALL_MODELS,
    LOOKUP_MODELS,
    BlobUpload,
    Image,
    ImageStorage,
    ImageStoragePlacement,
    Label,
    Repository,
    RepositoryState,
    RepositoryTag,
    TagManifest,
    TagManifestLabel,
    UploadedBlob,
)
from registry_model.model import blob as blob_model
from registry_model.model import blob_gc, lookup
from registry_model.model import collection as gc
from registry_model.pre_oci import label as label_model
from registry_model.pre_oci.collector import PreOCICollector
from registry_model.testing.factories import (
    ImageFactory,
    ImageStorageFactory,
    NamespaceFactory,
    RepositoryFactory,
    RepositoryTagFactory,
    TagManifestFactory,
)
from registry_model.testing.queries import count_statements

NOW = 1_700_000_000
WINDOW = 3600
HOUR = 3600


@pytest.fixture
def store():
    return InMemoryBlobStore(clock=lambda: NOW - 10 * HOUR)


@pytest.fixture
def repo(initialized_db):
    return RepositoryFactory(namespace=NamespaceFactory(removed_tag_expiration_s=WINDOW))


def ended_tag(repo, image=None, ended_at=NOW - WINDOW - 1, **kwargs):
    if image is not None:
        kwargs["image"] = image
    return RepositoryTagFactory(repository=repo, lifetime_start_ts=ended_at - 100,
                                lifetime_end_ts=ended_at, **kwargs)


def labelled_manifest(tag, *keys):
    manifest = TagManifestFactory(tag=tag)
    labels = [label_model.create_manifest_label(manifest.id, key, "value", "api")
              for key in keys]
    return manifest, labels


def collect(repo, store, **options):
    collector = PreOCICollector(store, now=options.pop("now", NOW), **options)
    assert collector.collect_repository(repo.id)
    return collector.counts


def present(model, *rows) -> list:
    ids = [row.id for row in rows]
    return sorted(row[0] for row in model.select(model.id).where(model.id.in_(ids)).tuples())


def ids(*rows) -> list:
    return sorted(row.id for row in rows)


def snapshot() -> dict:
    """Every row of every table that collection may touch, as tuples."""
    return {model.__name__: sorted(model.select().tuples())
            for model in ALL_MODELS if model not in LOOKUP_MODELS}


def blob_with_bytes(store, data: bytes, **kwargs):
    return ImageStorageFactory(content_checksum=store.put(data).digest, image_size=len(data),
                               **kwargs)


# --- tags, manifests, labels ------------------------------------------------------------


def test_tags_that_ended_before_the_window_go_with_their_manifests_and_labels(repo, store):
    old = ended_tag(repo, name="old")
    old_manifest, old_labels = labelled_manifest(old, "com.example.a", "com.example.b")
    alive = RepositoryTagFactory(repository=repo, name="alive")
    alive_manifest, alive_labels = labelled_manifest(alive, "com.example.a")

    counts = collect(repo, store)

    assert (counts["tags"], counts["manifests"], counts["labels"]) == (1, 1, 2)
    assert present(RepositoryTag, old, alive) == [alive.id]
    assert present(TagManifest, old_manifest, alive_manifest) == [alive_manifest.id]
    assert present(Label, *old_labels, *alive_labels) == ids(*alive_labels)
    assert TagManifestLabel.select().where(
        TagManifestLabel.annotated == old_manifest.id).count() == 0


def test_a_tag_goes_once_a_full_window_has_passed_since_it_ended(repo, store):
    at_edge = ended_tag(repo, ended_at=NOW - WINDOW)
    inside = ended_tag(repo, ended_at=NOW - WINDOW + 1)
    counts = collect(repo, store)
    assert counts["tags"] == 1
    assert present(RepositoryTag, at_edge, inside) == [inside.id]


def test_a_namespace_without_time_machine_loses_its_ended_tags_at_once(initialized_db, store):
    repo = RepositoryFactory(namespace=NamespaceFactory(removed_tag_expiration_s=0))
    ended_now = ended_tag(repo, ended_at=NOW)
    ending_later = RepositoryTagFactory(repository=repo, lifetime_start_ts=NOW - 5,
                                        lifetime_end_ts=NOW + 1)
    collect(repo, store)
    assert present(RepositoryTag, ended_now, ending_later) == [ending_later.id]


def test_alive_expiring_hidden_and_recently_ended_tags_and_their_images_stay(repo, store):
    kept = [RepositoryTagFactory(repository=repo, name="alive"),
            RepositoryTagFactory(repository=repo, name="expiring", lifetime_start_ts=NOW - 10,
                                 lifetime_end_ts=NOW + HOUR),
            RepositoryTagFactory(repository=repo, name="hidden", hidden=True),
            ended_tag(repo, name="restorable", ended_at=NOW - 60)]
    manifests = [labelled_manifest(tag, "com.example.keep")[0] for tag in kept]
    before = snapshot()

    counts = collect(repo, store)

    assert snapshot() == before
    assert sum(counts[kind] for kind in ("tags", "manifests", "labels", "images", "blobs")) == 0
    assert present(TagManifest, *manifests) == ids(*manifests)


def test_tags_of_other_repositories_are_not_touched(repo, store):
    elsewhere = ended_tag(RepositoryFactory(namespace=repo.namespace))
    ended_tag(repo)
    collect(repo, store)
    assert present(RepositoryTag, elsewhere) == [elsewhere.id]


# --- legacy images --------------------------------------------------------------------


def test_images_no_remaining_tag_reaches_go_and_shared_ancestors_stay(repo, store):
    base = ImageFactory(repository=repo)
    middle = ImageFactory(parent=base)
    doomed_top = ImageFactory(parent=middle)
    kept_top = ImageFactory(parent=middle)
    untagged = ImageFactory(repository=repo)
    ended_tag(repo, doomed_top)
    RepositoryTagFactory(repository=repo, image=kept_top)

    counts = collect(repo, store)

    assert counts["images"] == 2
    assert present(Image, base, middle, doomed_top, kept_top, untagged) == ids(
        base, middle, kept_top)
    assert counts["blobs"] == 2  # each factory image has a blob of its own


def test_a_tag_inside_the_window_keeps_its_whole_chain(repo, store):
    chain = [ImageFactory(repository=repo)]
    for _ in range(4):
        chain.append(ImageFactory(parent=chain[-1]))
    ended_tag(repo, chain[-1], ended_at=NOW - WINDOW + 60)
    ended_tag(repo, chain[2])  # its own tag is gone, but a descendant is still reached

    counts = collect(repo, store)

    assert counts["tags"] == 1 and counts["images"] == 0
    assert present(Image, *chain) == ids(*chain)


def test_a_deep_chain_loses_only_the_branch_no_tag_reaches(repo, store):
    chain = [ImageFactory(repository=repo)]
    for _ in range(29):
        chain.append(ImageFactory(parent=chain[-1]))
    branch = [ImageFactory(parent=chain[10])]
    for _ in range(2):
        branch.append(ImageFactory(parent=branch[-1]))
    RepositoryTagFactory(repository=repo, image=chain[-1])
    ended_tag(repo, branch[-1])
    ended_tag(repo, chain[5])

    counts = collect(repo, store, batch_size=2)

    assert counts["images"] == 3
    assert present(Image, *chain, *branch) == ids(*chain)


# --- links and blobs ------------------------------------------------------------------


def test_expired_links_go_and_an_unexpired_link_protects_its_blob(repo, store):
    expired_only = ImageStorageFactory()
    protected = ImageStorageFactory()
    expired = blob_model.link_blob(repo.id, expired_only.id, HOUR, NOW - HOUR)
    also_expired = blob_model.link_blob(repo.id, protected.id, HOUR, NOW - 2 * HOUR)
    unexpired = blob_model.link_blob(repo.id, protected.id, HOUR, NOW - 10)

    counts = collect(repo, store)

    assert (counts["links"], counts["blobs"]) == (2, 1)
    assert present(UploadedBlob, expired, also_expired, unexpired) == [unexpired.id]
    assert present(ImageStorage, expired_only, protected) == [protected.id]
    assert ImageStoragePlacement.select().where(
        ImageStoragePlacement.storage == expired_only.id).count() == 0


def test_a_blob_another_repository_uses_is_kept_whatever_this_one_drops(repo, store):
    other = RepositoryFactory(namespace=repo.namespace)
    by_image, by_link, by_expired_link = (ImageStorageFactory() for _ in range(3))
    for storage in (by_image, by_link, by_expired_link):
        ended_tag(repo, ImageFactory(repository=repo, storage=storage))
    ImageFactory(repository=other, storage=by_image)
    blob_model.link_blob(other.id, by_link.id, HOUR, NOW - 10)
    stale = blob_model.link_blob(other.id, by_expired_link.id, HOUR, NOW - 2 * HOUR)

    counts = collect(repo, store)

    assert (counts["images"], counts["blobs"]) == (3, 1)
    assert present(ImageStorage, by_image, by_link, by_expired_link) == ids(by_image, by_link)
    # An expired link protects nothing; it goes with its blob.
    assert present(UploadedBlob, stale) == []


def test_a_blob_record_still_uploading_is_never_collected(repo, store):
    uploading = ImageStorageFactory(uploading=True)
    ended_tag(repo, ImageFactory(repository=repo, storage=uploading))
    counts = collect(repo, store)
    assert (counts["images"], counts["blobs"]) == (1, 0)
    assert present(ImageStorage, uploading) == [uploading.id]


def test_a_dry_run_counts_the_files_a_collection_would_free(repo, store):
    only_here = blob_with_bytes(store, b"only here")
    twin = blob_with_bytes(store, b"twin")
    twin_elsewhere = ImageStorageFactory(content_checksum=twin.content_checksum)
    ImageFactory(repository=RepositoryFactory(), storage=twin_elsewhere)
    without_file = ImageStorageFactory()
    for storage in (only_here, twin, without_file):
        ended_tag(repo, ImageFactory(repository=repo, storage=storage))

    counts = collect(repo, store, dry_run=True)

    assert counts["blobs"] == 3
    # The twin's file stays: another record names its digest. No file, nothing to free.
    assert (counts["files"], counts["bytes_freed"]) == (1, len(b"only here"))
    # Written 10 hours ago: inside an 11-hour grace period, the file would stay.
    recent = collect(repo, store, dry_run=True, grace_s=11 * HOUR)
    assert (recent["files"], recent["recent_files"]) == (0, 1)


def test_a_dry_run_writes_nothing_and_predicts_the_real_run(repo, store):
    old = ended_tag(repo, ImageFactory(parent=ImageFactory(repository=repo)))
    labelled_manifest(old, "com.example.a")
    blob_model.link_blob(repo.id, ImageStorageFactory().id, HOUR, NOW - 2 * HOUR)
    RepositoryTagFactory(repository=repo)
    before = snapshot()

    with count_statements() as counted:
        predicted = collect(repo, store, dry_run=True)

    assert snapshot() == before
    assert not [sql for sql in counted.statements if not sql.lstrip().startswith("SELECT")]
    counts = collect(repo, store)
    kinds = ("tags", "manifests", "labels", "images", "links", "blobs")
    assert [predicted[kind] for kind in kinds] == [counts[kind] for kind in kinds]
    assert [counts[kind] for kind in kinds] == [1, 1, 1, 2, 1, 3]


# --- purging --------------------------------------------------------------------------


def test_purging_removes_every_row_of_a_marked_repository_and_nothing_else(repo, store):
    shared = ImageStorageFactory()
    alive = RepositoryTagFactory(repository=repo, image=ImageFactory(repository=repo,
                                                                     storage=shared))
    labelled_manifest(alive, "com.example.a")
    ended_tag(repo, ended_at=NOW - 5)  # inside the window: a purge takes it anyway
    blob_model.link_blob(repo.id, ImageStorageFactory().id, HOUR, NOW)
    BlobUpload.create(repository=repo.id, uuid="0b5c5a5e-4f65-4bd2-9e2c-6d6a3a1c0d11",
                      location=lookup.location_id("local"), created=NOW)
    other = RepositoryFactory(namespace=repo.namespace)
    other_tag = RepositoryTagFactory(repository=other,
                                     image=ImageFactory(repository=other, storage=shared))
    Repository.update(state=RepositoryState.MARKED_FOR_DELETION).where(
        Repository.id == repo.id).execute()

    counts = collect(repo, store)

    assert counts["purged"] == 1
    assert (counts["tags"], counts["images"], counts["links"], counts["uploads"],
            counts["blobs"]) == (2, 2, 1, 1, 2)
    assert present(Repository, repo, other) == [other.id]
    for model in (RepositoryTag, Image, UploadedBlob, BlobUpload, TagManifestLabel):
        assert model.select().where(model.repository == repo.id).count() == 0
    assert present(ImageStorage, shared) == [shared.id]
    assert present(RepositoryTag, other_tag) == [other_tag.id]


def test_purging_a_repository_that_is_not_marked_raises_and_writes_nothing(repo, store):
    ended_tag(repo)
    before = snapshot()
    with pytest.raises(errors.DataModelException, match="not marked for deletion"):
        PreOCICollector(store, now=NOW).collect_repository(repo.id, purge=True)
    assert snapshot() == before


def test_collecting_a_repository_that_is_gone_reports_false(initialized_db, store):
    assert PreOCICollector(store, now=NOW).collect_repository(2**31 - 7) is False


@pytest.mark.parametrize("option, value", [("batch_size", 0), ("batch_size", 1001),
                                           ("batch_size", "10"), ("grace_s", -1),
                                           ("now", True)])
def test_bad_options_raise_before_any_query(initialized_db, store, option, value):
    with count_statements() as counted, pytest.raises(errors.DataModelException):
        PreOCICollector(store, **{option: value})
    assert counted.count == 0


# --- what it costs --------------------------------------------------------------------


def _world(repo, size: int) -> None:
    """``size`` of each collectable kind: labelled dead tags, images, links, blobs."""
    for _ in range(size):
        tag = ended_tag(repo, ImageFactory(repository=repo))
        labelled_manifest(tag, "com.example.a")
        blob_model.link_blob(repo.id, ImageStorageFactory().id, HOUR, NOW - 2 * HOUR)


@pytest.mark.parametrize("batch_size", [100, 1000])
def test_statements_do_not_grow_with_the_rows_a_batch_collects(initialized_db, store,
                                                               batch_size):
    measured = {}
    for size in (1, 50):
        repo = RepositoryFactory(namespace=NamespaceFactory(removed_tag_expiration_s=WINDOW))
        _world(repo, size)
        lookup.tables()
        with count_statements() as counted:
            counts = collect(repo, store, batch_size=batch_size)
        assert (counts["tags"], counts["labels"], counts["images"], counts["links"],
                counts["blobs"]) == (size, size, size, size, 2 * size)
        measured[size] = counted.count
    assert measured[1] == measured[50], measured


def test_each_further_batch_costs_the_same(initialized_db, store):
    measured = {}
    for batch_size in (10, 25):
        repo = RepositoryFactory(namespace=NamespaceFactory(removed_tag_expiration_s=WINDOW))
        _world(repo, 50)
        lookup.tables()
        with count_statements() as counted:
            collect(repo, store, batch_size=batch_size)
        measured[batch_size] = counted.count
    # 50 rows: 5 batches against 2 per kind (tags, images, links; 100 blobs: 10 against 4).
    # A batch costs 6 (tags), 3 (images), 2 (links), 5 (blobs, plus 1 after the commit).
    per_batch = 3 * (6 + 3 + 2) + 6 * 5
    assert measured[10] - measured[25] == per_batch, measured


# --- the worker, stray records, orphan files, links -------------------------------------


def test_the_worker_walks_every_repository_in_batches_and_resumes_where_it_stopped(
        initialized_db, store):
    repos = [RepositoryFactory(namespace=NamespaceFactory(removed_tag_expiration_s=0))
             for _ in range(5)]
    tags = [ended_tag(repo, ended_at=NOW) for repo in repos]
    Repository.update(state=RepositoryState.MARKED_FOR_DELETION).where(
        Repository.id == repos[1].id).execute()
    seen = []
    to_walk = Repository.select().where(Repository.id > repos[0].id).count()

    counts, last = gc.collect_all(PreOCICollector(store, now=NOW, batch_size=2),
                                  start_after=repos[0].id,
                                  progress=lambda *args: seen.append(args))

    walked = [args[0] for args in seen]
    assert walked == sorted(walked) and walked[:4] == [repo.id for repo in repos[1:]]
    assert [(args[1], args[2]) for args in seen] == [(n, to_walk) for n in range(1, to_walk + 1)]
    assert last == walked[-1] and counts["repositories"] == len(walked)
    assert counts["purged"] == 1 and present(Repository, *repos) == ids(repos[0], *repos[2:])
    # The repository before start_after is untouched.
    assert present(RepositoryTag, *tags) == [tags[0].id]


def test_a_dry_run_of_the_worker_counts_a_blob_that_two_collected_repositories_share(
        initialized_db, store):
    shared = blob_with_bytes(store, b"shared by two repositories")
    for _ in range(2):
        repo = RepositoryFactory(namespace=NamespaceFactory(removed_tag_expiration_s=WINDOW))
        ended_tag(repo, ImageFactory(repository=repo, storage=shared))
    before = snapshot()

    predicted, _ = gc.collect_all(PreOCICollector(store, now=NOW, dry_run=True))

    assert snapshot() == before
    counts, _ = gc.collect_all(PreOCICollector(store, now=NOW))
    kinds = ("tags", "images", "blobs")
    assert [predicted[kind] for kind in kinds] == [counts[kind] for kind in kinds] == [2, 2, 1]
    assert present(ImageStorage, shared) == []


def test_a_dry_run_of_the_worker_counts_once_a_link_its_blob_takes_along(initialized_db,
                                                                         store):
    blob = blob_with_bytes(store, b"dropped with its record, links and all")
    first, second = (RepositoryFactory(namespace=NamespaceFactory(removed_tag_expiration_s=0))
                     for _ in range(2))
    ended_tag(first, ImageFactory(repository=first, storage=blob))
    blob_model.link_blob(second.id, blob.id, HOUR, NOW - 2 * HOUR)  # expired

    predicted, _ = gc.collect_all(PreOCICollector(store, now=NOW, dry_run=True))
    counts, _ = gc.collect_all(PreOCICollector(store, now=NOW))

    # The first repository's collection drops the blob and the second's expired link with it.
    kinds = ("images", "links", "blobs")
    assert [predicted[kind] for kind in kinds] == [counts[kind] for kind in kinds] == [1, 0, 1]


def test_the_worker_collects_blob_records_nothing_references(initialized_db, store):
    stray = ImageStorageFactory()
    expired = ImageStorageFactory()
    blob_model.link_blob(RepositoryFactory().id, expired.id, HOUR, NOW - 2 * HOUR)
    linked = ImageStorageFactory()
    blob_model.link_blob(RepositoryFactory().id, linked.id, HOUR, NOW)
    used = RepositoryTagFactory().image.storage
    uploading = ImageStorageFactory(uploading=True)

    counts, _ = gc.collect_all(PreOCICollector(store, now=NOW))

    assert counts["blobs"] >= 2
    assert present(ImageStorage, stray, expired, linked, used, uploading) == ids(
        linked, used, uploading)


def test_the_orphan_sweep_removes_old_unnamed_files_only(initialized_db):
    clock = [NOW - 2 * HOUR]
    store = InMemoryBlobStore(clock=lambda: clock[0])
    old_orphan = store.put(b"old orphan").digest
    named = blob_with_bytes(store, b"named").content_checksum
    clock[0] = NOW - 60
    recent_orphan = store.put(b"recent orphan").digest

    dry = blob_gc.sweep_orphan_blobs(store, grace_s=HOUR, now=NOW, dry_run=True)
    assert (dry["orphan_files"], dry["orphan_bytes"], dry["recent_files"]) == (
        1, len(b"old orphan"), 1)
    assert store.exists(old_orphan)

    counts = blob_gc.sweep_orphan_blobs(store, grace_s=HOUR, now=NOW, batch_size=1)
    assert counts == dry
    assert sorted(store.list_digests()) == sorted([named, recent_orphan])


def test_release_blob_links_drops_links_of_blobs_the_repository_images_use(repo):
    used = ImageFactory(repository=repo).storage
    unused = ImageStorageFactory()
    other = RepositoryFactory()
    ImageFactory(repository=other, storage=used)
    dropped = blob_model.link_blob(repo.id, used.id, HOUR, NOW)
    kept = blob_model.link_blob(repo.id, unused.id, HOUR, NOW)
    elsewhere = blob_model.link_blob(other.id, used.id, HOUR, NOW)
    digests = [used.content_checksum, unused.content_checksum,
               "sha256:" + hashlib.sha256(b"unknown").hexdigest()]

    with count_statements() as counted:
        assert blob_gc.release_blob_links(repo.id, digests) == 1
    assert counted.count == 1
    assert present(UploadedBlob, dropped, kept, elsewhere) == ids(kept, elsewhere)
