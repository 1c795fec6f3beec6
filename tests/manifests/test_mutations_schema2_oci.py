"""Specification of refusing malformed schema 2 and OCI documents, field by field.

Every location of a few full documents (built ones, and the corpus's "everything" fixtures) is
mutated in turn: deleted, replaced by a value of another JSON type, given a bad digest or size;
and every truncation is tried. A required field's loss, and any wrong type, must be refused
with a :class:`ManifestFieldException` naming exactly that location; an optional field's loss
or an unknown extra field must not be.
"""
import copy
import json
from pathlib import Path

import pytest

from registry_model.manifests import (
    InvalidDigestException,
    ManifestException,
    ManifestFieldException,
    parse_manifest_from_bytes,
)
from registry_model.media_types import (
    DOCKER_SCHEMA2_MANIFEST_CONTENT_TYPE,
    DOCKER_SCHEMA2_MANIFESTLIST_CONTENT_TYPE,
    OCI_EMPTY_CONTENT_TYPE,
)

from .documents import (
    docker_list_document,
    dumps,
    oci_index_document,
    oci_manifest_document,
    schema2_document,
)

CORPUS = Path(__file__).resolve().parent.parent / "data" / "manifests" / "valid"
CORPUS_DOCUMENTS = ["schema2/cimage-v2s2.everything.json",
                    "schema2-list/cimage-v2list.everything.json",
                    "oci-manifest/cimage-ociv1.everything.json",
                    "oci-manifest/regclient-0484e93c-sbom-artifact.json",
                    "oci-index/regclient-d69399e0-artifact-index.json",
                    "oci-index/regclient-7ceb9b6b.json"]
DOCUMENTS = [pytest.param(build(), id=build.__name__)
             for build in (schema2_document, oci_manifest_document, docker_list_document,
                           oci_index_document)]
DOCUMENTS += [pytest.param(json.loads((CORPUS / name).read_bytes()), id=name)
              for name in CORPUS_DOCUMENTS]
DESCRIPTOR_PARENTS = {"config", "subject", "layers", "manifests"}
SAMPLES = [None, True, 7, 1.5, "text", ["text"], {"key": "text"}]
BAD_DIGESTS = ["sha256:" + "A" * 64, "sha256:" + "a" * 63, "sha512:" + "a" * 64,
               "md5:" + "a" * 32, "a" * 64, "sha256:" + "a" * 64 + " "]
BAD_SIZES = [-1, 2 ** 63, 1.0, "1", True, None]


def json_kind(value):
    return "bool" if isinstance(value, bool) else type(value).__name__


def locations(value, location=()):
    """Every location (tuple of keys and indexes) inside ``value``, parents first."""
    items = value.items() if isinstance(value, dict) else (
        enumerate(value) if isinstance(value, list) else ())
    for key, child in items:
        yield location + (key,)
        yield from locations(child, location + (key,))


def field_path(location):
    """The path the parser names for ``location``: ``layers[0].digest``,
    ``annotations['k']``."""
    text = ""
    for index, key in enumerate(location):
        if isinstance(key, int):
            text += f"[{key}]"
        elif index and location[index - 1] == "annotations":
            text += f"[{key!r}]"
        else:
            text += f".{key}" if text else key
    return text


def is_descriptor(location):
    return (location in {("config",), ("subject",)}
            or (len(location) == 2 and location[0] in DESCRIPTOR_PARENTS
                and isinstance(location[1], int)))


def is_required(document, location):
    """The rule under test: which deletions must be refused."""
    *parent, last = location
    media_type = document.get("mediaType")
    if isinstance(last, int):
        return False
    if not parent:
        docker = media_type in (DOCKER_SCHEMA2_MANIFEST_CONTENT_TYPE,
                                DOCKER_SCHEMA2_MANIFESTLIST_CONTENT_TYPE)
        empty_config = document.get("config", {}).get("mediaType") == OCI_EMPTY_CONTENT_TYPE
        return (last in {"schemaVersion", "config", "layers", "manifests"}
                or (last == "mediaType" and docker)
                or (last == "artifactType" and empty_config))
    if is_descriptor(tuple(parent)):
        return (last in {"mediaType", "digest", "size"}
                or (last == "platform" and parent[0] == "manifests"
                    and media_type == DOCKER_SCHEMA2_MANIFESTLIST_CONTENT_TYPE))
    return parent[-1] == "platform" and last in {"architecture", "os"}


def replaced(document, location, value=None, delete=False):
    mutated = copy.deepcopy(document)
    parent = mutated
    for key in location[:-1]:
        parent = parent[key]
    if delete:
        del parent[location[-1]]
    else:
        parent[location[-1]] = value
    return mutated


def declared_type(document):
    """The media type an unmutated document is sent as."""
    if "mediaType" in document:
        return document["mediaType"]
    return ("application/vnd.oci.image.index.v1+json" if "manifests" in document
            else "application/vnd.oci.image.manifest.v1+json")


def parse(mutated, original, declared=True):
    media_type = declared_type(original) if declared else None
    return parse_manifest_from_bytes(dumps(mutated), media_type)


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_unmutated_documents_parse(document):
    assert parse(document, document).bytes == dumps(document)


@pytest.mark.parametrize("document", DOCUMENTS)
def test_deleting_a_field_is_refused_exactly_when_it_is_required(document):
    for location in locations(document):
        mutated = replaced(document, location, delete=True)
        if is_required(document, location):
            with pytest.raises(ManifestFieldException) as raised:
                parse(mutated, document)
            assert raised.value.field == field_path(location), location
        else:
            parse(mutated, document)


@pytest.mark.parametrize("document", DOCUMENTS)
def test_a_value_of_another_json_type_is_refused_at_its_location(document):
    for location in locations(document):
        original = _value_at(document, location)
        for sample in SAMPLES:
            if json_kind(sample) == json_kind(original):
                continue
            mutated = replaced(document, location, sample)
            with pytest.raises(ManifestFieldException) as raised:
                parse(mutated, document)
            assert raised.value.field == field_path(location), (location, sample)
            with pytest.raises(ManifestException):
                parse(mutated, document, declared=False)


def _value_at(document, location):
    value = document
    for key in location:
        value = value[key]
    return value


@pytest.mark.parametrize("document", DOCUMENTS)
def test_bad_digests_and_sizes_are_refused_at_their_location(document):
    found = 0
    for location in locations(document):
        bad_values = {"digest": BAD_DIGESTS, "size": BAD_SIZES}.get(location[-1], ())
        if not is_descriptor(location[:-1]):
            continue
        for bad in bad_values:
            found += 1
            error = InvalidDigestException if location[-1] == "digest" else ManifestFieldException
            with pytest.raises(error) as raised:
                parse(replaced(document, location, bad), document)
            assert raised.value.field == field_path(location), (location, bad)
    assert found


@pytest.mark.parametrize("document", DOCUMENTS)
def test_unknown_fields_are_ignored_everywhere(document):
    for location in [()] + list(locations(document)):
        value = _value_at(document, location)
        if not isinstance(value, dict) or location[-1:] == ("annotations",):
            continue
        mutated = copy.deepcopy(document)
        _value_at(mutated, location)["x-unknown"] = {"nested": [1, 2]}
        assert parse(mutated, document).bytes == dumps(mutated)


@pytest.mark.parametrize("document", DOCUMENTS)
@pytest.mark.parametrize("compact", [False, True], ids=["indented", "compact"])
def test_every_truncation_is_refused(document, compact):
    data = (json.dumps(document, separators=(",", ":")).encode() if compact
            else dumps(document))
    media_type = declared_type(document)
    for length in range(len(data)):
        for declared in (media_type, None):
            with pytest.raises(ManifestException):
                parse_manifest_from_bytes(data[:length], declared)


@pytest.mark.parametrize("media_type", [None, "application/vnd.oci.image.manifest.v1+json",
                                        "application/vnd.oci.image.index.v1+json",
                                        DOCKER_SCHEMA2_MANIFEST_CONTENT_TYPE,
                                        DOCKER_SCHEMA2_MANIFESTLIST_CONTENT_TYPE])
@pytest.mark.parametrize("data", [
    b"[" * 100000 + b"]" * 100000,
    b'{"schemaVersion": 2, "annotations": ' + b"[" * 100000 + b"]" * 100000 + b"}",
    b"\xef\xbb\xbf" + dumps(oci_manifest_document()),
    dumps(oci_manifest_document()).decode().encode("utf-16"),
    dumps(oci_manifest_document()).replace(b"1500", b"NaN"),
    dumps(oci_manifest_document()).replace(b"1500", b"Infinity"),
    b"\x80\x81",
    b"",
], ids=["deep", "deep-value", "utf8-bom", "utf16", "nan", "infinity", "binary", "empty"])
def test_bytes_that_are_not_a_plain_json_manifest_are_refused(media_type, data):
    with pytest.raises(ManifestException):
        parse_manifest_from_bytes(data, media_type)
