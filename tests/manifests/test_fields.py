"""Typed JSON field readers: Go's encoding/json types, the field's path in every error."""
import pytest

from registry_model import errors, validation
from registry_model.manifests import fields
from registry_model.manifests.errors import (
    ManifestException,
    ManifestFieldException,
    OversizedManifestException,
)


def test_paths_join_keys_and_indexes():
    assert fields.path("", "mediaType") == "mediaType"
    assert fields.path("layers", 2) == "layers[2]"
    assert fields.path("layers[2]", "digest") == "layers[2].digest"


@pytest.mark.parametrize("value", [True, 1.0, "1", -1, 2 ** 63, None])
def test_a_size_is_a_non_negative_int64(value):
    with pytest.raises(ManifestFieldException, match=r"^config\.size: ") as raised:
        fields.read_size({"size": value}, "size", "config.size")
    assert raised.value.field == "config.size"


@pytest.mark.parametrize("value", [0, 1, 2 ** 63 - 1])
def test_sizes_in_range_are_read(value):
    assert fields.read_size({"size": value}, "size", "size") == value


def test_a_missing_required_field_is_named():
    with pytest.raises(ManifestFieldException, match=r"^layers\[0\]\.size: is required$"):
        fields.read_size({}, "size", "layers[0].size")


@pytest.mark.parametrize("value", ["application", "application/", "/json", "a/b c",
                                   "application/json; charset=utf-8", "a/" + "b" * 128, 7])
def test_media_types_follow_rfc_6838(value):
    with pytest.raises(ManifestFieldException, match="^mediaType: "):
        fields.read_media_type({"mediaType": value}, "mediaType", "mediaType")


def test_media_types_may_use_the_rfc_6838_punctuation():
    value = "application/vnd.example+type.v1_x-y!#$&^"
    assert fields.read_media_type({"m": value}, "m", "m") == value


def test_annotations_are_a_read_only_map_of_strings():
    annotations = fields.read_annotations({"a": {"k": "v"}}, "a", "annotations")
    assert dict(annotations) == {"k": "v"}
    with pytest.raises(TypeError):
        annotations["k"] = "w"
    assert dict(fields.read_annotations({}, "a", "annotations")) == {}
    with pytest.raises(ManifestFieldException, match=r"^annotations\['k'\]: is an integer"):
        fields.read_annotations({"a": {"k": 1}}, "a", "annotations")


def test_string_lists_name_the_bad_entry():
    assert fields.read_string_list({"urls": ["a", "b"]}, "urls", "urls") == ("a", "b")
    with pytest.raises(ManifestFieldException, match=r"^layers\[1\]\.urls\[1\]: is null"):
        fields.read_string_list({"urls": ["a", None]}, "urls", "layers[1].urls")


def test_the_size_limit_is_the_stored_manifest_limit():
    fields.check_size_limit(b" " * validation.MAX_MANIFEST_BYTES)
    with pytest.raises(OversizedManifestException, match="at most %d" %
                       validation.MAX_MANIFEST_BYTES) as raised:
        fields.check_size_limit(b" " * (validation.MAX_MANIFEST_BYTES + 1))
    # Callers catching either the parser's or the model's exception see it.
    assert isinstance(raised.value, ManifestException)
    assert isinstance(raised.value, errors.ManifestTooLargeException)


@pytest.mark.parametrize("document", [b"[]", b'"text"', b"2", b"null"])
def test_a_document_must_be_a_json_object(document):
    with pytest.raises(ManifestException, match="not a JSON object"):
        fields.load_document(document)


def test_manifest_bytes_must_be_bytes():
    with pytest.raises(ManifestException, match="must be bytes, not str"):
        fields.load_document("{}")
