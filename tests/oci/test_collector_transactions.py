"""The OCI collector against pushes on committed data, each interleaving forced.

As in tests/pre_oci/test_collector_transactions.py: a scratch database of the current
backend, emptied after each test; the writer and the collector in two threads with
connections of their own; a query hook (:mod:`tests.interleaving`) holds one of them
right after a chosen statement. Whoever locks first, nothing referenced is lost: a push
holding the children it names makes the collector keep them, a collector holding them
first makes the push fail cleanly, and a manifest pushed again (tagged) after the
collector planned its deletion stays, with its children.
"""
import time
import uuid

import pytest

from registry_model import OCIModel, errors
from registry_model.blobstore import InMemoryBlobStore
from registry_model.clock import now_ts
from registry_model.database import ALL_MODELS, LOOKUP_MODELS, Manifest, ManifestChild
from registry_model.oci.collector import OCICollector
from registry_model.testing.factories import NamespaceFactory, RepositoryFactory
from tests.interleaving import SETTLE_S, TIMEOUT_S, StopAfter, finish, start
from tests.oci import config_bytes, image_manifest, index_manifest, layer_bytes, parse

LATER_S = 2 * 3600  # the uploads' hour-long links have expired
_TABLES = [model for model in reversed(ALL_MODELS) if model not in LOOKUP_MODELS]


@pytest.fixture
def committed(scratch_uri):
    """The module's scratch database, bound and committing; emptied after the test."""
    yield scratch_uri
    for model in _TABLES:
        model.delete().execute()


@pytest.fixture
def model():
    model = OCIModel()
    model.temporary_tag_s = 0  # a manifest pushed by digest is collectable at once
    return model


@pytest.fixture
def store():
    return InMemoryBlobStore()


def repository(model):
    repo = RepositoryFactory(namespace=NamespaceFactory(removed_tag_expiration_s=0))
    return model.lookup_repository(repo.namespace.name, repo.name)


def push_image(model, ref, store, seed: str, tag=None):
    """Upload an image's blobs and push it (by digest unless ``tag``); its parsed manifest."""
    config, layer = config_bytes(1, seed=seed), layer_bytes(0, seed)
    for data in (config, layer):
        digest = store.put(data).digest
        upload = model.create_blob_upload(ref, str(uuid.uuid4()), "local", None)
        model.commit_blob_upload(upload, digest, 3600)
    parsed = parse(image_manifest(config, [layer]))
    model.create_manifest_and_retarget_tag(ref, parsed, tag, store)
    return parsed


def collect(ref, store):
    collector = OCICollector(store, now=now_ts() + LATER_S, grace_s=0)
    assert collector.collect_repository(ref.id)
    return collector.counts


def lists_without_children() -> list:
    """Lists whose bytes name a child that has no row any more: lost data."""
    broken = []
    for row in Manifest.select():
        wanted = {child.digest for child in parse(bytes(row.manifest_bytes)).child_manifests}
        present = {child.digest for child in Manifest.select().join(
            ManifestChild, on=(ManifestChild.child_manifest == Manifest.id))
            .where(ManifestChild.manifest == row.id)}
        if wanted != present:
            broken.append(row.digest)
    return broken


def _locks_children(sql: str) -> bool:
    return sql.startswith("SELECT t1.digest, t1.id FROM oci_manifest AS t1") and " IN (" in sql


def _locks_a_batch(sql: str) -> bool:
    return sql.startswith("SELECT t1.id FROM oci_manifest AS t1 WHERE (t1.id IN (")


def _plans(sql: str) -> bool:
    # A UNION ALL: parenthesised on PostgreSQL and MariaDB.
    return sql.lstrip("(").startswith("SELECT 0, t1.id, subject_manifest.id FROM oci_manifest")


def test_an_index_push_holding_its_children_first_makes_the_collector_keep_them(
        committed, model, store, hooks):
    ref = repository(model)
    children = [push_image(model, ref, store, "child%d" % index) for index in range(2)]
    index = parse(index_manifest([child.bytes for child in children]))
    pause = hooks(StopAfter("push", _locks_children))
    pusher, pushed = start("push", lambda: model.create_manifest_and_retarget_tag(
        ref, index, "multi", store))
    assert pause.reached.wait(TIMEOUT_S)

    collector, collected = start("collect", lambda: collect(ref, store))
    time.sleep(SETTLE_S)
    assert collector.is_alive()  # waiting for the children the push holds
    pause.release.set()
    finish(pusher, collector)

    assert "error" not in pushed and "error" not in collected, (pushed, collected)
    assert collected["value"]["manifests"] == 0
    for parsed in children + [index]:
        assert model.lookup_manifest_by_digest(ref, parsed.digest) is not None
    assert lists_without_children() == []


def test_a_collector_holding_a_child_first_makes_a_late_index_push_fail_cleanly(
        committed, model, store, hooks):
    ref = repository(model)
    child = push_image(model, ref, store, "doomed")
    index = parse(index_manifest([child.bytes]))
    pause = hooks(StopAfter("collect", _locks_a_batch))
    collector, collected = start("collect", lambda: collect(ref, store))
    assert pause.reached.wait(TIMEOUT_S)

    pusher, pushed = start("push", lambda: model.create_manifest_and_retarget_tag(
        ref, index, "multi", store))
    time.sleep(SETTLE_S)
    assert pusher.is_alive()  # waiting for the collector's lock
    pause.release.set()
    finish(collector, pusher)

    assert "error" not in collected and collected["value"]["manifests"] == 1, collected
    assert isinstance(pushed.get("error"), errors.ManifestChildUnknownException), pushed
    assert model.get_repo_tag(ref, "multi") is None
    assert Manifest.select().count() == 0 and lists_without_children() == []


def test_a_doomed_index_pushed_again_after_the_plan_stays_with_its_children(
        committed, model, store, hooks):
    ref = repository(model)
    children = [push_image(model, ref, store, "kid%d" % index) for index in range(2)]
    index = parse(index_manifest([child.bytes for child in children]))
    model.create_manifest_and_retarget_tag(ref, index, "multi", store)
    model.delete_tag(ref, "multi")
    pause = hooks(StopAfter("collect", _plans))
    collector, collected = start("collect", lambda: collect(ref, store))
    assert pause.reached.wait(TIMEOUT_S)  # it planned to delete the index and its children

    manifest, tag = model.create_manifest_and_retarget_tag(ref, index, "again", store)
    pause.release.set()
    finish(collector)

    assert "error" not in collected and collected["value"]["manifests"] == 0, collected
    assert model.get_manifest_for_tag(model.get_repo_tag(ref, "again")) == manifest
    for parsed in children:
        assert model.lookup_manifest_by_digest(ref, parsed.digest) is not None
    assert lists_without_children() == []
