"""Typed readers of JSON manifest fields that name the field they refuse.

Each reader takes the parent object and the path of the field (``layers[2].size``) and raises
:class:`ManifestFieldException` with that path when the field is missing, of the wrong JSON type
or malformed. Types follow Go's ``encoding/json``, which the specs' reference implementations
use: a size is an integer (``1.0`` and ``true`` are not), a media type a string.
"""
from __future__ import annotations

import re
from types import MappingProxyType
from typing import Any, Mapping

from registry_model import validation
from registry_model.manifests import jws
from registry_model.manifests.errors import (
    ManifestException,
    ManifestFieldException,
    OversizedManifestException,
)

MAX_SIZE = 2 ** 63 - 1  # int64, the type of every descriptor size
# RFC 6838 section 4.2: type "/" subtype, each a restricted-name of at most 127 characters.
_RESTRICTED_NAME = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
_MEDIA_TYPE = re.compile(rf"{_RESTRICTED_NAME}/{_RESTRICTED_NAME}", re.ASCII)
_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", int: "an integer",
               bool: "a boolean", float: "a number", type(None): "null"}
_MISSING = object()


def json_type(value: object) -> str:
    """The JSON name of ``value``'s type, for messages: ``an object``, ``a string``, ..."""
    return _JSON_TYPES.get(type(value), type(value).__name__)


def path(parent: str, key: str | int) -> str:
    """The path of ``key`` under ``parent``: ``config.digest``, ``layers[2]``, ``mediaType``."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def check_size_limit(manifest_bytes: object) -> bytes:
    """Return the manifest as ``bytes``; refuse other types and documents longer than
    ``validation.MAX_MANIFEST_BYTES`` (:class:`OversizedManifestException`)."""
    if not isinstance(manifest_bytes, (bytes, bytearray, memoryview)):
        raise ManifestException(
            f"manifest bytes must be bytes, not {type(manifest_bytes).__name__}")
    data = bytes(manifest_bytes)
    if len(data) > validation.MAX_MANIFEST_BYTES:
        raise OversizedManifestException("manifest is %d bytes; at most %d are stored"
                                         % (len(data), validation.MAX_MANIFEST_BYTES))
    return data


def load_document(manifest_bytes: object) -> dict:
    """Decode a manifest (within the size limit, strict UTF-8 JSON) that must be an object."""
    document = jws.load_json(check_size_limit(manifest_bytes), "manifest")
    if not isinstance(document, dict):
        raise ManifestException(f"manifest is {json_type(document)}, not a JSON object")
    return document


def _get(parent: Mapping, key: str, where: str, required: bool) -> Any:
    value = parent.get(key, _MISSING)
    if value is _MISSING and required:
        raise ManifestFieldException(where, "is required")
    return value


def _expect(value: object, kind: type, where: str) -> None:
    # bool is an int in Python, never in JSON.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ManifestFieldException(
            where, f"is {json_type(value)}, not {_JSON_TYPES[kind]}")


def read_object(parent: Mapping, key: str, where: str, required: bool = True) -> dict | None:
    """The JSON object at ``key``; None when optional and absent."""
    value = _get(parent, key, where, required)
    if value is _MISSING:
        return None
    _expect(value, dict, where)
    return value


def read_array(parent: Mapping, key: str, where: str, required: bool = True) -> list | None:
    """The JSON array at ``key``; None when optional and absent."""
    value = _get(parent, key, where, required)
    if value is _MISSING:
        return None
    _expect(value, list, where)
    return value


def read_string(parent: Mapping, key: str, where: str, required: bool = True) -> str | None:
    """The string at ``key``; None when optional and absent."""
    value = _get(parent, key, where, required)
    if value is _MISSING:
        return None
    _expect(value, str, where)
    return value


def read_size(parent: Mapping, key: str, where: str) -> int:
    """The required non-negative int64 at ``key`` (a descriptor's ``size``)."""
    value = _get(parent, key, where, required=True)
    _expect(value, int, where)
    if not 0 <= value <= MAX_SIZE:
        raise ManifestFieldException(where, f"{value} is not a size from 0 to 2^63-1")
    return value


def read_media_type(parent: Mapping, key: str, where: str,
                    required: bool = True) -> str | None:
    """The RFC 6838 media type (``type/subtype``, no parameters) at ``key``."""
    value = read_string(parent, key, where, required)
    if value is not None and not _MEDIA_TYPE.fullmatch(value):
        raise ManifestFieldException(where, f"{value[:150]!r} is not a media type (type/subtype)")
    return value


def read_string_list(parent: Mapping, key: str, where: str) -> tuple[str, ...] | None:
    """The optional array of strings at ``key``, as a tuple; None when absent."""
    values = read_array(parent, key, where, required=False)
    if values is None:
        return None
    for index, value in enumerate(values):
        _expect(value, str, path(where, index))
    return tuple(values)


def read_annotations(parent: Mapping, key: str, where: str) -> Mapping[str, str]:
    """The optional string-to-string map at ``key`` (``annotations``), read-only; empty when
    absent."""
    values = read_object(parent, key, where, required=False)
    if values is None:
        return MappingProxyType({})
    for name, value in values.items():
        _expect(value, str, f"{where}[{name!r}]")
    return MappingProxyType(dict(values))


def read_schema_version(document: Mapping) -> int:
    """The required integer ``schemaVersion`` (which value is allowed is the caller's rule)."""
    value = _get(document, "schemaVersion", "schemaVersion", required=True)
    _expect(value, int, "schemaVersion")
    return value
