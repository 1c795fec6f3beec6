"""Pushes racing a collector in other processes: nothing referenced is ever lost.

Pusher processes push images that share base layers into a few repositories of a namespace
without time machine, moving and deleting their tags, while a collector process walks every
repository in a loop. A pusher reuses a base layer its repository already holds, without
uploading it, as a registry client does after a HEAD; such a push may lose the race to the
collector and fail with ManifestBlobUnknownException, and then uploads the layer and pushes
again. The base layers' files start old enough to be removed and most tags are deleted soon,
so the collector really deletes base layers, records and files, while pushers upload the
same bytes again. Afterwards every image chain, every blob record's file and every
manifest's layers must be there.
"""
import hashlib
import json
import os
import random
import time
import uuid

import pytest

from registry_model import errors, registry_model
from registry_model.blobstore import FilesystemBlobStore
from registry_model.clock import now_ts
from registry_model.database import (
    Image,
    ImageStorage,
    RepositoryTag,
    TagManifest,
    parse_ancestors,
)
from registry_model.manifests import DockerSchema1ManifestBuilder
from registry_model.model import collection as gc
from registry_model.pre_oci.collector import PreOCICollector
from registry_model.testing.databases import migrated_scratch_database
from registry_model.testing.factories import NamespaceFactory, RepositoryFactory
from registry_model.testing.processes import run_beside

PUSHERS = 3
PUSHES_PER_PUSHER = 20
REPOSITORIES = 2
BASE_LAYERS = 6
# Far longer than an upload takes from storing its bytes to committing its record, short
# enough that files of collected blobs are removed while the pushers run.
GRACE_S = 2
PAUSE_S = 0.3
TIMEOUT_S = 300


@pytest.fixture
def scratch(tmp_path):
    with migrated_scratch_database() as database:
        yield database.scratch_uri, tmp_path / "blobs"


def base_layer(index: int) -> bytes:
    return b"shared base layer %d" % index


def image_layers(base: int, seed: str) -> list:
    """``(bytes, v1 json)``, base first: a shared base layer and a layer of its own."""
    base_id = hashlib.sha256(b"base %d" % base).hexdigest()
    own_id = hashlib.sha256(seed.encode()).hexdigest()
    return [(base_layer(base), json.dumps({"id": base_id})),
            (("own layer " + seed).encode(), json.dumps({"id": own_id, "parent": base_id}))]


def _upload(ref, store, data: bytes) -> None:
    digest = store.put(data).digest
    started = registry_model.create_blob_upload(ref, str(uuid.uuid4()), "local", None)
    registry_model.commit_blob_upload(started, digest, 3600)


def _push(ref, store, tag: str, layers: list, upload_all: bool):
    for index, (data, _) in enumerate(layers):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        reusable = index == 0 and not upload_all and store.exists(digest) and \
            registry_model.get_repo_blob_by_digest(ref, digest) is not None
        if not reusable:
            _upload(ref, store, data)
    builder = DockerSchema1ManifestBuilder(ref.namespace_name, ref.name, tag)
    for data, metadata in reversed(layers):
        builder.add_layer("sha256:" + hashlib.sha256(data).hexdigest(), metadata)
    manifest = builder.build(None)
    registry_model.create_manifest_and_retarget_tag(ref, manifest, tag, None)
    registry_model.release_blob_links(ref, manifest.blob_digests)


def pusher(storage, namespace, worker) -> dict:
    """One pusher's run (in its own process); what it did."""
    outcome = {"pushes": 0, "lost_races": 0, "deletes": 0}
    store = FilesystemBlobStore(storage, fsync=False)
    refs = [registry_model.lookup_repository(namespace, "repo%d" % index)
            for index in range(REPOSITORIES)]
    rng = random.Random(worker)
    for push in range(PUSHES_PER_PUSHER):
        ref = rng.choice(refs)
        tag = "w%d-t%d" % (worker, push % 3)
        layers = image_layers(rng.randrange(BASE_LAYERS), "w%d-p%d" % (worker, push))
        try:
            _push(ref, store, tag, layers, upload_all=False)
        except errors.ManifestBlobUnknownException:
            outcome["lost_races"] += 1
            _push(ref, store, tag, layers, upload_all=True)
        outcome["pushes"] += 1
        if rng.random() < 0.8:
            registry_model.delete_tag(ref, tag)
            outcome["deletes"] += 1
        time.sleep(rng.uniform(0, PAUSE_S))
    return outcome


def collect_once(storage) -> dict:
    """One collection of every repository (in the collector's process); what went."""
    store = FilesystemBlobStore(storage, fsync=False)
    counts, _ = gc.collect_all(PreOCICollector(store, grace_s=GRACE_S, batch_size=5))
    return {kind: counts[kind] for kind in ("tags", "images", "blobs", "files")}


def integrity_problems(store) -> list:
    problems = []
    images = dict(Image.select(Image.id, Image.ancestors).tuples())
    for image_id, ancestors in images.items():
        missing = [ancestor for ancestor in parse_ancestors(ancestors) if ancestor not in images]
        if missing:
            problems.append(("image without ancestors", image_id, missing))
    records = {row[0] for row in ImageStorage.select(ImageStorage.content_checksum).tuples()}
    problems += [("record without bytes", digest) for digest in sorted(records)
                 if not store.exists(digest)]
    for (json_data,) in TagManifest.select(TagManifest.json_data).tuples():
        problems += [("manifest layer without record", layer["blobSum"])
                     for layer in json.loads(json_data)["fsLayers"]
                     if layer["blobSum"] not in records]
    return problems


def test_pushes_racing_a_collector_in_other_processes_lose_nothing(scratch, record_property):
    uri, storage = scratch
    store = FilesystemBlobStore(storage, fsync=False)
    namespace = NamespaceFactory(removed_tag_expiration_s=0)
    for index in range(REPOSITORIES):
        RepositoryFactory(namespace=namespace, name="repo%d" % index)
    old = time.time() - 2 * GRACE_S
    for index in range(BASE_LAYERS):
        digest = store.put(base_layer(index)).digest
        for path in storage.rglob(digest.split(":")[1]):  # removable once unreferenced
            os.utime(path, (old, old))

    results, collections = run_beside(
        pusher, uri, [(storage, namespace.name, worker) for worker in range(PUSHERS)],
        collect_once, (storage,), timeout_s=TIMEOUT_S)
    pushed = [result.value for result in results]
    collected = {kind: sum(run[kind] for run in collections.value)
                 for kind in ("tags", "images", "blobs", "files")}
    collected["runs"] = len(collections.value)
    assert sum(outcome["pushes"] for outcome in pushed) == PUSHERS * PUSHES_PER_PUSHER
    assert collected["tags"] >= 1
    for name, value in (("pushes", PUSHERS * PUSHES_PER_PUSHER),
                        ("lost_races", sum(outcome["lost_races"] for outcome in pushed)),
                        ("collections", collected["runs"]), ("collected_tags", collected["tags"]),
                        ("collected_blobs", collected["blobs"]),
                        ("removed_files", collected["files"])):
        record_property(name, value)
    assert integrity_problems(store) == []
    # Every alive tag still pulls: its manifest's layers are linked and stored.
    for ref in (registry_model.lookup_repository(namespace.name, "repo%d" % index)
                for index in range(REPOSITORIES)):
        for tag in registry_model.list_all_active_repository_tags(ref):
            manifest = registry_model.get_manifest_for_tag(tag)
            for layer in json.loads(manifest.manifest_bytes)["fsLayers"]:
                assert registry_model.get_repo_blob_by_digest(ref, layer["blobSum"]), tag
                assert store.exists(layer["blobSum"])
    # A last collection, once the grace period has passed, leaves only what alive tags use.
    gc.collect_all(PreOCICollector(store, now=now_ts() + 2 * GRACE_S, grace_s=GRACE_S))
    assert integrity_problems(store) == []
    alive = RepositoryTag.select().where(RepositoryTag.lifetime_end_ts.is_null()).count()
    assert RepositoryTag.select().count() == alive
