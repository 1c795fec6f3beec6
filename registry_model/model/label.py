"""Labels of manifests: key/value pairs with a source (manifest, api, internal).

Keys written through the API follow the key rules of
:func:`registry_model.validation.check_label_key`; keys of source ``manifest``
come from image builders and are stored as written. Labels whose source type is
immutable cannot be deleted.
"""
import json
import logging
import uuid
from typing import Optional

from peewee import fn

from registry_model import errors, validation
from registry_model.database import Label, RepositoryTag, TagManifest, TagManifestLabel, transaction
from registry_model.model import label_handlers, lookup
from registry_model.model import tag as tag_model

logger = logging.getLogger(__name__)

MANIFEST_SOURCE_TYPE = "manifest"


def infer_media_type(value: str) -> str:
    """``application/json`` for a JSON object or array, ``text/plain`` for anything else."""
    try:
        parsed = json.loads(value)
    except ValueError:
        return "text/plain"
    return "application/json" if isinstance(parsed, (dict, list)) else "text/plain"


def create_manifest_label(tag_manifest_id: int, key: str, value: str, source_type_name: str,
                          media_type_name: Optional[str] = None, digest: Optional[str] = None,
                          tag_id: Optional[int] = None) -> Label:
    """Label the manifest; three statements, one transaction (plus the key's handler, if any).

    Raises InvalidLabelKeyException, InvalidLabelValueException,
    UnknownLabelSourceTypeException or InvalidMediaTypeException before
    writing, and NotFoundException when the manifest is gone (also when the row of that id
    has another ``digest`` or ``tag_id`` than given: see tag.tag_manifest_clause).
    """
    source_type_id = lookup.source_type_id(source_type_name)
    validation.check_label_key(key, validate_format=source_type_name != MANIFEST_SOURCE_TYPE)
    validation.check_label_value(value)
    media_type_id = lookup.media_type_id(media_type_name or infer_media_type(value))
    with transaction():
        repository_id = (TagManifest.select(RepositoryTag.repository)
                         .join(RepositoryTag)
                         .where(tag_model.tag_manifest_clause(tag_manifest_id, digest, tag_id))
                         .scalar())
        if repository_id is None:
            raise errors.NotFoundException("manifest %s does not exist" % tag_manifest_id)
        label = Label.create(key=key, value=value, media_type=media_type_id,
                             source_type=source_type_id)
        TagManifestLabel.insert(repository=repository_id,
                                annotated=tag_manifest_id, label=label.id).execute()
        label_handlers.apply_label(tag_manifest_id, key, value, tag_model.now_ts())
    return label


def _labels_of(tag_manifest_id: int, digest: Optional[str], tag_id: Optional[int]):
    query = Label.select().join(TagManifestLabel)
    if digest is None and tag_id is None:
        return query.where(TagManifestLabel.annotated == tag_manifest_id)
    return (query.join(TagManifest)
            .where(tag_model.tag_manifest_clause(tag_manifest_id, digest, tag_id)))


def list_manifest_labels(tag_manifest_id: int, key_prefix: Optional[str] = None,
                         digest: Optional[str] = None, tag_id: Optional[int] = None) -> list:
    """The manifest's labels in creation order, optionally by key prefix: one query.

    The prefix is compared case-sensitively and literally (no LIKE wildcards). With
    ``digest`` and ``tag_id``, a row of that id with others has no labels (see
    tag.tag_manifest_clause); so for the two functions below.
    """
    query = _labels_of(tag_manifest_id, digest, tag_id)
    if key_prefix:
        # LIKE would treat % and _ as wildcards and is case-insensitive on
        # SQLite; comparing the leading characters is literal everywhere.
        query = query.where(fn.SUBSTR(Label.key, 1, len(key_prefix)) == key_prefix)
    return list(query.order_by(Label.id))


def get_manifest_label(tag_manifest_id: int, label_uuid: str, digest: Optional[str] = None,
                       tag_id: Optional[int] = None) -> Optional[Label]:
    """The manifest's label with that uuid, or None (also for a malformed uuid): one query."""
    if not validation.is_valid_uuid(label_uuid):
        return None
    return (_labels_of(tag_manifest_id, digest, tag_id).where(Label.uuid == label_uuid)
            .get_or_none())


def delete_manifest_label(tag_manifest_id: int, label_uuid: str, digest: Optional[str] = None,
                          tag_id: Optional[int] = None) -> Optional[Label]:
    """Delete the manifest's label with that uuid and return it, or None if absent.

    ImmutableLabelException for a label of an immutable source type (such as
    ``manifest``). Three statements, one transaction.
    """
    if not validation.is_valid_uuid(label_uuid):
        return None
    with transaction():
        label = get_manifest_label(tag_manifest_id, label_uuid, digest, tag_id)
        if label is None:
            return None
        if not lookup.is_mutable_source_type(label.source_type_id):
            raise errors.ImmutableLabelException(
                "label %s comes from source %r and cannot be deleted"
                % (label_uuid, lookup.source_type_name(label.source_type_id)))
        unlinked = (TagManifestLabel.delete()
                    .where(TagManifestLabel.label == label.id,
                           TagManifestLabel.annotated == tag_manifest_id).execute())
        if not unlinked:
            return None
        Label.delete().where(Label.id == label.id).execute()
    return label


def create_manifest_labels(tag_manifest_id: int, repository_id: int, labels: list) -> list:
    """Create many labels on a manifest in the caller's transaction: three statements.

    ``labels`` holds ``(key, value, source_type_name, media_type_name or None)``;
    all are checked before anything is written. Returns the Label rows in order.
    """
    prepared = []
    for key, value, source_type_name, media_type_name in labels:
        source_type_id = lookup.source_type_id(source_type_name)
        validation.check_label_key(key,
                                   validate_format=source_type_name != MANIFEST_SOURCE_TYPE)
        validation.check_label_value(value)
        prepared.append(Label(uuid=str(uuid.uuid4()), key=key, value=value,
                              source_type=source_type_id,
                              media_type=lookup.media_type_id(media_type_name
                                                              or infer_media_type(value))))
    if not prepared:
        return []
    Label.insert_many([{"uuid": row.uuid, "key": row.key, "value": row.value,
                        "source_type": row.source_type_id, "media_type": row.media_type_id}
                       for row in prepared]).execute()
    ids = dict(Label.select(Label.uuid, Label.id)
               .where(Label.uuid.in_([row.uuid for row in prepared])).tuples())
    for row in prepared:
        row.id = ids[row.uuid]
    TagManifestLabel.insert_many([{"repository": repository_id, "annotated": tag_manifest_id,
                                   "label": row.id} for row in prepared]).execute()
    return prepared
