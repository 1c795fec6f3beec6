"""The backfill's driver: pre-OCI tags in id order, one batch per transaction.

A batch reads the next tags after the last one seen, stores the manifests they point at
that the OCI tables lack (bytes as stored, so digests stay; blobs from the image chain;
the legacy view from the image rows), carries the tag rows the OCI tables do not hold
yet (:mod:`registry_model.backfill.pairing`) and copies their manifests' labels up to
what the OCI manifest already has. At most :data:`STATEMENTS_PER_BATCH` statements per
batch, whatever its size. Progress needs no checkpoint: what is carried is read back
from the OCI tables, so a run that was killed is simply run again.
"""
import functools
import logging
from collections import Counter
from typing import Callable, Optional

from registry_model import errors, validation
from registry_model.backfill import pairing, source, target
from registry_model.backfill.report import BackfillReport, RejectedRow
from registry_model.manifests import ManifestException, parse_manifest_from_bytes
from registry_model.media_types import schema1_media_type
from registry_model.model import label as shared_labels
from registry_model.model import lookup
from registry_model.oci import legacy
from registry_model.transactions import run_with_retry

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 500
# Reads: the tags, their images, existing manifests, the names' rows in either wing, the
# labels and the OCI labels (7); writes: manifests with id read-back and blob rows (3),
# tag changes, tags (2), labels with id read-back and links (3); the lookup cache (1).
STATEMENTS_PER_BATCH = 16

Progress = Callable[[int, int], None]


class _Uncarriable(Exception):
    """A pre-OCI manifest that cannot become an OCI manifest; the message says why."""


def _reject(tag: source.SourceTag, reason: str) -> RejectedRow:
    return RejectedRow("repository_tag", tag.id, tag.repository, tag.name, reason)


def _new_manifest(tag: source.SourceTag, images: dict) -> target.NewManifest:
    """The OCI manifest row for a tag's pre-OCI manifest, or _Uncarriable."""
    data = tag.json_data.encode("utf-8")
    media_type = (lookup.media_type_name(tag.media_type_id) if tag.media_type_id
                  else schema1_media_type(data))
    try:
        parsed = parse_manifest_from_bytes(data, media_type, validate=False)
    except ManifestException as exc:
        raise _Uncarriable("manifest %s does not parse: %s" % (tag.digest, exc)) from exc
    if parsed.digest != tag.digest:
        raise _Uncarriable("manifest stored as %s but its bytes hash to %s"
                           % (tag.digest, parsed.digest))
    chain = [images.get(image_id) for image_id in tag.chain_ids()]
    if None in chain:
        raise _Uncarriable("legacy image chain of manifest %s is incomplete" % tag.digest)
    return target.NewManifest(tag.repository_id, tag.digest, lookup.media_type_id(media_type),
                              data, legacy.schema1_layer_history(chain),
                              tuple(image.storage_id for image in chain))


def _store_manifests(tags: list, rejected: list) -> tuple:
    """``({(repository id, digest): OCI manifest id}, manifests written, blob rows written)``
    for the tags."""
    images = source.chain_images(image_id for tag in tags for image_id in tag.chain_ids())
    wanted = {(tag.repository_id, tag.digest) for tag in tags}
    ids = target.manifest_ids(wanted)
    new: dict = {}
    refused: dict = {}
    for tag in tags:
        key = (tag.repository_id, tag.digest)
        if key not in ids and key not in new and key not in refused:
            try:
                new[key] = _new_manifest(tag, images)
            except _Uncarriable as exc:
                refused[key] = str(exc)
        if key in refused:
            rejected.append(_reject(tag, refused[key]))
    written, links = target.insert_manifests(list(new.values()))
    ids.update(written)
    return ids, len(new), links


def _carry_tags(tags: list, manifest_ids: dict, rejected: list) -> tuple:
    """Carry the batch's tag rows and bring over changed ones: ``(carried, updated)``."""
    names = {(tag.repository_id, tag.name) for tag in tags}
    history = [row for row in source.tag_histories(names) if row.digest is not None]
    plan = pairing.plan_tags({tag.id for tag in tags}, history, target.tags_named(names))
    by_id = {tag.id: tag for tag in tags}
    for row in plan.conflicts:
        rejected.append(RejectedRow(
            "repository_tag", row.id, by_id[row.id].repository if row.id in by_id
            else str(row.repository_id), row.name,
            "alive tag %s is alive in the OCI tables already with another manifest "
            "or start" % row.name))
    updated = target.update_tags(plan.updates)
    carried = target.insert_tags([
        (row.repository_id, row.name, manifest_ids[row.repository_id, row.digest],
         row.lifetime_start_ts * 1000, pairing.end_ms(row.lifetime_end_ts), row.hidden,
         row.reversion, False)
        for row in plan.carry])
    return carried, updated


def _check_label(label: source.SourceLabel) -> Optional[str]:
    """Why the OCI wing would refuse the label, or None."""
    try:
        shared_labels.check_label(label.key, label.value,
                                  lookup.source_type_name(label.source_type_id),
                                  lookup.media_type_name(label.media_type_id))
    except errors.DataModelException as exc:
        return str(exc)
    return None


def _carry_labels(tags: list, manifest_ids: dict, rejected: list) -> int:
    """Copy the batch manifests' labels the OCI manifest lacks: each label content as often
    as the tag manifest holding it most often has it (a digest has one set of labels)."""
    owner = {tag.tag_manifest_id: tag for tag in tags}
    needed: dict = {}  # OCI manifest id -> Counter of content, in first-seen order
    per_source: dict = {}
    for label in source.manifest_labels(owner):
        tag = owner[label.tag_manifest_id]
        reason = _check_label(label)
        if reason is not None:
            rejected.append(RejectedRow("tag_manifest_label", label.link_id, tag.repository,
                                        label.key, reason))
            continue
        content = (label.key, label.value, label.media_type_id, label.source_type_id)
        per_source.setdefault(label.tag_manifest_id, Counter())[content] += 1
        manifest_id = manifest_ids[tag.repository_id, tag.digest]
        counts = needed.setdefault(manifest_id, (tag.repository_id, Counter()))[1]
        counts[content] = max(counts[content], per_source[label.tag_manifest_id][content])
    have = target.label_counts(needed)
    copies = [(repository_id, manifest_id, content)
              for manifest_id, (repository_id, counts) in needed.items()
              for content, count in counts.items()
              for _ in range(count - have[manifest_id][content])]
    return target.insert_labels(copies)


def _carry_batch(after_id: int, batch_size: int) -> tuple:
    """One batch in the caller's transaction: ``(BackfillReport, last tag id or None)``."""
    tags = source.tag_batch(after_id, batch_size)
    if not tags:
        return BackfillReport(), None
    rejected: list = []
    with_manifest = []
    for tag in tags:
        if tag.tag_manifest_id is None:
            rejected.append(_reject(tag, "tag has no manifest"))
        else:
            with_manifest.append(tag)
    manifest_ids, manifests, links = _store_manifests(with_manifest, rejected)
    carriable = [tag for tag in with_manifest
                 if (tag.repository_id, tag.digest) in manifest_ids]
    carried, updated = _carry_tags(carriable, manifest_ids, rejected)
    labels = _carry_labels(carriable, manifest_ids, rejected)
    report = BackfillReport(batches=1, tags_seen=len(tags), tags_carried=carried,
                            manifests_carried=manifests,
                            blobs_linked=links, labels_carried=labels, tags_updated=updated,
                            rejected=tuple(rejected))
    return report, tags[-1].id


def backfill_to_oci(batch_size: int = DEFAULT_BATCH_SIZE,
                    progress: Optional[Progress] = None) -> BackfillReport:
    """Copy the pre-OCI tables' tags, manifests and labels into the OCI tables.

    Tags go in id order, ``batch_size`` per transaction (each retried after a lost race):
    a tag row with its lifetime in milliseconds, hidden and reversion; the schema 1
    manifest it points at byte for byte (same digest; its blobs from the legacy image
    chain; its legacy images, V1 ids included, kept for the OCI legacy view); the
    manifest's labels as copies. Pre-OCI rows are only read. Running it again carries
    only what is new and brings over tag ends and hiding changed since; a killed run is
    resumed by running it again. A row that cannot be carried (a tag without manifest, a manifest
    that does not parse or whose digest does not match, a label the OCI wing refuses, an
    alive tag whose name is alive in the OCI tables already) is logged, left in the
    pre-OCI tables and listed in the report's ``rejected``. ``progress(done, total)`` is
    called after each batch with the tag rows seen so far and the total at the start.
    """
    validation.check_count("batch size", batch_size, 1)
    total = source.count_tags()
    report = BackfillReport()
    after_id = 0
    while True:
        batch, last_id = run_with_retry(functools.partial(_carry_batch, after_id, batch_size),
                                        conflict=errors.ConcurrentWriteException)
        if last_id is None:
            return report
        for row in batch.rejected:
            logger.warning("not carried to the OCI tables: %s %d (%s %s): %s", row.table,
                           row.row_id, row.repository, row.name, row.reason)
        report = report.add(batch)
        after_id = last_id
        if progress is not None:
            progress(report.tags_seen, max(total, report.tags_seen))
