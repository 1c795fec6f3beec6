"""Labels of manifests: key/value pairs with a source (manifest, api, internal).

Keys written through the API follow the key rules of
:func:`registry_model.validation.check_label_key`; keys of source ``manifest``
come from image builders and are stored as written. Labels whose source type is
immutable cannot be deleted.
"""
import logging
from typing import Optional

from peewee import fn

from registry_model import clock, errors, validation
from registry_model.model.label import (  # noqa: F401  (the shared rules, re-exported)
    MANIFEST_SOURCE_TYPE,
    check_deletable,
    check_label,
    check_labels,
    infer_media_type,
)
from registry_model.model.label import insert_labels as _insert_labels
from registry_model.model.tables import Label
from registry_model.pre_oci import label_handlers
from registry_model.pre_oci.tables import (
    RepositoryTag,
    TagManifest,
    TagManifestLabel,
    tag_manifest_clause,
)
from registry_model.statements import Statement, param
from registry_model.transactions import run_with_retry

logger = logging.getLogger(__name__)

def create_manifest_label(tag_manifest_id: int, key: str, value: str, source_type_name: str,
                          media_type_name: Optional[str] = None, digest: Optional[str] = None,
                          tag_id: Optional[int] = None) -> Label:
    """Label the manifest; three statements, one transaction (plus the key's handler, if any).

    Raises InvalidLabelKeyException, InvalidLabelValueException,
    UnknownLabelSourceTypeException or InvalidMediaTypeException before
    writing, and NotFoundException when the manifest is gone (also when the row of that id
    has another ``digest`` or ``tag_id`` than given: see tables.tag_manifest_clause). A
    deadlock is retried; ConcurrentWriteException when it keeps losing.
    """
    source_type_id, media_type_id = check_label(key, value, source_type_name, media_type_name)

    def write() -> Label:
        repository_id = (TagManifest.select(RepositoryTag.repository)
                         .join(RepositoryTag)
                         .where(tag_manifest_clause(tag_manifest_id, digest, tag_id))
                         .scalar())
        if repository_id is None:
            raise errors.NotFoundException("manifest %s does not exist" % tag_manifest_id)
        label = Label.create(key=key, value=value, media_type=media_type_id,
                             source_type=source_type_id)
        TagManifestLabel.insert(repository=repository_id,
                                annotated=tag_manifest_id, label=label.id).execute()
        label_handlers.apply_label(tag_manifest_id, key, value, clock.now_ts())
        return label

    # A manifest deleted between the lookup and the link fails the link's foreign
    # key: the retry finds it gone.
    return run_with_retry(write, conflict=errors.ConcurrentWriteException)


def _label_rows(by_prefix: bool, by_digest: bool, by_tag: bool):
    """The labels of one manifest row, checked against its digest and tag row when given."""
    manifest_id = param("tag_manifest_id")
    if by_digest or by_tag:
        # The id of the row only if it has that digest and tag, as a scalar subquery:
        # PostgreSQL runs it once before the join and plans it faster than a third
        # table in the join (about 45 us less a call on the benchmark's database).
        manifest_id = TagManifest.select(TagManifest.id).where(tag_manifest_clause(
            manifest_id, param("digest") if by_digest else None,
            param("tag_id") if by_tag else None))
    query = (Label.select(Label.id, Label.uuid, Label.key, Label.value, Label.media_type,
                          Label.source_type)
             .join(TagManifestLabel)
             .where(TagManifestLabel.annotated == manifest_id)
             .order_by(Label.id))
    if by_prefix:
        # LIKE would treat % and _ as wildcards and is case-insensitive on
        # SQLite; comparing the leading characters is literal everywhere.
        query = query.where(fn.SUBSTR(Label.key, 1, param("prefix_length")) == param("prefix"))
    return query


_LABELS = Statement(_label_rows)
_LABEL_BY_UUID = Statement(lambda by_digest, by_tag: _label_rows(False, by_digest, by_tag)
                           .where(Label.uuid == param("uuid")))


def list_manifest_labels(tag_manifest_id: int, key_prefix: Optional[str] = None,
                         digest: Optional[str] = None, tag_id: Optional[int] = None) -> list:
    """The manifest's labels in creation order, optionally by key prefix: one query.

    The prefix is compared case-sensitively and literally (no LIKE wildcards). With
    ``digest`` and ``tag_id``, a row of that id with others has no labels (see
    tables.tag_manifest_clause); so for the two functions below. Rows are flat (id,
    uuid, key, value, media_type_id, source_type_id).
    """
    return _LABELS.rows((bool(key_prefix), digest is not None, tag_id is not None),
                        tag_manifest_id=tag_manifest_id, prefix=key_prefix,
                        prefix_length=len(key_prefix or ""), digest=digest, tag_id=tag_id)


def get_manifest_label(tag_manifest_id: int, label_uuid: str, digest: Optional[str] = None,
                       tag_id: Optional[int] = None) -> Optional[tuple]:
    """The manifest's label with that uuid (flat row), or None (also for a malformed uuid).

    One query.
    """
    if not validation.is_valid_uuid(label_uuid):
        return None
    return _LABEL_BY_UUID.first((digest is not None, tag_id is not None),
                                tag_manifest_id=tag_manifest_id, uuid=label_uuid,
                                digest=digest, tag_id=tag_id)


def delete_manifest_label(tag_manifest_id: int, label_uuid: str, digest: Optional[str] = None,
                          tag_id: Optional[int] = None) -> Optional[tuple]:
    """Delete the manifest's label with that uuid and return it, or None if absent.

    ImmutableLabelException for a label of an immutable source type (such as
    ``manifest``). Of several concurrent deletes of one label, one returns it and
    the others None. Three statements, one transaction, retried after a deadlock
    (ConcurrentWriteException when it keeps losing).
    """
    if not validation.is_valid_uuid(label_uuid):
        return None

    def write() -> Optional[tuple]:
        label = get_manifest_label(tag_manifest_id, label_uuid, digest, tag_id)
        if label is None:
            return None
        check_deletable(label)
        unlinked = (TagManifestLabel.delete()
                    .where(TagManifestLabel.label == label.id,
                           TagManifestLabel.annotated == tag_manifest_id).execute())
        if not unlinked:
            # A concurrent delete of the same label committed first: it returns the label.
            return None
        Label.delete().where(Label.id == label.id).execute()
        return label

    return run_with_retry(write, retry_integrity_errors=False,
                          conflict=errors.ConcurrentWriteException)


def check_manifest_labels(labels: list) -> None:
    """Raise what create_manifest_labels would for any of ``labels``, writing nothing.

    For a write that creates the labels late in its transaction and wants bad ones
    refused before it starts.
    """
    check_labels(labels)


def create_manifest_labels(tag_manifest_id: int, repository_id: int, labels: list) -> list:
    """Create many labels on a manifest in the caller's transaction: three statements.

    ``labels`` holds ``(key, value, source_type_name, media_type_name or None)``;
    all are checked before anything is written. Returns the Label rows in order.
    """
    prepared = _insert_labels(labels)
    if prepared:
        TagManifestLabel.insert_many([{"repository": repository_id,
                                       "annotated": tag_manifest_id, "label": row.id}
                                      for row in prepared]).execute()
    return prepared
