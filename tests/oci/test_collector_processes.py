"""Index pushes racing the OCI collector in other processes: nothing referenced is lost.

Pusher processes push child images by digest (their hidden temporary tag ends at once,
and the namespace has no time machine), then an index naming them under a tag, and
delete most tags soon after; a collector process walks every repository in a loop. A
child or a blob may go between the two pushes: the index push then fails with
ManifestChildUnknownException (or a child push with ManifestBlobUnknownException) and
the pusher pushes again, as a client would. Afterwards every stored manifest has its
children, blob rows, blob records and blob files.
"""
import json
import multiprocessing
import queue
import random
import time
import traceback
import uuid

import pytest

from registry_model import errors, oci_model
from registry_model.blobstore import FilesystemBlobStore
from registry_model.database import (
    ImageStorage,
    Manifest,
    ManifestBlob,
    ManifestChild,
    configure,
    db,
)
from registry_model.model import collection as gc
from registry_model.oci.collector import OCICollector
from registry_model.testing.databases import migrated_scratch_database
from registry_model.testing.factories import NamespaceFactory, RepositoryFactory
from tests.oci import config_bytes, image_manifest, index_manifest, layer_bytes, parse

PUSHERS = 2
PUSHES_PER_PUSHER = 12
SHARED_CHILDREN = 4
GRACE_S = 2
LINK_S = 2
TIMEOUT_S = 300


@pytest.fixture
def scratch(tmp_path):
    with migrated_scratch_database() as database:
        yield database.scratch_uri, tmp_path / "blobs"


def _upload(ref, store, data: bytes) -> None:
    digest = store.put(data).digest
    started = oci_model.create_blob_upload(ref, str(uuid.uuid4()), "local", None)
    # The link protects the blob only for the push that follows; then it may go.
    oci_model.commit_blob_upload(started, digest, LINK_S)


def _push_child(ref, store, seed: str):
    config, layer = config_bytes(1, seed=seed), layer_bytes(0, seed)
    parsed = parse(image_manifest(config, [layer]))
    for _attempt in range(10):
        try:
            return oci_model.create_manifest_and_retarget_tag(ref, parsed, None, store)[0]
        except errors.ManifestBlobUnknownException:
            for data in (config, layer):
                _upload(ref, store, data)
    raise AssertionError("child %s could not be pushed" % seed)


def pusher(uri, storage, namespace, worker, start, results):
    outcome = {"pushes": 0, "lost_races": 0, "failure": None}
    try:
        configure(uri)
        oci_model.temporary_tag_s = 0  # a child is collectable until an index names it
        store = FilesystemBlobStore(storage, fsync=False)
        ref = oci_model.lookup_repository(namespace, "repo")
        rng = random.Random(worker)
        start.wait(TIMEOUT_S)
        for push in range(PUSHES_PER_PUSHER):
            seeds = ["shared%d" % rng.randrange(SHARED_CHILDREN), "w%d-p%d" % (worker, push)]
            children = [_push_child(ref, store, seed) for seed in seeds]
            index = parse(index_manifest([child.manifest_bytes for child in children]))
            tag = "w%d-t%d" % (worker, push % 3)
            for _attempt in range(10):
                try:
                    oci_model.create_manifest_and_retarget_tag(ref, index, tag, store)
                    break
                except errors.ManifestChildUnknownException:
                    outcome["lost_races"] += 1
                    children = [_push_child(ref, store, seed) for seed in seeds]
            else:
                raise AssertionError("index push kept losing")
            outcome["pushes"] += 1
            if rng.random() < 0.7:
                oci_model.delete_tag(ref, tag)
            time.sleep(rng.uniform(0, 0.2))
    except Exception:
        outcome["failure"] = traceback.format_exc()
    finally:
        db.close()
        results.put(("pusher", outcome))


def collector(uri, storage, start, stop, results):
    outcome = {"runs": 0, "tags": 0, "manifests": 0, "blobs": 0, "failure": None}
    try:
        configure(uri)
        store = FilesystemBlobStore(storage, fsync=False)
        start.wait(TIMEOUT_S)
        while not stop.is_set():
            counts, _ = gc.collect_all(OCICollector(store, grace_s=GRACE_S, batch_size=5))
            outcome["runs"] += 1
            for kind in ("tags", "manifests", "blobs"):
                outcome[kind] += counts[kind]
    except Exception:
        outcome["failure"] = traceback.format_exc()
    finally:
        db.close()
        results.put(("collector", outcome))


def integrity_problems(store) -> list:
    problems = []
    records = dict(ImageStorage.select(ImageStorage.id, ImageStorage.content_checksum).tuples())
    problems += [("record without bytes", digest) for digest in sorted(records.values())
                 if not store.exists(digest)]
    blob_rows: dict = {}
    for manifest_id, blob_id in ManifestBlob.select(ManifestBlob.manifest,
                                                    ManifestBlob.blob).tuples():
        blob_rows.setdefault(manifest_id, set()).add(records.get(blob_id))
    child_rows: dict = {}
    for parent, child in ManifestChild.select(ManifestChild.manifest,
                                              ManifestChild.child_manifest).tuples():
        child_rows.setdefault(parent, set()).add(child)
    digests = dict(Manifest.select(Manifest.id, Manifest.digest).tuples())
    for manifest_id, manifest_bytes in Manifest.select(Manifest.id,
                                                       Manifest.manifest_bytes).tuples():
        document = json.loads(bytes(manifest_bytes))
        wanted = ([document["config"]["digest"]]
                  + [layer["digest"] for layer in document["layers"]]
                  if "config" in document else [])
        if set(wanted) - blob_rows.get(manifest_id, set()):
            problems.append(("manifest without its blobs", manifest_id))
        children = {digests.get(child) for child in child_rows.get(manifest_id, ())}
        if {m["digest"] for m in document.get("manifests", [])} != children:
            problems.append(("index without its children", manifest_id))
    return problems


def test_index_pushes_racing_a_collector_in_other_processes_lose_nothing(scratch):
    uri, storage = scratch
    store = FilesystemBlobStore(storage, fsync=False)
    namespace = NamespaceFactory(removed_tag_expiration_s=0)
    RepositoryFactory(namespace=namespace, name="repo")
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start = context.Barrier(PUSHERS + 1)
    stop = context.Event()
    workers = [context.Process(target=pusher, args=(uri, storage, namespace.name, worker,
                                                    start, results))
               for worker in range(PUSHERS)]
    collecting = context.Process(target=collector, args=(uri, storage, start, stop, results))
    for process in workers + [collecting]:
        process.start()
    outcomes = []
    try:
        for _ in workers:
            outcomes.append(results.get(timeout=TIMEOUT_S))
        stop.set()
        outcomes.append(results.get(timeout=TIMEOUT_S))
    except queue.Empty:
        pytest.fail("a worker reported nothing within %d s" % TIMEOUT_S)
    finally:
        stop.set()
        for process in workers + [collecting]:
            process.join(TIMEOUT_S)
            if process.is_alive():
                process.kill()

    assert [outcome["failure"] for _, outcome in outcomes] == [None] * (PUSHERS + 1)
    pushed = [outcome for kind, outcome in outcomes if kind == "pusher"]
    (collected,) = [outcome for kind, outcome in outcomes if kind == "collector"]
    assert sum(outcome["pushes"] for outcome in pushed) == PUSHERS * PUSHES_PER_PUSHER
    assert collected["runs"] >= 1 and collected["manifests"] >= 1
    assert integrity_problems(store) == []
    # Once the links expire, the collector takes the blobs only collected manifests used,
    # and still loses nothing a kept manifest needs.
    counts, _ = gc.collect_all(OCICollector(store, grace_s=0,
                                            now=int(time.time()) + LINK_S + 1))
    assert collected["blobs"] + counts["blobs"] >= 1
    assert integrity_problems(store) == []
