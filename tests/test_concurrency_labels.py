"""Many writers on one manifest's labels: separate processes, real commits.

WORKERS processes, started together, first all delete the same CONTESTED labels, then
each creates LABELS_PER_WORKER labels on the manifest (every fourth one
``quay.expires-after``, which also moves the expiration of the manifest's tag) and
deletes every third label it created; MOVERS of them also move a second tag to the
manifest after each label, so the expiration handler races tag moves of its digest.
Whatever the interleaving: each contested label is returned by exactly one delete, the
manifest's labels are exactly those created minus those deleted (none lost, none twice),
every label row has its manifest link, the tag's expiration comes from one of the
created expiration labels and the moved tag keeps an unbroken history. A deadlock victim is
retried; a write that keeps losing raises ConcurrentWriteException having written
nothing, and is counted as not created.
"""

from peewee import JOIN

from registry_model import errors, registry_model
from registry_model.database import Label, RepositoryTag, TagManifestLabel
from registry_model.pre_oci.label_handlers import EXPIRES_AFTER_KEY, parse_duration
from registry_model.testing.factories import TagManifestFactory
from registry_model.testing.processes import run_in_processes

WORKERS = 6
LABELS_PER_WORKER = 30
CONTESTED = 3
MOVERS = 2
TIMEOUT_S = 180




def label_writer(ref, manifest, worker: int, contested: list) -> dict:
    """Race for the contested labels, then create and delete labels of this worker's own."""
    outcome = {"contested": {}, "created": [], "deleted": [], "moves": 0, "conflicts": 0}
    for label_uuid in contested:
        try:
            deleted = registry_model.delete_manifest_label(manifest, label_uuid)
        except errors.ConcurrentWriteException:
            outcome["conflicts"] += 1
            outcome["contested"][label_uuid] = "conflict"
            continue
        assert deleted is None or deleted.uuid == label_uuid, deleted
        outcome["contested"][label_uuid] = "lost" if deleted is None else "won"
    for n in range(LABELS_PER_WORKER):
        if n % 4 == 0:
            # Hours, distinct per label: the tag stays alive and its end names the label.
            key, value = EXPIRES_AFTER_KEY, "%dh" % (worker * 100 + n + 1)
        else:
            key, value = "w%d.key%d" % (worker, n), "value %d of worker %d" % (n, worker)
        try:
            created = registry_model.create_manifest_label(manifest, key, value, "api")
        except errors.ConcurrentWriteException:
            outcome["conflicts"] += 1
            continue
        assert (created.key, created.value) == (key, value)
        if worker < MOVERS:
            try:
                registry_model.retarget_tag(ref, "moving", manifest)
                outcome["moves"] += 1
            except errors.ConcurrentWriteException:
                outcome["conflicts"] += 1
        outcome["created"].append((created.uuid, key, value))
        if n % 3 == 2:
            try:
                deleted = registry_model.delete_manifest_label(manifest, created.uuid)
            except errors.ConcurrentWriteException:
                outcome["conflicts"] += 1
                continue
            # Nobody else knows this uuid: the delete must find it.
            assert deleted is not None and deleted.uuid == created.uuid
            outcome["deleted"].append(created.uuid)
    return outcome


def _unpaired_rows() -> tuple:
    """Labels without a manifest link, and links without their label, in the whole database."""
    orphan_labels = (Label.select(Label.id)
                     .join(TagManifestLabel, JOIN.LEFT_OUTER)
                     .where(TagManifestLabel.id.is_null()).count())
    dangling_links = (TagManifestLabel.select(TagManifestLabel.id)
                      .join(Label, JOIN.LEFT_OUTER)
                      .where(Label.id.is_null()).count())
    return orphan_labels, dangling_links


def test_many_writers_on_one_manifests_labels_lose_and_duplicate_nothing(scratch_uri,
                                                                         record_property):
    tag_manifest = TagManifestFactory(tag__name="latest")
    tag_id = tag_manifest.tag.id
    ref = registry_model.lookup_repository(tag_manifest.tag.repository.namespace.name,
                                           tag_manifest.tag.repository.name)
    manifest = registry_model.get_manifest_for_tag(registry_model.get_repo_tag(ref, "latest"))
    kept = registry_model.create_manifest_label(manifest, "com.example.kept", "v", "api")
    contested = [registry_model.create_manifest_label(manifest, "com.example.contested%d" % n,
                                                      "v", "api").uuid
                 for n in range(CONTESTED)]

    results = run_in_processes(label_writer, scratch_uri,
                               [(ref, manifest, worker, contested) for worker in range(WORKERS)],
                               timeout_s=TIMEOUT_S)
    outcomes = [result.value for result in results]
    record_property("label_processes", WORKERS)
    record_property("label_operations", sum(
        len(outcome["contested"]) + len(outcome["created"]) + len(outcome["deleted"])
        + outcome["moves"] + outcome["conflicts"] for outcome in outcomes))
    record_property("label_retries", sum(result.retries for result in results))
    record_property("label_conflicts", sum(outcome["conflicts"] for outcome in outcomes))
    record_property("label_seconds", round(max(result.seconds for result in results), 2))

    for label_uuid in contested:
        ends = sorted(outcome["contested"][label_uuid] for outcome in outcomes)
        # One delete returns the label; the others find it gone (None) or, having lost
        # every retry, raise ConcurrentWriteException.
        assert ends.count("won") == 1 and set(ends) <= {"won", "lost", "conflict"}, ends
        assert registry_model.get_manifest_label(manifest, label_uuid) is None
    created = {uuid: (key, value) for outcome in outcomes
               for uuid, key, value in outcome["created"]}
    deleted = {uuid for outcome in outcomes for uuid in outcome["deleted"]}
    assert len(created) == sum(len(outcome["created"]) for outcome in outcomes)
    # Eight retries make a lost race rare: nearly every write must get through.
    assert len(created) >= WORKERS * LABELS_PER_WORKER - WORKERS

    labels = registry_model.list_manifest_labels(manifest)
    assert len({label.uuid for label in labels}) == len(labels)
    expected = {uuid: key_value for uuid, key_value in created.items() if uuid not in deleted}
    expected[kept.uuid] = (kept.key, kept.value)
    assert {label.uuid: (label.key, label.value) for label in labels} == expected
    assert TagManifestLabel.select().where(
        TagManifestLabel.annotated == manifest.id).count() == len(expected)
    assert _unpaired_rows() == (0, 0)

    tag = RepositoryTag.get_by_id(tag_id)
    expirations = {parse_duration(value) for key, value in created.values()
                   if key == EXPIRES_AFTER_KEY}
    assert tag.lifetime_end_ts - tag.lifetime_start_ts in expirations
    assert registry_model.get_repo_tag(ref, "latest").id == tag_id
    # The movers' tag: one row per move, one alive, each ended where the next began.
    moves = list(RepositoryTag.select().where(RepositoryTag.name == "moving")
                 .order_by(RepositoryTag.id))
    assert len(moves) == sum(outcome["moves"] for outcome in outcomes)
    assert [row.lifetime_end_ts for row in moves[:-1]] == [
        row.lifetime_start_ts for row in moves[1:]]
    last = moves[-1]
    assert last.lifetime_end_ts is None or last.lifetime_end_ts - last.lifetime_start_ts in \
        expirations
