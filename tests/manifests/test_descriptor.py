"""Descriptors and platforms: required fields, optional ones, foreign layers, errors by path."""
import base64

import pytest

from registry_model.manifests.descriptor import (
    Platform,
    parse_descriptor,
    parse_descriptor_list,
    parse_platform,
)
from registry_model.manifests.errors import InvalidDigestException, ManifestFieldException
from registry_model.media_types import (
    DOCKER_SCHEMA2_FOREIGN_LAYER_CONTENT_TYPE,
    DOCKER_SCHEMA2_LAYER_CONTENT_TYPE,
    OCI_LAYER_GZIP_CONTENT_TYPE,
    OCI_LAYER_GZIP_ENCRYPTED_CONTENT_TYPE,
    OCI_NONDISTRIBUTABLE_LAYER_CONTENT_TYPE,
)

from .documents import FOREIGN_URL, LAYER_A, LAYER_B, descriptor


def test_a_full_descriptor_is_read_field_by_field():
    value = descriptor(OCI_LAYER_GZIP_CONTENT_TYPE, LAYER_B, 3, urls=["https://a/b"],
                       annotations={"k": "v"}, artifactType="application/x-thing",
                       data=base64.b64encode(b"abc").decode(),
                       platform={"architecture": "arm", "os": "linux", "variant": "v7"})

    parsed = parse_descriptor(value, "layers[0]")

    assert (parsed.media_type, parsed.digest, parsed.size) == (
        OCI_LAYER_GZIP_CONTENT_TYPE, LAYER_B, 3)
    assert parsed.urls == ("https://a/b",)
    assert dict(parsed.annotations) == {"k": "v"}
    assert parsed.artifact_type == "application/x-thing"
    assert parsed.data == b"abc"
    assert parsed.platform == Platform("arm", "linux", variant="v7")
    assert not parsed.is_foreign and not parsed.is_encrypted and not parsed.fetched_from_urls


def test_a_minimal_descriptor_has_empty_optional_fields():
    parsed = parse_descriptor(descriptor(OCI_LAYER_GZIP_CONTENT_TYPE, LAYER_A, 0), "config")

    assert (parsed.urls, dict(parsed.annotations), parsed.artifact_type, parsed.platform,
            parsed.data) == ((), {}, None, None, None)


@pytest.mark.parametrize("media_type, urls, foreign, from_urls", [
    (DOCKER_SCHEMA2_FOREIGN_LAYER_CONTENT_TYPE, [FOREIGN_URL], True, True),
    (DOCKER_SCHEMA2_FOREIGN_LAYER_CONTENT_TYPE, None, True, False),
    (OCI_NONDISTRIBUTABLE_LAYER_CONTENT_TYPE, [FOREIGN_URL], True, True),
    (DOCKER_SCHEMA2_LAYER_CONTENT_TYPE, [FOREIGN_URL], False, False),
])
def test_only_foreign_layers_with_urls_are_fetched_from_urls(media_type, urls, foreign,
                                                             from_urls):
    extra = {} if urls is None else {"urls": urls}
    parsed = parse_descriptor(descriptor(media_type, LAYER_A, 1, **extra), "layers[0]")

    assert (parsed.is_foreign, parsed.fetched_from_urls) == (foreign, from_urls)


def test_encrypted_layers_are_recognised():
    parsed = parse_descriptor(descriptor(OCI_LAYER_GZIP_ENCRYPTED_CONTENT_TYPE, LAYER_A, 1),
                              "layers[0]")
    assert parsed.is_encrypted


@pytest.mark.parametrize("key", ["mediaType", "digest", "size"])
def test_each_required_field_is_named_when_missing(key):
    value = descriptor(OCI_LAYER_GZIP_CONTENT_TYPE, LAYER_A, 1)
    del value[key]

    with pytest.raises(ManifestFieldException, match=rf"^layers\[3\]\.{key}: is required$"):
        parse_descriptor(value, "layers[3]")


@pytest.mark.parametrize("key, value, error", [
    ("mediaType", 5, ManifestFieldException),
    ("mediaType", "not a media type", ManifestFieldException),
    ("digest", "sha256:abc", InvalidDigestException),
    ("digest", None, ManifestFieldException),
    ("size", -1, ManifestFieldException),
    ("size", "1", ManifestFieldException),
    ("urls", "https://a/b", ManifestFieldException),
    ("urls", [1], ManifestFieldException),
    ("annotations", ["k", "v"], ManifestFieldException),
    ("annotations", {"k": None}, ManifestFieldException),
    ("artifactType", "nope", ManifestFieldException),
    ("data", "not base64!", ManifestFieldException),
    ("data", base64.b64encode(b"ab").decode(), ManifestFieldException),  # size is 1
    ("platform", None, ManifestFieldException),
    ("platform", {"os": "linux"}, ManifestFieldException),
    ("platform", {"architecture": "amd64", "os": "linux", "os.features": "x"},
     ManifestFieldException),
])
def test_a_bad_field_is_refused_by_its_path(key, value, error):
    document = dict(descriptor(OCI_LAYER_GZIP_CONTENT_TYPE, LAYER_A, 1), **{key: value})

    with pytest.raises(error) as raised:
        parse_descriptor(document, "manifests[1]")
    assert raised.value.field.startswith(f"manifests[1].{key}")


def test_the_allowed_media_types_of_a_format_are_enforced():
    value = descriptor(OCI_LAYER_GZIP_CONTENT_TYPE, LAYER_A, 1)
    with pytest.raises(ManifestFieldException, match=r"^layers\[0\]\.mediaType: .* not one of"):
        parse_descriptor(value, "layers[0]",
                         allowed_media_types=frozenset({DOCKER_SCHEMA2_LAYER_CONTENT_TYPE}))


def test_a_required_platform_must_be_there():
    value = descriptor(OCI_LAYER_GZIP_CONTENT_TYPE, LAYER_A, 1)
    with pytest.raises(ManifestFieldException, match=r"^manifests\[0\]\.platform: is required"):
        parse_descriptor(value, "manifests[0]", platform_required=True)


def test_a_platform_reads_every_field():
    platform = parse_platform({"architecture": "amd64", "os": "windows",
                               "os.version": "10.0.17763.1", "os.features": ["win32k"],
                               "variant": "v3", "features": ["sse4"]}, "p")

    assert platform == Platform("amd64", "windows", "10.0.17763.1", ("win32k",), "v3",
                                ("sse4",))


def test_descriptor_lists_name_each_entry_by_index():
    document = {"layers": [descriptor(OCI_LAYER_GZIP_CONTENT_TYPE, LAYER_A, 1), "x"]}

    with pytest.raises(ManifestFieldException, match=r"^layers\[1\]: is a string"):
        parse_descriptor_list(document, "layers")
    with pytest.raises(ManifestFieldException, match=r"^layers: is required"):
        parse_descriptor_list({}, "layers")
    with pytest.raises(ManifestFieldException, match=r"^layers: is an object"):
        parse_descriptor_list({"layers": {}}, "layers")


def test_descriptors_are_immutable():
    parsed = parse_descriptor(descriptor(OCI_LAYER_GZIP_CONTENT_TYPE, LAYER_A, 1,
                                         annotations={"k": "v"}), "config")
    with pytest.raises(AttributeError):
        parsed.size = 2
    with pytest.raises(TypeError):
        parsed.annotations["k"] = "w"


def test_equal_descriptors_hash_alike():
    value = descriptor(OCI_LAYER_GZIP_CONTENT_TYPE, LAYER_A, 1, annotations={"k": "v"})
    first, second = parse_descriptor(value, "a"), parse_descriptor(dict(value), "b")

    assert first == second and len({first, second}) == 1
    assert parse_descriptor(dict(value, annotations={"k": "w"}), "c") != first
