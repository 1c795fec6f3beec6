"""Faults at every statement of the OCI wing's writes and of its collector.

The writes (pushes of every kind, tag moves and deletions, immutability, expirations,
labels) are faulted as :mod:`tests.fault_injection` describes: each fault leaves every
row of every table as it was. A collection (a fault raised at each statement; on
PostgreSQL and MariaDB also the connection killed after each) is many transactions, so a
fault in one of them leaves the batches before it done: there the promise is that nothing a tag, a
kept list or a kept subject needs is ever lost, no list loses a child row, nothing is
added, and a collection run afterwards ends exactly where an unfaulted one does.
"""
import re
from unittest import mock

import pytest

from registry_model import OCIModel, errors
from registry_model.blobstore import InMemoryBlobStore
from registry_model.clock import now_ts
from registry_model.database import (
    ImageStorage,
    Label,
    Manifest,
    ManifestBlob,
    ManifestChild,
    ManifestLabel,
    Tag,
    UploadedBlob,
)
from registry_model.model import blob as blob_model
from registry_model.model import namespace as namespace_model
from registry_model.model import repository as repository_model
from registry_model.model import storage as storage_model
from registry_model.testing.queries import count_statements
from registry_model.transactions import transaction
from tests.fault_injection import (
    INJECTED,
    InjectedFault,
    RaiseAt,
    TerminateAfter,
    check_deadlocks_are_retried_or_reported,
    check_faults_leave_every_row,
    link_uploads,
    new_repository,
    unique,
)
from tests.oci import (
    config_bytes,
    image_manifest,
    index_manifest,
    layer_bytes,
    parse,
    sha256_digest,
)

SIGNATURE = "application/example.signature"
# What a collection reads after a batch of blob records committed, before removing their
# files: a failure there is logged and leaves orphan files for the sweep.
AFTER_COMMIT = re.compile(r'^SELECT (\W)t1\1\.\1content_checksum\1 FROM \1image_storage\1 AS '
                          r'\1t1\1 WHERE \(\1t1\1\.\1content_checksum\1 IN \(')


def _link_at_once(ref, blobs: list) -> None:
    """Blob records of ``blobs`` linked to the repository for an hour, in one transaction.

    What committing an upload leaves, at a fraction of the statements: the collector's
    test builds a fresh repository for every statement it faults.
    """
    with transaction():
        for data in blobs:
            storage = storage_model.create_storage(sha256_digest(data), len(data))
            blob_model.link_blob(ref.id, storage.id, 3600, now_ts())


def _image(model, ref, store=None, labels=None, layers=2, cheaply=False, seed=None,
           **options):
    """A parsed image manifest of fresh blobs committed to the repository (and ``store``)."""
    seed = seed or unique("s")
    config = config_bytes(layers, labels=labels, seed=seed)
    blobs = [config] + [layer_bytes(index, seed) for index in range(layers)]
    if store is not None:
        for data in blobs:
            store.put(data)
    if cheaply:
        _link_at_once(ref, blobs)
    else:
        link_uploads(model, ref, [sha256_digest(data) for data in blobs])
    return parse(image_manifest(config, blobs[1:], **options))


def _pushed(model, ref=None, tag_name="latest", store=None, **options):
    """``(ref, parsed, Manifest, Tag)`` of a committed push."""
    ref = ref if ref is not None else new_repository(model)
    parsed = _image(model, ref, store, **options)
    manifest, tag = model.create_manifest_and_retarget_tag(ref, parsed, tag_name, store)
    return ref, parsed, manifest, tag


# The write scenarios: each commits what it needs and returns the write to fault.

def push_image_with_labels(model):
    ref, store = new_repository(model), InMemoryBlobStore()
    parsed = _image(model, ref, store, labels={"com.example.a": "1",
                                               "quay.expires-after": "1d"})
    return lambda: model.create_manifest_and_retarget_tag(ref, parsed, "latest", store)


def push_image_moving_a_tag(model):
    ref, _, _, _ = _pushed(model)
    parsed = _image(model, ref)
    return lambda: model.create_manifest_and_retarget_tag(ref, parsed, "latest", None)


def push_index_of_pushed_children(model):
    ref = new_repository(model)
    children = [_pushed(model, ref, None)[1] for _ in range(2)]
    index = parse(index_manifest([child.bytes for child in children]))
    return lambda: model.create_manifest_and_retarget_tag(ref, index, "multi", None)


def push_referrer_of_a_tagged_image(model):
    ref, subject, _, _ = _pushed(model)
    referrer = _image(model, ref, subject=subject.bytes, artifact_type=SIGNATURE)
    return lambda: model.create_manifest_and_retarget_tag(ref, referrer, None, None)


def push_referrer_before_its_subject(model):
    ref = new_repository(model)
    subject = _image(model, ref)
    referrer = _image(model, ref, subject=subject.bytes, artifact_type=SIGNATURE)
    return lambda: model.create_manifest_and_retarget_tag(ref, referrer, None, None)


def push_by_digest(model):
    ref = new_repository(model)
    parsed = _image(model, ref)
    return lambda: model.create_manifest_and_retarget_tag(ref, parsed, None, None)


def re_push_a_manifest_with_an_expires_after_label(model):
    store = InMemoryBlobStore()
    ref, parsed, _, _ = _pushed(model, store=store, labels={"quay.expires-after": "2h"})
    return lambda: model.create_manifest_and_retarget_tag(ref, parsed, "again", store)


def retarget_tag_to_a_manifest(model):
    ref, _, manifest, _ = _pushed(model)
    _pushed(model, ref, "other")
    return lambda: model.retarget_tag(ref, "other", manifest, None, None)


def delete_tag(model):
    ref, _, _, _ = _pushed(model)
    return lambda: model.delete_tag(ref, "latest")


def delete_tags_for_manifest(model):
    ref, _, manifest, _ = _pushed(model)
    model.retarget_tag(ref, "second", manifest, None, None)
    return lambda: model.delete_tags_for_manifest(manifest)


def make_a_tag_immutable(model):
    _, _, _, tag = _pushed(model)
    return lambda: model.change_tag_immutability(tag, True)


def make_a_tag_mutable_again(model):
    _, _, _, tag = _pushed(model)
    tag = model.change_tag_immutability(tag, True)
    return lambda: model.change_tag_immutability(tag, False)


def change_repository_tag_expiration(model):
    from datetime import UTC, datetime, timedelta

    _, _, _, tag = _pushed(model)
    when = datetime.now(UTC) + timedelta(days=3)
    return lambda: model.change_repository_tag_expiration(tag, when)


def set_tags_expiration_for_manifest(model):
    _, _, manifest, _ = _pushed(model)
    return lambda: model.set_tags_expiration_for_manifest(manifest, 3600)


def create_manifest_label_with_a_handler(model):
    _, _, manifest, _ = _pushed(model)
    return lambda: model.create_manifest_label(manifest, "quay.expires-after", "2h", "api")


def delete_manifest_label(model):
    _, _, manifest, _ = _pushed(model)
    label = model.create_manifest_label(manifest, "com.example.key", "value", "api")
    return lambda: model.delete_manifest_label(manifest, label.uuid)


SCENARIOS = [
    push_image_with_labels, push_image_moving_a_tag, push_index_of_pushed_children,
    push_referrer_of_a_tagged_image, push_referrer_before_its_subject, push_by_digest,
    re_push_a_manifest_with_an_expires_after_label, retarget_tag_to_a_manifest, delete_tag,
    delete_tags_for_manifest, make_a_tag_immutable, make_a_tag_mutable_again,
    change_repository_tag_expiration, set_tags_expiration_for_manifest,
    create_manifest_label_with_a_handler, delete_manifest_label,
]
# The writes that retry a lost race (run_with_retry); the others report it at once.
RETRIED = {
    push_image_with_labels, push_image_moving_a_tag, push_index_of_pushed_children,
    push_referrer_of_a_tagged_image, push_referrer_before_its_subject, push_by_digest,
    re_push_a_manifest_with_an_expires_after_label, retarget_tag_to_a_manifest, delete_tag,
    create_manifest_label_with_a_handler, delete_manifest_label,
}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.__name__)
def test_a_fault_at_any_statement_of_an_oci_write_leaves_every_row_as_it_was(fault_server,
                                                                            scenario):
    check_faults_leave_every_row(fault_server, scenario(OCIModel()))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.__name__)
def test_a_deadlock_at_any_statement_of_an_oci_write_is_retried_or_reported(fault_server,
                                                                            scenario):
    check_deadlocks_are_retried_or_reported(fault_server, scenario(OCIModel()),
                                            scenario in RETRIED)


# The collector.

def _world(model):
    """A committed repository with something of every kind to keep and to collect.

    Kept: an image tagged ``kept`` and its untagged signature; list-1 and its child
    ``shared``. Collected: list-2 (tag deleted, an api label) and its other child,
    that child's signature and the signature's countersignature, an image whose tag
    was deleted. Everything untagged was pushed by digest: its hidden tag has ended by
    the time of the collection.
    """
    namespace = unique("ns")
    namespace_model.create_namespace(namespace, removed_tag_expiration_s=0)
    repository_model.create_repository(namespace, "repo")
    ref = model.lookup_repository(namespace, "repo")
    kept_seed = unique("kept")
    _, kept, _, _ = _pushed(model, ref, "kept", cheaply=True, seed=kept_seed)
    _pushed(model, ref, None, subject=kept.bytes, artifact_type=SIGNATURE, layers=1,
            cheaply=True)
    shared = _pushed(model, ref, None, layers=1, cheaply=True)[1]
    only = _pushed(model, ref, None, layers=1, cheaply=True)[1]
    _, signature, _, _ = _pushed(model, ref, None, subject=only.bytes, artifact_type=SIGNATURE,
                                 layers=1, cheaply=True)
    _pushed(model, ref, None, subject=signature.bytes, artifact_type=SIGNATURE, layers=1,
            cheaply=True)
    dead_config = config_bytes(1, seed="dead" + ref.namespace_name)
    _link_at_once(ref, [dead_config])
    dead = parse(image_manifest(dead_config, [layer_bytes(0, kept_seed)]))
    # The dead image's layer is kept's: a blob record both manifests name.
    model.create_manifest_and_retarget_tag(ref, dead, "dead", None)
    # Pushed last, list-2 falls in another batch than its doomed child ``only``.
    model.create_manifest_and_retarget_tag(ref, parse(index_manifest([shared.bytes])),
                                           "list-1", None)
    second, _ = model.create_manifest_and_retarget_tag(
        ref, parse(index_manifest([shared.bytes, only.bytes])), "list-2", None)
    model.create_manifest_label(second, "com.example.list", "2", "api")
    model.delete_tag(ref, "dead")
    model.delete_tag(ref, "list-2")
    return ref


def _view(ref) -> dict:
    """The repository's OCI rows by digest and name (ids differ between worlds)."""
    manifests = dict(Manifest.select(Manifest.id, Manifest.digest)
                     .where(Manifest.repository == ref.id).tuples())
    return {
        "manifests": set(manifests.values()),
        "children": {(manifests[parent], manifests[child]) for parent, child in
                     ManifestChild.select(ManifestChild.manifest, ManifestChild.child_manifest)
                     .where(ManifestChild.repository == ref.id).tuples()},
        "blob rows": {(manifests[manifest], digest) for manifest, digest in
                      ManifestBlob.select(ManifestBlob.manifest, ImageStorage.content_checksum)
                      .join(ImageStorage).where(ManifestBlob.repository == ref.id).tuples()},
        "labels": {(manifests[manifest], key) for manifest, key in
                   ManifestLabel.select(ManifestLabel.manifest, Label.key).join(Label)
                   .where(ManifestLabel.repository == ref.id).tuples()},
        "tags": {(name, manifests[manifest]) for name, manifest in
                 Tag.select(Tag.name, Tag.manifest).where(Tag.repository == ref.id,
                                                          Tag.hidden == False)  # noqa: E712
                 .tuples()},
        "hidden tags": Tag.select().where(Tag.repository == ref.id,
                                          Tag.hidden == True).count(),  # noqa: E712
        "links": UploadedBlob.select().where(UploadedBlob.repository == ref.id).count(),
    }


def _blob_records(view: dict) -> set:
    digests = {digest for _, digest in view["blob rows"]}
    return {row[0] for row in ImageStorage.select(ImageStorage.content_checksum)
            .where(ImageStorage.content_checksum.in_(sorted(digests))).tuples()}


def _lists_keep_every_child_row(ref) -> bool:
    """Every stored list still has one child row per child its bytes name."""
    rows = Manifest.select(Manifest.id, Manifest.manifest_bytes).where(
        Manifest.repository == ref.id)
    for row in rows:
        parsed = parse(bytes(row.manifest_bytes))
        wanted = {child.digest for child in parsed.child_manifests}
        if wanted and ManifestChild.select().where(
                ManifestChild.manifest == row.id).count() != len(wanted):
            return False
    return True


def _collect(model, ref, store, batch_size=4):
    return model.garbage_collect_repository(ref, store, now=now_ts() + 2 * 24 * 3600,
                                            batch_size=batch_size)


def _translated(view: dict, names: dict) -> dict:
    """The view with the world's digests replaced by their role, to compare two worlds."""
    def name(digest):
        return names.get(digest, digest)
    return {
        "manifests": {name(d) for d in view["manifests"]},
        "children": {(name(a), name(b)) for a, b in view["children"]},
        "blob rows": {(name(a), name(b)) for a, b in view["blob rows"]},
        "labels": {(name(a), key) for a, key in view["labels"]},
        "tags": {(tag, name(d)) for tag, d in view["tags"]},
        "hidden tags": view["hidden tags"], "links": view["links"],
    }


def _roles(ref) -> dict:
    """Manifest and blob digest -> its place in push order: the same role in every world."""
    roles = {digest: "m%d" % index for index, (digest,) in enumerate(
        Manifest.select(Manifest.digest).where(Manifest.repository == ref.id)
        .order_by(Manifest.id).tuples())}
    blobs = (ImageStorage.select(ImageStorage.content_checksum).join(ManifestBlob)
             .where(ManifestBlob.repository == ref.id).order_by(ImageStorage.id).tuples())
    for (digest,) in blobs:
        roles.setdefault(digest, "b%d" % len(roles))
    return roles


def test_a_fault_at_any_statement_of_a_collection_loses_nothing_needed_and_resumes(
        fault_server):
    database, model, store = fault_server.database, OCIModel(), InMemoryBlobStore()
    reference = _world(model)
    roles = _roles(reference)
    with count_statements() as counted:
        summary = _collect(model, reference, store)
    assert summary.manifests == 5 and summary.labels == 1 and summary.blobs > 0
    expected = _translated(_view(reference), roles)
    assert len(expected["manifests"]) == 4 and expected["children"]

    forgiven = 0
    for index in range(counted.count):
        ref, roles, before = _faulted_world(model)
        fault = RaiseAt(database, index)
        with mock.patch.object(database, "execute_sql", fault):
            try:
                _collect(model, ref, store)
            except InjectedFault:
                INJECTED["raised"] += 1
            else:  # only the check after a commit, before removing files, is forgiven
                assert AFTER_COMMIT.match(str(counted.statements[index])), index
                forgiven += 1
        _check_resumable(model, ref, store, roles, before, expected, index)
    assert 0 < forgiven < 5
    if fault_server.backend == "sqlite":
        return
    # The server ends the collector's connection after each statement in turn: the
    # collection raises or, after a read outside a transaction, reconnects and goes on;
    # either way as with a raised fault.
    for index in range(counted.count):
        ref, roles, before = _faulted_world(model)
        killer = TerminateAfter(fault_server, index)
        database.query_hooks.append(killer)
        try:
            _collect(model, ref, store)
        except errors.DatabaseConnectionLostException:
            pass
        finally:
            database.query_hooks.remove(killer)
        INJECTED["terminated"] += 1
        assert killer.fired, index
        _check_resumable(model, ref, store, roles, before, expected, index)


def _faulted_world(model) -> tuple:
    """A fresh world, written in one transaction (one commit): ``(ref, roles, view before)``."""
    with transaction():
        ref = _world(model)
    return ref, _roles(ref), _view(ref)


def _check_resumable(model, ref, store, roles, before, expected, index) -> None:
    """After a faulted collection: nothing added, nothing needed lost, no list without a
    child row; a collection then ends where an unfaulted one did."""
    from registry_model.database import db

    assert not db.in_transaction()
    after = _view(ref)
    for kind in ("manifests", "children", "blob rows", "labels", "tags"):
        assert after[kind] <= before[kind], (index, kind)
    translated = _translated(after, roles)
    for kind in ("manifests", "children", "blob rows", "tags"):
        assert expected[kind] <= translated[kind], (index, kind)
    assert _blob_records(after) >= {digest for _, digest in after["blob rows"]}
    assert _lists_keep_every_child_row(ref), index
    _collect(model, ref, store)
    assert _translated(_view(ref), roles) == expected, index
