"""Index, referrer and by-digest pushes racing the OCI collector in other processes.

Pusher processes push child images by digest (their hidden temporary tag ends at once,
and the namespace has no time machine), then an index naming them under a tag, then
signatures by digest of the index, of a child and of that signature, and delete most
tags soon after; some signatures come before their subject. A collector process walks
every repository in a loop meanwhile (:func:`registry_model.testing.processes.run_beside`).
A child or a blob may go between two pushes: the index push then fails with
ManifestChildUnknownException (or a push with ManifestBlobUnknownException) and the
pusher pushes again, as a client would. Afterwards every stored manifest has its
children, blob rows, blob records and blob files, and everything an alive tag needs (its
index, the children, the signatures and the signature's signature) is found by digest.
"""
import json
import random
import time
import uuid

import pytest

from registry_model import errors, oci_model
from registry_model.blobstore import FilesystemBlobStore
from registry_model.database import (
    ImageStorage,
    Manifest,
    ManifestBlob,
    ManifestChild,
)
from registry_model.model import collection as gc
from registry_model.oci.collector import OCICollector
from registry_model.testing.databases import migrated_scratch_database
from registry_model.testing.factories import NamespaceFactory, RepositoryFactory
from registry_model.testing.processes import run_beside
from tests.oci import config_bytes, image_manifest, index_manifest, layer_bytes, parse

PUSHERS = 2
PUSHES_PER_PUSHER = 12
SHARED_CHILDREN = 4
GRACE_S = 2
LINK_S = 2
TIMEOUT_S = 300
SIGNATURE = "application/example.signature"


@pytest.fixture
def scratch(tmp_path):
    with migrated_scratch_database() as database:
        yield database.scratch_uri, tmp_path / "blobs"


def _upload(ref, store, data: bytes) -> None:
    digest = store.put(data).digest
    started = oci_model.create_blob_upload(ref, str(uuid.uuid4()), "local", None)
    # The link protects the blob only for the push that follows; then it may go.
    oci_model.commit_blob_upload(started, digest, LINK_S)


def _push_uploading(ref, store, config: bytes, layer: bytes, what: str, **manifest_fields):
    """Push an image manifest of ``config`` and ``layer`` by digest, uploading its blobs
    again whenever the collector took them first."""
    parsed = parse(image_manifest(config, [layer], **manifest_fields))
    for _attempt in range(10):
        try:
            return oci_model.create_manifest_and_retarget_tag(ref, parsed, None, store)[0]
        except errors.ManifestBlobUnknownException:
            for data in (config, layer):
                _upload(ref, store, data)
    raise AssertionError("%s could not be pushed" % what)


def _push_child(ref, store, seed: str):
    return _push_uploading(ref, store, config_bytes(1, seed=seed), layer_bytes(0, seed),
                           "child %s" % seed)


def _push_referrer(ref, store, subject: bytes, seed: str):
    """A signature of ``subject`` pushed by digest, uploading its blobs when they went."""
    return _push_uploading(ref, store, config_bytes(1, seed="sig-" + seed),
                           layer_bytes(0, "sig-" + seed), "referrer %s" % seed,
                           subject=subject, artifact_type=SIGNATURE)


def _push_index(ref, store, tag: str, seeds: list, outcome: dict):
    """Push the children by digest, then the index under ``tag``; again after a lost race."""
    for _attempt in range(10):
        children = [_push_child(ref, store, seed) for seed in seeds]
        index = parse(index_manifest([child.manifest_bytes for child in children]))
        try:
            manifest, _ = oci_model.create_manifest_and_retarget_tag(ref, index, tag, store)
            return manifest, children
        except errors.ManifestChildUnknownException:
            outcome["lost_races"] += 1
    raise AssertionError("index push kept losing")


def pusher(storage, namespace, worker) -> dict:
    """One pusher's run (in its own process): what it did, and what its alive tags need.

    Each index is signed, and so is one of its children and that signature (a referrer
    of a referrer), all pushed by digest once the index is tagged: the collector must
    keep them while the tag is alive, though nothing but their subject holds them. Some
    signatures arrive before their subject, an image pushed later or never.
    """
    outcome = {"pushes": 0, "lost_races": 0, "referrers": 0, "needed": {}}
    oci_model.temporary_tag_s = 0  # a manifest is collectable until something needs it
    store = FilesystemBlobStore(storage, fsync=False)
    ref = oci_model.lookup_repository(namespace, "repo")
    rng = random.Random(worker)
    for push in range(PUSHES_PER_PUSHER):
        seeds = ["shared%d" % rng.randrange(SHARED_CHILDREN), "w%d-p%d" % (worker, push)]
        if rng.random() < 0.3:  # a signature of an image not pushed yet (or ever)
            early = config_bytes(1, seed="early%d" % rng.randrange(SHARED_CHILDREN))
            _push_referrer(ref, store, image_manifest(early, [layer_bytes(0, "early")]),
                           "w%d-p%d-early" % (worker, push))
            outcome["referrers"] += 1
        tag = "w%d-t%d" % (worker, push % 3)
        index, children = _push_index(ref, store, tag, seeds, outcome)
        signatures = [_push_referrer(ref, store, index.manifest_bytes, "w%d-p%d" % (worker, push))]
        signatures.append(_push_referrer(ref, store, children[0].manifest_bytes,
                                         "w%d-p%d-child" % (worker, push)))
        signatures.append(_push_referrer(ref, store, signatures[-1].manifest_bytes,
                                         "w%d-p%d-counter" % (worker, push)))
        outcome["referrers"] += len(signatures)
        outcome["pushes"] += 1
        outcome["needed"][tag] = [manifest.digest for manifest in [index] + children + signatures]
        if rng.random() < 0.7:
            oci_model.delete_tag(ref, tag)
            del outcome["needed"][tag]
        time.sleep(rng.uniform(0, 0.2))
    return outcome


def collect_once(storage) -> dict:
    """One collection of every repository (in the collector's process); what went."""
    store = FilesystemBlobStore(storage, fsync=False)
    counts, _ = gc.collect_all(OCICollector(store, grace_s=GRACE_S, batch_size=5))
    return {kind: counts[kind] for kind in ("tags", "manifests", "blobs")}


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


def test_index_referrer_and_by_digest_pushes_racing_a_collector_lose_nothing(scratch):
    uri, storage = scratch
    store = FilesystemBlobStore(storage, fsync=False)
    namespace = NamespaceFactory(removed_tag_expiration_s=0)
    RepositoryFactory(namespace=namespace, name="repo")
    results, collections = run_beside(
        pusher, uri, [(storage, namespace.name, worker) for worker in range(PUSHERS)],
        collect_once, (storage,), timeout_s=TIMEOUT_S)
    pushed = [result.value for result in results]
    collected = {kind: sum(run[kind] for run in collections.value)
                 for kind in ("tags", "manifests", "blobs")}
    assert sum(outcome["pushes"] for outcome in pushed) == PUSHERS * PUSHES_PER_PUSHER
    assert collected["manifests"] >= 1
    assert integrity_problems(store) == []
    ref = oci_model.lookup_repository(namespace.name, "repo")

    def needed_present():
        for outcome in pushed:
            for tag, digests in outcome["needed"].items():
                assert oci_model.get_repo_tag(ref, tag).manifest_digest == digests[0]
                for digest in digests:  # the index, its children, the signature chain
                    assert oci_model.lookup_manifest_by_digest(ref, digest) is not None, (
                        tag, digest)

    needed_present()
    # Once the links expire, the collector takes the blobs only collected manifests used,
    # and still loses nothing a kept manifest needs.
    counts, _ = gc.collect_all(OCICollector(store, grace_s=0,
                                            now=int(time.time()) + LINK_S + 1))
    assert collected["blobs"] + counts["blobs"] >= 1
    assert integrity_problems(store) == []
    needed_present()
