"""Input rules shared by every layer: names, digests, label keys and values, sizes, counts.

Each rule comes as a predicate (``is_valid_*``) for read paths, which answer
"not found" to input that cannot exist, and a ``check_*`` twin for write paths,
which raise the matching :mod:`registry_model.errors` exception before any SQL
runs, so bad input never reaches the database.
"""
import re
import uuid
from typing import Optional

from registry_model import errors

MAX_NAME_LENGTH = 255
MAX_TAG_LENGTH = 128
MAX_LABEL_KEY_LENGTH = 255

# Size limits, in bytes of UTF-8, the same on every backend. MariaDB drops the
# connection for a statement over its max_allowed_packet (16 MiB by default), and a
# push writes a manifest's text about twice in one statement (its V1 JSON and the
# comment and command taken from it), which the driver may escape to twice the size
# again. 4 MiB is what Docker distribution accepts and what the OCI distribution
# spec asks every registry to support; a label is metadata, not content.
MAX_LABEL_VALUE_BYTES = 64 * 1024
MAX_MANIFEST_BYTES = 4 * 1024 * 1024

# Docker distribution's path-component grammar (reference/regexp.go). The
# patterns are applied with fullmatch: their "$" alone also matches before a
# trailing newline, which would let "latest\n" through. Distribution writes the
# dash separator as [-]*; an empty separator lets Python's backtracking split a
# run of letters every possible way (a 30-character name ending in "-" took a
# minute), so it is -+ here, which matches the same names.
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$", re.ASCII)
_TAG = re.compile(r"^[\w][\w.-]{0,127}$", re.ASCII)
_DOCKER_IMAGE_ID = re.compile(r"^[a-f0-9]{64}$", re.ASCII)
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$", re.ASCII)
# The registered algorithms' encodings: lowercase hex of a fixed length (one regex each:
# a check per character in Python cost more than the statement on SQLite).
_HEX_DIGESTS = {"sha256": re.compile("[0-9a-f]{64}"), "sha512": re.compile("[0-9a-f]{128}")}
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                             re.ASCII)
_LABEL_KEY = re.compile(r"^[a-z0-9](([a-z0-9]|[-.](?![.-]))*[a-z0-9])?$", re.ASCII)


def _is_text(value: object, max_length: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= max_length


def is_valid_namespace_name(name: object) -> bool:
    """True when ``name`` is a lowercase path component of at most 255 characters."""
    return _is_text(name, MAX_NAME_LENGTH) and bool(_COMPONENT.fullmatch(name))


is_valid_repository_name = is_valid_namespace_name


def is_valid_tag_name(name: object) -> bool:
    """True when ``name`` follows Docker's tag grammar (``[\\w][\\w.-]{0,127}``)."""
    return _is_text(name, MAX_TAG_LENGTH) and bool(_TAG.fullmatch(name))


def is_valid_docker_image_id(image_id: object) -> bool:
    """True when ``image_id`` is a V1 image id: 64 lowercase hexadecimal characters."""
    return isinstance(image_id, str) and bool(_DOCKER_IMAGE_ID.fullmatch(image_id))


def is_valid_digest(digest: object) -> bool:
    """True for an OCI digest (``algorithm:encoded``); sha256/sha512 must be full hex."""
    if not _is_text(digest, MAX_NAME_LENGTH) or not _DIGEST.fullmatch(digest):
        return False
    algorithm, encoded = digest.split(":", 1)
    hex_digest = _HEX_DIGESTS.get(algorithm)
    return hex_digest is None or hex_digest.fullmatch(encoded) is not None


def is_valid_uuid(value: object) -> bool:
    """True when ``value`` is a string holding a UUID in any standard spelling."""
    if not isinstance(value, str):
        return False
    if _CANONICAL_UUID.fullmatch(value):
        return True  # the spelling uuid4() gives: a third of the cost of parsing it
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def is_valid_label_key(key: object) -> bool:
    """True when ``key`` follows the label-key rules of user-written (api/internal) labels."""
    return _is_text(key, MAX_LABEL_KEY_LENGTH) and bool(_LABEL_KEY.fullmatch(key))


def _check(ok: bool, exception: type, message: str) -> None:
    if not ok:
        raise exception(message)


# What each rule asks, as its error messages say it.
NAME_RULE = ("1 to %d lowercase letters and digits, separated by single '.', '_', '__' or "
             "runs of '-'" % MAX_NAME_LENGTH)
TAG_RULE = ("1 to %d letters, digits, '_', '.' or '-', not starting with '.' or '-'"
            % MAX_TAG_LENGTH)
DOCKER_IMAGE_ID_RULE = "64 lowercase hexadecimal digits"
DIGEST_RULE = "algorithm:encoded, e.g. sha256: and 64 lowercase hexadecimal digits"


def check_namespace_name(name: object) -> None:
    """Raise InvalidNameException unless ``name`` is a valid namespace name."""
    _check(is_valid_namespace_name(name), errors.InvalidNameException,
           "invalid namespace name %r: must be %s" % (name, NAME_RULE))


def check_repository_name(name: object) -> None:
    """Raise InvalidNameException unless ``name`` is a valid repository name."""
    _check(is_valid_repository_name(name), errors.InvalidNameException,
           "invalid repository name %r: must be %s" % (name, NAME_RULE))


def check_tag_name(name: object) -> None:
    """Raise InvalidNameException unless ``name`` is a valid tag name."""
    _check(is_valid_tag_name(name), errors.InvalidNameException,
           "invalid tag name %r: must be %s" % (name, TAG_RULE))


def check_docker_image_id(image_id: object) -> None:
    """Raise InvalidNameException unless ``image_id`` is 64 lowercase hex characters."""
    _check(is_valid_docker_image_id(image_id), errors.InvalidNameException,
           "invalid docker image id %r: must be %s" % (image_id, DOCKER_IMAGE_ID_RULE))


def check_digest(digest: object) -> None:
    """Raise InvalidDigestException unless ``digest`` is a well-formed digest."""
    _check(is_valid_digest(digest), errors.InvalidDigestException,
           "invalid digest %r: must be %s" % (digest, DIGEST_RULE))


def check_label_key(key: object, validate_format: bool = True) -> None:
    """Raise InvalidLabelKeyException for a bad key.

    Keys from image builders (``validate_format=False``) are stored as written,
    but every key must still be non-empty text of at most 255 characters
    without NUL, which no backend can store.
    """
    if not _is_text(key, MAX_LABEL_KEY_LENGTH) or "\x00" in key:
        raise errors.InvalidLabelKeyException(
            "label key must be 1 to %d characters: %r" % (MAX_LABEL_KEY_LENGTH, key))
    if validate_format and not _LABEL_KEY.fullmatch(key):
        raise errors.InvalidLabelKeyException(
            "label key must be lowercase letters and digits, with single '.' or '-' "
            "between them: %r" % (key,))


def utf8_size(text: str) -> int | None:
    """The length of ``text`` in UTF-8, or None when it holds a lone surrogate (not UTF-8)."""
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return None


def check_label_value(value: object) -> None:
    """Raise InvalidLabelValueException unless ``value`` is storable text.

    That is UTF-8-encodable text without NUL; LabelValueTooLargeException (a
    subclass) when it is longer than MAX_LABEL_VALUE_BYTES in UTF-8.
    """
    size = utf8_size(value) if isinstance(value, str) else None
    if size is None or "\x00" in value:
        raise errors.InvalidLabelValueException(
            "label value must be UTF-8 text without NUL: %r" % (value,))
    if size > MAX_LABEL_VALUE_BYTES:
        raise errors.LabelValueTooLargeException(
            "label value is %d bytes in UTF-8; at most %d are stored"
            % (size, MAX_LABEL_VALUE_BYTES))


def check_manifest_size(size: int) -> None:
    """Raise ManifestTooLargeException for a manifest of more than MAX_MANIFEST_BYTES."""
    if size > MAX_MANIFEST_BYTES:
        raise errors.ManifestTooLargeException(
            "manifest is %d bytes; at most %d are stored" % (size, MAX_MANIFEST_BYTES))


def check_count(name: str, value: object, minimum: int, maximum: Optional[int] = None) -> int:
    """``value`` if it is an integer from ``minimum`` (to ``maximum``), else DataModelException.

    For counts, limits, offsets and times given to a query: a negative LIMIT or OFFSET is a
    driver error on PostgreSQL (aborting the caller's transaction) and MySQL, and means "no
    limit" on SQLite, so it is refused before any SQL runs. A bool is not a count.
    """
    if (not isinstance(value, int) or isinstance(value, bool) or value < minimum
            or (maximum is not None and value > maximum)):
        bounds = ("from %d to %d" % (minimum, maximum) if maximum is not None
                  else "of at least %d" % minimum)
        raise errors.DataModelException("%s must be an integer %s, not %r" % (name, bounds, value))
    return value


def tag_name_list(tag_names: object) -> list:
    """``tag_names`` as a list, or TypeError when it is a single string (or not iterable).

    ``find_matching_tag(ref, "latest")`` would otherwise look for the tags ``l``, ``a``, ...
    """
    if isinstance(tag_names, (str, bytes)):
        raise TypeError("tag_names must be a list of tag names, not the string %r; "
                        "pass [%r]" % (tag_names, tag_names))
    try:
        return list(tag_names)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError("tag_names must be a list of tag names, not %r" % (tag_names,)) from None
