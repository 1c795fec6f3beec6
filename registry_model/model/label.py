"""Label rows every wing shares: media type inference, checks, and creating many at once.

A wing links labels to its manifests in its own table (the pre-OCI wing's
TagManifestLabel, the OCI wing's ManifestLabel); the Label rows, their rules and
how many are written in one go live here. Keys of source type ``manifest`` come
from image builders and are stored as written; others follow
:func:`registry_model.validation.check_label_key`.
"""
import json
import re
import uuid
from typing import Optional

from registry_model import errors, validation
from registry_model.model import lookup
from registry_model.model.tables import Label

MANIFEST_SOURCE_TYPE = "manifest"

# A label that changes its manifest's tags: ``quay.expires-after`` = ``90m``, ``12h``,
# ``2d``, ``3w`` sets each alive tag's end that long after its start. Each wing applies it
# to its own tags; a value that does not parse is kept as a plain label.
EXPIRES_AFTER_KEY = "quay.expires-after"
_DURATION = re.compile(r"^([1-9][0-9]{0,8})([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: str) -> Optional[int]:
    """Seconds in a duration like ``90m`` or ``3w``, or None when it does not parse."""
    match = _DURATION.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def infer_media_type(value: str) -> str:
    """``application/json`` for a JSON object or array, ``text/plain`` for anything else."""
    try:
        parsed = json.loads(value)
    except ValueError:
        return "text/plain"
    return "application/json" if isinstance(parsed, (dict, list)) else "text/plain"


def check_label(key: object, value: object, source_type_name: str,
                media_type_name: object = None) -> tuple:
    """Raise what writing the label would, before any write; its ``(source, media)`` type ids.

    UnknownLabelSourceTypeException, InvalidLabelKeyException (keys of source
    ``manifest`` excepted), InvalidLabelValueException / LabelValueTooLargeException,
    InvalidMediaTypeException. The media type is inferred from the value when None.
    """
    source_type_id = lookup.source_type_id(source_type_name)
    validation.check_label_key(key, validate_format=source_type_name != MANIFEST_SOURCE_TYPE)
    validation.check_label_value(value)
    media_type_id = lookup.media_type_id(media_type_name or infer_media_type(value))
    return source_type_id, media_type_id


def check_deletable(label) -> None:
    """ImmutableLabelException when the label row's source type is immutable (``manifest``)."""
    if not lookup.is_mutable_source_type(label.source_type_id):
        raise errors.ImmutableLabelException(
            "label %s comes from source %r and cannot be deleted"
            % (label.uuid, lookup.source_type_name(label.source_type_id)))


def check_labels(labels: list) -> None:
    """:func:`check_label` for each ``(key, value, source_type_name, media_type_name)``."""
    for key, value, source_type_name, media_type_name in labels:
        check_label(key, value, source_type_name, media_type_name)


def insert_labels(labels: list) -> list:
    """Create Label rows for ``(key, value, source, media type or None)``: two statements.

    Every label is checked before anything is written; the rows come back in order with
    their ids, for the wing to link them in one more statement. None for no labels.
    """
    check_labels(labels)
    prepared = []
    for key, value, source_type_name, media_type_name in labels:
        source_type_id, media_type_id = check_label(key, value, source_type_name,
                                                    media_type_name)
        prepared.append(Label(uuid=str(uuid.uuid4()), key=key, value=value,
                              source_type=source_type_id, media_type=media_type_id))
    if not prepared:
        return []
    Label.insert_many([{"uuid": row.uuid, "key": row.key, "value": row.value,
                        "source_type": row.source_type_id, "media_type": row.media_type_id}
                       for row in prepared]).execute()
    ids = dict(Label.select(Label.uuid, Label.id)
               .where(Label.uuid.in_([row.uuid for row in prepared])).tuples())
    for row in prepared:
        row.id = ids[row.uuid]
    return prepared
