"""Labels of OCI manifests: one digest, one set of labels, whatever tags point at it.

The Label rows and their rules are shared (:mod:`registry_model.model.label`); this
wing links them to a manifest row with ManifestLabel. ``quay.expires-after`` also
sets the end of the manifest's alive tags (:func:`apply_label`). Labels whose
source type is immutable (``manifest``: they came with the push) cannot be deleted.
"""
import logging
from typing import Optional

from peewee import fn

from registry_model import errors, validation
from registry_model.model.label import (
    EXPIRES_AFTER_KEY,
    check_deletable,
    check_label,
    insert_labels,
    parse_duration,
)
from registry_model.model.tables import Label
from registry_model.oci import tag as tag_model
from registry_model.oci.tables import Manifest, ManifestLabel
from registry_model.statements import Statement, param
from registry_model.transactions import run_with_retry

logger = logging.getLogger(__name__)


def apply_label(manifest_id: int, key: str, value: str, now_ms: int) -> Optional[int]:
    """Run what the label's key does to the manifest's tags, in the caller's transaction.

    ``quay.expires-after`` ends every alive, non-hidden tag of the manifest that long
    after its start (two statements; ImmutableTagException when one is immutable);
    returns those seconds, or None when the key does nothing or the value is no duration.
    """
    if key != EXPIRES_AFTER_KEY:
        return None
    seconds = parse_duration(value)
    if seconds is None:
        logger.info("ignoring %s=%r: not a duration", EXPIRES_AFTER_KEY, value)
        return None
    tag_model.set_expiration_of_manifest_tags(manifest_id, seconds * 1000, now_ms)
    return seconds


def expiry_seconds(labels: list) -> Optional[int]:
    """Seconds the last valid ``quay.expires-after`` of ``labels`` gives a tag, or None.

    ``labels`` holds ``(key, value, ...)`` tuples; a value that is no duration (or None)
    is ignored, as :func:`apply_label` ignores it.
    """
    seconds = None
    for key, value, *_ in labels:
        if key == EXPIRES_AFTER_KEY and value is not None:
            seconds = parse_duration(value) or seconds
    return seconds


def create_manifest_label(manifest_id: int, digest: Optional[str], key: str, value: str,
                          source_type_name: str, media_type_name: Optional[str],
                          now_ms: int) -> Label:
    """Label the manifest: three statements, one transaction (five with a handler key).

    Every rule is checked before writing; NotFoundException when the manifest is gone
    (or the row of that id has another ``digest``). Retried after a deadlock.
    """
    source_type_id, media_type_id = check_label(key, value, source_type_name, media_type_name)

    def write() -> Label:
        query = Manifest.select(Manifest.repository).where(Manifest.id == manifest_id)
        if digest is not None:
            query = query.where(Manifest.digest == digest)
        repository_id = query.scalar()
        if repository_id is None:
            raise errors.NotFoundException("manifest %s does not exist" % manifest_id)
        label = Label.create(key=key, value=value, media_type=media_type_id,
                             source_type=source_type_id)
        ManifestLabel.insert(repository=repository_id, manifest=manifest_id,
                             label=label.id).execute()
        apply_label(manifest_id, key, value, now_ms)
        return label

    return run_with_retry(write, conflict=errors.ConcurrentWriteException)


def create_manifest_labels(manifest_id: int, repository_id: int, labels: list) -> list:
    """Create many labels on a manifest in the caller's transaction: three statements.

    ``labels`` holds ``(key, value, source_type_name, media_type_name or None)``, all
    checked before anything is written; the Label rows come back in order.
    """
    prepared = insert_labels(labels)
    if prepared:
        ManifestLabel.insert_many([{"repository": repository_id, "manifest": manifest_id,
                                    "label": row.id} for row in prepared]).execute()
    return prepared


def _label_rows(by_prefix: bool, by_digest: bool):
    query = (Label.select(Label.id, Label.uuid, Label.key, Label.value, Label.media_type,
                          Label.source_type)
             .join(ManifestLabel)
             .where(ManifestLabel.manifest == param("manifest_id"))
             .order_by(Label.id))
    if by_digest:
        query = query.join(Manifest).where(Manifest.digest == param("digest"))
    if by_prefix:
        # LIKE has wildcards and ignores case on SQLite; comparing the leading
        # characters is literal and case-sensitive everywhere.
        query = query.where(fn.SUBSTR(Label.key, 1, param("prefix_length")) == param("prefix"))
    return query


_LABELS = Statement(_label_rows)
_LABEL_BY_UUID = Statement(lambda by_digest: _label_rows(False, by_digest)
                           .where(Label.uuid == param("uuid")))


def list_manifest_labels(manifest_id: int, key_prefix: Optional[str] = None,
                         digest: Optional[str] = None) -> list:
    """The manifest's labels in creation order, optionally by literal key prefix: one query.

    Flat rows (id, uuid, key, value, media_type_id, source_type_id); none when the row of
    that id has another ``digest`` than given.
    """
    return _LABELS.rows((bool(key_prefix), digest is not None), manifest_id=manifest_id,
                        prefix=key_prefix, prefix_length=len(key_prefix or ""), digest=digest)


def get_manifest_label(manifest_id: int, label_uuid: str,
                       digest: Optional[str] = None) -> Optional[tuple]:
    """The manifest's label with that uuid (flat row), or None, also for a malformed uuid.

    One query (none for a malformed uuid).
    """
    if not validation.is_valid_uuid(label_uuid):
        return None
    return _LABEL_BY_UUID.first((digest is not None,), manifest_id=manifest_id,
                                uuid=label_uuid, digest=digest)


def delete_manifest_label(manifest_id: int, label_uuid: str,
                          digest: Optional[str] = None) -> Optional[tuple]:
    """Delete the manifest's label with that uuid and return it, or None if absent.

    ImmutableLabelException for an immutable source type. Of concurrent deletes of one
    label, one returns it and the others None. Three statements, one transaction.
    """
    if not validation.is_valid_uuid(label_uuid):
        return None

    def write() -> Optional[tuple]:
        label = get_manifest_label(manifest_id, label_uuid, digest)
        if label is None:
            return None
        check_deletable(label)
        unlinked = (ManifestLabel.delete()
                    .where(ManifestLabel.label == label.id,
                           ManifestLabel.manifest == manifest_id).execute())
        if not unlinked:
            return None  # a concurrent delete committed first and returns the label
        Label.delete().where(Label.id == label.id).execute()
        return label

    return run_with_retry(write, retry_integrity_errors=False,
                          conflict=errors.ConcurrentWriteException)
