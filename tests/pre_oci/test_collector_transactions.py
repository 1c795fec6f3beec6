"""Collection against committed data: files after the commit only, and pushes racing it.

The per-test rollback of ``initialized_db`` never commits, so these tests use a scratch
database of the current backend (the ``scratch_uri`` fixture of tests/conftest.py), emptied
after each test, and real blob stores. The races run the writer and the collector in two
threads with connections of their own; a peewee query hook stops one of them right after a
chosen statement, which forces the interleaving the test names instead of hoping for it
(:mod:`tests.interleaving`, the ``hooks`` fixture of tests/conftest.py).
"""
import hashlib
import json
import time
import uuid

import pytest
from playhouse import db_url

from registry_model import errors, registry_model
from registry_model.blobstore import FilesystemBlobStore, InMemoryBlobStore
from registry_model.clock import now_ts
from registry_model.database import (
    BlobUpload,
    Image,
    ImageStorage,
    ImageStoragePlacement,
    Label,
    Namespace,
    Repository,
    RepositoryTag,
    TagManifest,
    TagManifestLabel,
    UploadedBlob,
    db,
    parse_ancestors,
)
from registry_model.manifests import DockerSchema1ManifestBuilder
from registry_model.model import blob_gc
from registry_model.model import collection as gc
from registry_model.pre_oci.collector import PreOCICollector
from registry_model.testing.factories import NamespaceFactory, RepositoryFactory
from tests.interleaving import SETTLE_S, TIMEOUT_S, StopAfter, finish, normalized, start

HOUR = 3600
# Children before parents, so every foreign key is satisfied while emptying.
_TABLES = (TagManifestLabel, Label, TagManifest, RepositoryTag, Image, UploadedBlob, BlobUpload,
           ImageStoragePlacement, ImageStorage, Repository, Namespace)


@pytest.fixture
def committed(scratch_uri):
    """The module's scratch database, bound and committing; emptied after the test."""
    yield scratch_uri
    for model in _TABLES:
        model.delete().execute()


@pytest.fixture
def store(tmp_path):
    return FilesystemBlobStore(tmp_path / "blobs", fsync=False)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layers(count: int, seed: str) -> list:
    """``(bytes, v1 json)`` of ``count`` layers, base first."""
    result, parent = [], None
    for index in range(count):
        image_id = hashlib.sha256(("%s-%d" % (seed, index)).encode()).hexdigest()
        metadata = {"id": image_id, "created": "2024-01-01T00:00:00Z"}
        if parent is not None:
            metadata["parent"] = parent
        result.append((("%s-layer-%d" % (seed, index)).encode(), json.dumps(metadata)))
        parent = image_id
    return result


def manifest_for(ref, tag: str, image_layers: list):
    builder = DockerSchema1ManifestBuilder(ref.namespace_name, ref.name, tag)
    for data, metadata in reversed(image_layers):
        builder.add_layer(sha256(data), metadata)
    return builder.build(None)


def repository(window: int = 0):
    repo = RepositoryFactory(namespace=NamespaceFactory(removed_tag_expiration_s=window))
    return registry_model.lookup_repository(repo.namespace.name, repo.name)


def upload(ref, store, data: bytes, expiration_s: int = HOUR):
    """Store the bytes, then commit them as a blob upload, as a registry does."""
    digest = store.put(data).digest
    started = registry_model.create_blob_upload(ref, str(uuid.uuid4()), "local", None)
    started = registry_model.update_blob_upload(started, None, None, len(data), 1, None)
    return registry_model.commit_blob_upload(started, digest, expiration_s)


def push(ref, store, tag: str, image_layers: list):
    """Upload the layers and push the manifest; only its images hold the blobs afterwards."""
    for data, _ in image_layers:
        upload(ref, store, data)
    manifest = manifest_for(ref, tag, image_layers)
    registry_model.create_manifest_and_retarget_tag(ref, manifest, tag, None)
    registry_model.release_blob_links(ref, manifest.blob_digests)
    return manifest


def untagged_image(store, count: int = 2, seed: str = "gone"):
    """A repository without time machine whose only image lost its tag: all of it is garbage."""
    ref = repository()
    manifest = push(ref, store, "latest", layers(count, seed))
    registry_model.delete_tag(ref, "latest")
    return ref, manifest


def collect(ref, store, **options):
    """Collect the repository with a new Collector; its counts."""
    collector = PreOCICollector(store, **options)
    assert collector.collect_repository(ref.id)
    return collector.counts


def integrity_problems(store) -> list:
    """What would be data loss: a broken image chain, a record or manifest layer without bytes."""
    problems = []
    images = dict(Image.select(Image.id, Image.ancestors).tuples())
    for image_id, ancestors in images.items():
        missing = [ancestor for ancestor in parse_ancestors(ancestors) if ancestor not in images]
        if missing:
            problems.append(("image without ancestors", image_id, missing))
    records = dict(ImageStorage.select(ImageStorage.content_checksum, ImageStorage.id)
                   .where(ImageStorage.uploading == False).tuples())  # noqa: E712
    problems += [("record without bytes", digest) for digest in records
                 if not store.exists(digest)]
    for (json_data,) in TagManifest.select(TagManifest.json_data).tuples():
        for layer in json.loads(json_data)["fsLayers"]:
            if layer["blobSum"] not in records:
                problems.append(("manifest layer without record", layer["blobSum"]))
    return problems


# --- bytes go after the commit, and only then ----------------------------------------------


class WatchedStore(FilesystemBlobStore):
    """Records, at each removal, whether the collector was inside a transaction and whether
    another connection still saw a record of the digest."""

    def __init__(self, root, uri: str) -> None:
        super().__init__(root, fsync=False)
        self.other = db_url.connect(uri)
        self.removals: list = []

    def remove(self, digest: str) -> None:
        cursor = self.other.execute_sql(
            "SELECT COUNT(*) FROM image_storage WHERE content_checksum = %s" % self.other.param,
            (digest,))
        self.removals.append((digest, db.in_transaction(), cursor.fetchone()[0]))
        super().remove(digest)


def test_files_go_only_once_another_connection_sees_their_records_gone(committed, tmp_path):
    store = WatchedStore(tmp_path / "blobs", committed)
    ref, manifest = untagged_image(store)
    statements = []
    db.obj.query_hooks.append(lambda event: statements.append(normalized(event.sql)))
    try:
        counts = collect(ref, store, now=now_ts() + 60, grace_s=0)
    finally:
        db.obj.query_hooks.pop()
        store.other.close()

    digests = sorted(manifest.blob_digests)
    assert sorted(digest for digest, _, _ in store.removals) == digests
    assert {(in_transaction, seen) for _, in_transaction, seen in store.removals} == {(False, 0)}
    assert not any(store.exists(digest) for digest in digests)
    assert ImageStorage.select().where(ImageStorage.content_checksum.in_(digests)).count() == 0
    assert any(sql.startswith("DELETE FROM image_storage") for sql in statements)
    assert (counts["blobs"], counts["files"]) == (2, 2)
    assert counts["bytes_freed"] == sum(len(data) for data, _ in layers(2, "gone"))


@pytest.mark.parametrize("failing_statement", ["DELETE FROM repository_tag",
                                               "DELETE FROM image WHERE",
                                               "DELETE FROM image_storage WHERE"])
def test_a_collection_failing_after_its_deletes_removes_no_bytes(committed, store, hooks,
                                                                 failing_statement):
    ref, manifest = untagged_image(store)
    before = {model.__name__: sorted(model.select().tuples()) for model in _TABLES}

    def fail(event):
        if normalized(event.sql).startswith(failing_statement):
            raise RuntimeError("injected after %s" % failing_statement)

    hooks(fail)
    with pytest.raises(RuntimeError, match="injected"):
        collect(ref, store, now=now_ts() + 60, grace_s=0)

    assert all(store.exists(digest) for digest in manifest.blob_digests)
    assert integrity_problems(store) == []
    after = {model.__name__: sorted(model.select().tuples()) for model in _TABLES}
    # The failing batch rolled back whole: its rows are all there.
    failed_table = {"DELETE FROM repository_tag": "RepositoryTag",
                    "DELETE FROM image WHERE": "Image",
                    "DELETE FROM image_storage WHERE": "ImageStorage"}[failing_statement]
    assert after[failed_table] == before[failed_table]
    if failed_table == "ImageStorage":
        assert after["ImageStoragePlacement"] == before["ImageStoragePlacement"]

    # The worker finishes the job, records left unreferenced by the failed run included.
    db.obj.query_hooks.remove(fail)
    counts, _ = gc.collect_all(PreOCICollector(store, now=now_ts() + 60, grace_s=0))
    assert (counts["blobs"], counts["files"]) == (2, 2)
    assert not any(map(store.exists, manifest.blob_digests))
    assert integrity_problems(store) == []


def test_a_file_another_record_names_is_kept(committed, store):
    ref, manifest = untagged_image(store, count=1, seed="twin")
    digest = manifest.blob_digests[0]
    other = repository()
    twin = ImageStorage.create(content_checksum=digest, image_size=9, uploading=False)
    Image.create(repository=other.id, docker_image_id="a" * 64, storage=twin.id)

    counts = collect(ref, store, now=now_ts() + 60, grace_s=0)

    assert (counts["blobs"], counts["files"]) == (1, 0)
    assert store.exists(digest)
    assert integrity_problems(store) == []


def test_a_store_failing_after_the_commit_leaves_an_orphan_file_not_a_record(committed,
                                                                            tmp_path):
    class FailingStore(FilesystemBlobStore):
        def remove(self, digest):
            raise OSError("disk gone")

    store = FailingStore(tmp_path / "blobs", fsync=False)
    ref, manifest = untagged_image(store)

    counts = collect(ref, store, now=now_ts() + 60, grace_s=0)

    assert (counts["blobs"], counts["files"]) == (2, 0)
    assert all(store.exists(digest) for digest in manifest.blob_digests)
    assert integrity_problems(store) == []
    swept = blob_gc.sweep_orphan_blobs(FilesystemBlobStore(store.root), grace_s=0,
                                  now=now_ts() + 60)
    assert swept["orphan_files"] == 2
    assert not any(map(store.exists, manifest.blob_digests))


def test_a_blob_written_within_the_grace_period_keeps_its_file_until_a_sweep(committed):
    clock = [now_ts()]
    store = InMemoryBlobStore(clock=lambda: clock[0])
    ref, manifest = untagged_image(store)

    counts = collect(ref, store, grace_s=HOUR)

    assert (counts["blobs"], counts["files"], counts["recent_files"]) == (2, 0, 2)
    assert all(map(store.exists, manifest.blob_digests))
    assert blob_gc.sweep_orphan_blobs(store, grace_s=HOUR)["orphan_files"] == 0
    assert blob_gc.sweep_orphan_blobs(store, grace_s=HOUR, now=clock[0] + HOUR)["orphan_files"] == 2


# --- races ------------------------------------------------------------------------------


def _locks_blob_records(sql: str) -> bool:
    return sql.startswith("SELECT") and "FROM image_storage" in sql and "uploading =" in sql


def test_a_push_holding_its_blobs_first_makes_the_collector_keep_them(committed, store,
                                                                     hooks):
    ref, _ = untagged_image(store, seed="app")
    again = manifest_for(ref, "v2", layers(2, "app"))
    # The push stops right after locking its layers' records (the only EXISTS on them).
    pause = hooks(StopAfter("push", lambda sql: _locks_blob_records(sql) and "EXISTS" in sql))
    pusher, pushed = start("push", lambda: registry_model.create_manifest_and_retarget_tag(
        ref, again, "v2", None))
    assert pause.reached.wait(TIMEOUT_S)

    collector, collected = start("collect", lambda: collect(ref, store, grace_s=0))
    time.sleep(SETTLE_S)
    assert collector.is_alive()  # waiting for the push's locks
    pause.release.set()
    finish(pusher, collector)

    assert "error" not in pushed and "error" not in collected, (pushed, collected)
    assert collected["value"]["tags"] == 1 and collected["value"]["blobs"] == 0
    tag = registry_model.get_repo_tag(ref, "v2")
    assert tag is not None and registry_model.get_manifest_for_tag(tag).digest == again.digest
    for digest in again.blob_digests:
        assert registry_model.get_repo_blob_by_digest(ref, digest) is not None
        assert store.exists(digest)
    assert integrity_problems(store) == []


def test_a_push_building_on_old_images_holds_them_until_it_has_tagged_them(committed, store,
                                                                          hooks):
    ref, _ = untagged_image(store, seed="base")
    old_layers = layers(2, "base")
    top = {"id": "f" * 64, "parent": json.loads(old_layers[-1][1])["id"]}
    grown = old_layers + [(b"a new top layer", json.dumps(top))]
    upload(ref, store, grown[-1][0])
    manifest = manifest_for(ref, "grown", grown)
    # The push stops right after loading (and locking) the images it builds on.
    pause = hooks(StopAfter("push", lambda sql: sql.startswith("SELECT")
                            and "FROM image AS" in sql and "docker_image_id IN" in sql))
    pusher, pushed = start("push", lambda: registry_model.create_manifest_and_retarget_tag(
        ref, manifest, "grown", None))
    assert pause.reached.wait(TIMEOUT_S)

    collector, collected = start("collect", lambda: collect(ref, store, grace_s=0))
    time.sleep(SETTLE_S)
    assert collector.is_alive()  # waiting for the images the push holds
    pause.release.set()
    finish(pusher, collector)

    assert "error" not in pushed and "error" not in collected, (pushed, collected)
    assert (collected["value"]["tags"], collected["value"]["images"]) == (1, 0)
    leaf = registry_model.get_legacy_image(ref, "f" * 64, include_parents=True)
    assert [image.blob_digest for image in (leaf,) + leaf.parents] == [
        sha256(data) for data, _ in reversed(grown)]
    assert integrity_problems(store) == []


@pytest.mark.parametrize("writer", ["push", "mount"])
def test_a_collector_holding_a_blob_first_makes_a_late_writer_fail_cleanly(committed, store,
                                                                           hooks, writer):
    ref, manifest = untagged_image(store, count=1, seed="shared")
    digest = manifest.blob_digests[0]
    blob = ImageStorage.get(ImageStorage.content_checksum == digest)
    target = repository()
    # Linked into the target for an hour: still valid for the writer, whose clock is now;
    # expired for a collector running two hours later (a link that just ran out).
    assert registry_model.mount_blob_into_repository(
        registry_model.get_repo_blob_by_digest(ref, digest), target, HOUR)
    registry_model.release_blob_links(ref, [digest])
    other = repository()  # before the collector holds SQLite's write lock
    pause = hooks(StopAfter("collect", _locks_blob_records))
    collector, collected = start("collect", lambda: collect(ref, store, now=now_ts() + 2 * HOUR,
                                                            grace_s=0))
    assert pause.reached.wait(TIMEOUT_S)

    if writer == "push":
        late = manifest_for(target, "latest", layers(1, "shared"))
        work = lambda: registry_model.create_manifest_and_retarget_tag(  # noqa: E731
            target, late, "latest", None)
    else:
        work = lambda: registry_model.mount_blob_into_repository(  # noqa: E731
            registry_model.get_repo_blob_by_digest(target, digest), other, HOUR)
    writing, written = start(writer, work)
    time.sleep(SETTLE_S)
    assert writing.is_alive()  # waiting for the collector's lock
    pause.release.set()
    finish(collector, writing)

    assert "error" not in collected, collected
    assert (collected["value"]["blobs"], collected["value"]["files"]) == (1, 1)
    if writer == "push":
        assert isinstance(written.get("error"), errors.ManifestBlobUnknownException), written
        assert registry_model.get_repo_tag(target, "latest") is None
    else:
        assert written == {"value": False}
    assert not ImageStorage.select().where(ImageStorage.id == blob.id).exists()
    assert not store.exists(digest)
    assert integrity_problems(store) == []


def test_a_mount_holding_the_blob_first_makes_the_collector_keep_it(committed, store, hooks):
    ref, manifest = untagged_image(store, count=1, seed="mounted")
    digest = manifest.blob_digests[0]
    blob = registry_model.get_repo_blob_by_digest(ref, digest)
    target = repository()
    pause = hooks(StopAfter("mount", _locks_blob_records))
    mounting, mounted = start("mount", lambda: registry_model.mount_blob_into_repository(
        blob, target, HOUR))
    assert pause.reached.wait(TIMEOUT_S)

    collector, collected = start("collect", lambda: collect(ref, store, grace_s=0))
    time.sleep(SETTLE_S)
    assert collector.is_alive()
    pause.release.set()
    finish(mounting, collector)

    assert mounted == {"value": True}
    assert "error" not in collected and collected["value"]["blobs"] == 0, collected
    assert registry_model.get_repo_blob_by_digest(target, digest) == blob
    assert store.exists(digest)
    assert integrity_problems(store) == []


def test_a_blob_uploaded_again_while_it_is_collected_keeps_its_bytes(committed, store, hooks):
    ref, manifest = untagged_image(store, count=1, seed="again")
    (data, _), = layers(1, "again")
    digest = manifest.blob_digests[0]
    target = repository()
    pause = hooks(StopAfter("collect", _locks_blob_records))
    # The real clock and the default grace period: the case the grace period exists for.
    collector, collected = start("collect", lambda: collect(ref, store))
    assert pause.reached.wait(TIMEOUT_S)

    uploading, uploaded = start("upload", lambda: upload(target, store, data))
    time.sleep(SETTLE_S)
    assert uploading.is_alive()  # its bytes are stored; its record waits for the collector
    pause.release.set()
    finish(collector, uploading)

    assert "error" not in collected and "error" not in uploaded, (collected, uploaded)
    assert (collected["value"]["blobs"], collected["value"]["files"]) == (1, 0)
    assert uploaded["value"].digest == digest
    assert registry_model.get_repo_blob_by_digest(target, digest) is not None
    assert store.exists(digest)
    assert integrity_problems(store) == []
