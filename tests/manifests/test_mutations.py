"""Specification of refusing malformed schema 1 manifests: every failure is a ManifestException.

Truncations, bytes that are not UTF-8 JSON, deep nesting, NaN, and each field of a built manifest
replaced by a value of the wrong type, with and without signature validation.
"""
import json

import pytest

from registry_model.manifests import (
    ManifestException,
    parse_manifest_from_bytes,
)
from registry_model.manifests.jws import b64url_encode

from . import (
    BASE_DIGEST,
    SIGNED,
    UNSIGNED,
    signature_entries,
    three_layer_builder,
    v1,
    with_signatures,
)


def unsigned_document() -> bytes:
    content = json.loads(three_layer_builder().build().bytes)
    return json.dumps(content, indent=3).encode()


# --- malformed input -----------------------------------------------------------------------


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
def test_every_truncation_of_a_manifest_is_refused(ec_key, signed):
    document = three_layer_builder().build(ec_key if signed else None).bytes

    for length in range(len(document)):
        for validate in (True, False):
            with pytest.raises(ManifestException):
                parse_manifest_from_bytes(document[:length], SIGNED if signed else UNSIGNED,
                                          validate=validate)


@pytest.mark.parametrize("document", [
    b'{"schemaVersion": 1, "name": "a\xff", "tag": "t"}',
    b"\xef\xbb\xbf" + unsigned_document(),  # UTF-8 byte order mark
    unsigned_document().decode().encode("utf-16"),
    unsigned_document().decode().encode("utf-32-le"),
    b"\x80\x81\x82",
], ids=["invalid-byte", "utf8-bom", "utf16", "utf32", "binary"])
def test_bytes_that_are_not_utf8_json_are_refused(document):
    for media_type in (SIGNED, UNSIGNED):
        with pytest.raises(ManifestException):
            parse_manifest_from_bytes(document, media_type)


@pytest.mark.parametrize("where", ["document", "value", "v1Compatibility", "protected"])
def test_deeply_nested_json_is_a_manifest_exception_not_a_recursion_error(where, ec_key):
    deep = "[" * 100000 + "]" * 100000
    if where == "document":
        document = deep.encode()
    elif where == "value":
        document = b'{"schemaVersion": 1, "x": ' + deep.encode() + b"}"
    elif where == "v1Compatibility":
        document = json.dumps({"schemaVersion": 1, "name": "a/b", "tag": "c",
                               "fsLayers": [{"blobSum": BASE_DIGEST}],
                               "history": [{"v1Compatibility": deep}]}).encode()
    else:
        payload = three_layer_builder().build().bytes
        entry = signature_entries(three_layer_builder().build(ec_key).bytes)[0]
        document = with_signatures(payload, [dict(entry, protected=b64url_encode(deep.encode()))])

    for validate in (True, False):
        with pytest.raises(ManifestException):
            parse_manifest_from_bytes(document, UNSIGNED if where != "protected" else SIGNED,
                                      validate=validate)


def test_nan_and_infinity_are_not_json():
    for constant in (b"NaN", b"Infinity", b"-Infinity"):
        document = unsigned_document().replace(b'"schemaVersion": 1', b'"schemaVersion": '
                                               + constant)
        with pytest.raises(ManifestException):
            parse_manifest_from_bytes(document, UNSIGNED)


def _history(v1_compatibility) -> dict:
    return {"history": [{"v1Compatibility": v1_compatibility}] * 3}


def _signature(header=None, **protected) -> dict:
    entry = {"header": {"alg": "ES256"} if header is None else header, "signature": "AA",
             "protected": b64url_encode(json.dumps(protected).encode())}
    return {"signatures": [entry]}


WRONG_FIELDS = {
    "top-level-array": [1],
    "schema-version-string": {"schemaVersion": "1"},
    "schema-version-bool": {"schemaVersion": True},
    "schema-version-float": {"schemaVersion": 1.0},
    "schema-version-2": {"schemaVersion": 2},
    "schema-version-missing": {"schemaVersion": None},
    "name-number": {"name": 5},
    "name-empty": {"name": ""},
    "tag-missing": {"tag": None},
    "tag-list": {"tag": ["latest"]},
    "architecture-number": {"architecture": 64},
    "fslayers-object": {"fsLayers": {"blobSum": BASE_DIGEST}},
    "fslayers-empty": {"fsLayers": [], "history": []},
    "fslayers-strings": {"fsLayers": [BASE_DIGEST] * 3},
    "blobsum-number": {"fsLayers": [{"blobSum": 5}] * 3},
    "blobsum-not-digest": {"fsLayers": [{"blobSum": "abc"}] * 3},
    "history-shorter": {"history": [{"v1Compatibility": v1("x")}]},
    "history-string": {"history": "x"},
    "v1-object-not-string": _history({"id": "x"}),
    "v1-not-json": _history("{id"),
    "v1-array": _history("[]"),
    "v1-id-number": _history('{"id": 5}'),
    "v1-id-missing": _history("{}"),
    "v1-parent-number": _history(v1("x", 5)),
    "v1-created-number": _history(v1("x", created=1)),
    "v1-container-config-list": _history(v1("x", container_config=[])),
    "v1-cmd-number": _history(v1("x", container_config={"Cmd": 5})),
    "v1-cmd-mixed": _history(v1("x", container_config={"Cmd": ["a", 1]})),
    "v1-labels-number-value": _history(v1("x", config={"Labels": {"a": 1}})),
    "v1-labels-list": _history(v1("x", config={"Labels": ["a"]})),
    "signatures-number": {"signatures": 1},
    "signatures-string": {"signatures": "sig"},
    "signature-number": {"signatures": [1]},
    "signature-header-list": _signature([], formatLength=10, formatTail="Cn0"),
    "signature-protected-number": {"signatures": [{"header": {}, "protected": 5,
                                                   "signature": "AA"}]},
    "signature-protected-not-b64": {"signatures": [{"header": {}, "protected": "e30=!",
                                                    "signature": "AA"}]},
    "signature-protected-not-json": {"signatures": [{"header": {}, "protected": "bm9wZQ",
                                                     "signature": "AA"}]},
    "signature-value-missing": {"signatures": [{"header": {}, "protected": "e30"}]},
    "format-length-string": _signature(formatLength="10", formatTail="Cn0"),
    "format-length-negative": _signature(formatLength=-1, formatTail="Cn0"),
    "format-length-bool": _signature(formatLength=True, formatTail="Cn0"),
    "format-length-past-end": _signature(formatLength=10**6, formatTail="Cn0"),
    "format-tail-missing": _signature(formatLength=10),
    "format-tail-not-b64": _signature(formatLength=10, formatTail="Cn0="),
}


@pytest.mark.parametrize("changes", list(WRONG_FIELDS.values()), ids=list(WRONG_FIELDS))
def test_fields_of_the_wrong_type_are_refused(changes):
    if isinstance(changes, list):
        document = json.dumps(changes).encode()
    else:
        content = json.loads(three_layer_builder().build().bytes)
        content.update(changes)
        content = {key: value for key, value in content.items() if value is not None}
        document = json.dumps(content, indent=3).encode()

    for media_type in (SIGNED, UNSIGNED):
        for validate in (True, False):
            with pytest.raises(ManifestException):
                parse_manifest_from_bytes(document, media_type, validate=validate)


@pytest.mark.parametrize("manifest_bytes", ["{}", None, 5, ["a"]])
def test_manifest_bytes_must_be_bytes(manifest_bytes):
    with pytest.raises(ManifestException):
        parse_manifest_from_bytes(manifest_bytes, UNSIGNED)
