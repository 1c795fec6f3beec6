"""Input rules of registry_model.validation: each predicate and its check_* twin.

Predicates answer False (read paths then say "not found") and check_* functions
raise the matching registry_model.errors exception (write paths then write
nothing). Every example here is a string a registry really receives, or a
near miss of one.
"""
import re
import uuid

import pytest

from registry_model import errors, validation

SHA256_HEX = "a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"
SHA512_HEX = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce" * 2


def _names(values):
    """``pytest.param``s with readable ids (repr shows NUL, tabs and non-ASCII)."""
    return [pytest.param(value, id=repr(value)[:60]) for value in values]


# Namespace and repository names: Docker distribution's path component.
VALID_COMPONENTS = [
    "devtable", "a", "0", "simple1", "a.b", "a_b", "a__b", "a-b", "a---b", "a.b_c-d",
    "x" * 255,
]
INVALID_COMPONENTS = [
    "", "A", "Devtable", "a..b", "a._b", "a___b", "_a", "a_", ".a", "a.", "-a", "a-",
    "a/b", "a b", " a", "a\n", "a\t", "a:b", "a%", "%", "_", "\\", "a'b", "ünïcode",
    "x" * 256, None, 7, b"devtable",
]

# Docker tag grammar: a word character, then up to 127 word characters, '.' or '-'.
VALID_TAGS = ["latest", "v1.0", "1", "_private", "A-b_C.d", "3.9-alpine", "t" * 128]
INVALID_TAGS = [
    "", ".hidden", "-dash", "t" * 129, "la test", "tag:1", "tag/1", "tag@sha", "ünï",
    "latest\n", "\nlatest", "lat\x00est", "%", "a'b", None, 3, b"latest",
]

VALID_IMAGE_IDS = [SHA256_HEX, "0" * 64, "f" * 64]
INVALID_IMAGE_IDS = [
    "", SHA256_HEX.upper(), SHA256_HEX[:-1], SHA256_HEX + "0", "g" * 64,
    "sha256:" + SHA256_HEX, SHA256_HEX + "\n", " " + SHA256_HEX, None, 64,
]

VALID_DIGESTS = [
    "sha256:" + SHA256_HEX,
    "sha512:" + SHA512_HEX,
    # Algorithms the registry does not know keep any encoding of the OCI grammar.
    "md5:abc",
    "tarsum.v1+sha256:" + SHA256_HEX,
    "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8",
]
INVALID_DIGESTS = [
    "", "sha256", "sha256:", ":" + SHA256_HEX, "md5", "sha256:xyz",
    "sha256:" + SHA256_HEX[:-1], "sha256:" + SHA256_HEX + "0", "sha256:" + SHA256_HEX.upper(),
    "SHA256:" + SHA256_HEX, "sha256:" + "g" * 64, "sha512:" + SHA256_HEX,
    "sha256:" + SHA256_HEX + "\n", " sha256:" + SHA256_HEX, "sha256 :" + SHA256_HEX,
    "md5:" + "a" * 300, "sha256:" + SHA256_HEX + "'; DROP TABLE tag_manifest; --",
    None, 256, b"sha256:" + SHA256_HEX.encode(),
]

# The label-key rule of DESIGN.md: ^[a-z0-9](([a-z0-9]|[-.](?![.-]))*[a-z0-9])?$, <= 255.
VALID_LABEL_KEYS = [
    "a", "0", "key", "com.example.key", "a-b", "a.b-c.d", "io.k8s.display-name",
    "a1.b2-c3", "k" * 255,
]
INVALID_LABEL_KEYS = [
    "", "Key", "KEY", "clé", "ключ", "k" * 256, ".a", "a.", "-a", "a-", ".", "-",
    "a..b", "a--b", "a.-b", "a-.b", "a b", " a", "a ", "a\tb", "a\nb", "a\n", "\na",
    "a/b", "a_b", "a:b", "a\x00b", None, 123, b"bytes",
]


@pytest.mark.parametrize("name", _names(VALID_COMPONENTS))
def test_namespace_and_repository_names_accept_path_components(name):
    assert validation.is_valid_namespace_name(name)
    assert validation.is_valid_repository_name(name)
    validation.check_namespace_name(name)
    validation.check_repository_name(name)


@pytest.mark.parametrize("name", _names(INVALID_COMPONENTS))
def test_namespace_and_repository_names_reject_other_text(name):
    assert not validation.is_valid_namespace_name(name)
    assert not validation.is_valid_repository_name(name)
    with pytest.raises(errors.InvalidNameException):
        validation.check_namespace_name(name)
    with pytest.raises(errors.InvalidNameException):
        validation.check_repository_name(name)


@pytest.mark.parametrize("name", _names(VALID_TAGS))
def test_tag_names_follow_docker_grammar(name):
    assert validation.is_valid_tag_name(name)
    validation.check_tag_name(name)


@pytest.mark.parametrize("name", _names(INVALID_TAGS))
def test_tag_names_reject_what_docker_rejects(name):
    assert not validation.is_valid_tag_name(name)
    with pytest.raises(errors.InvalidNameException):
        validation.check_tag_name(name)


@pytest.mark.parametrize("image_id", _names(VALID_IMAGE_IDS))
def test_docker_image_ids_are_64_lowercase_hex(image_id):
    assert validation.is_valid_docker_image_id(image_id)
    validation.check_docker_image_id(image_id)


@pytest.mark.parametrize("image_id", _names(INVALID_IMAGE_IDS))
def test_docker_image_ids_reject_near_misses(image_id):
    assert not validation.is_valid_docker_image_id(image_id)
    with pytest.raises(errors.InvalidNameException):
        validation.check_docker_image_id(image_id)


@pytest.mark.parametrize("digest", _names(VALID_DIGESTS))
def test_digests_accept_oci_digests(digest):
    assert validation.is_valid_digest(digest)
    validation.check_digest(digest)


@pytest.mark.parametrize("digest", _names(INVALID_DIGESTS))
def test_digests_reject_malformed_and_short_hex(digest):
    assert not validation.is_valid_digest(digest)
    with pytest.raises(errors.InvalidDigestException):
        validation.check_digest(digest)


@pytest.mark.parametrize("key", _names(VALID_LABEL_KEYS))
def test_label_keys_accept_the_design_rule(key):
    assert validation.is_valid_label_key(key)
    validation.check_label_key(key)
    validation.check_label_key(key, validate_format=False)


@pytest.mark.parametrize("key", _names(INVALID_LABEL_KEYS))
def test_label_keys_reject_what_the_design_rule_rejects(key):
    assert not validation.is_valid_label_key(key)
    with pytest.raises(errors.InvalidLabelKeyException):
        validation.check_label_key(key)


@pytest.mark.parametrize("key", _names([
    "Com.Example_Key", "has space", "ÜNÏCÖDÉ.ключ", "trailing.", "a..b", "🐳", "k" * 255]))
def test_manifest_label_keys_are_taken_as_written(key):
    # Image builders do not validate keys, so only storability is checked.
    validation.check_label_key(key, validate_format=False)


@pytest.mark.parametrize("key", _names(["", "k" * 256, "a\x00b", None, 5, b"key"]))
def test_manifest_label_keys_still_need_storable_text(key):
    with pytest.raises(errors.InvalidLabelKeyException):
        validation.check_label_key(key, validate_format=False)


LABEL_LIMIT = validation.MAX_LABEL_VALUE_BYTES


@pytest.mark.parametrize("value", _names(["", "text", '{"a": 1}', "ünïcode 🐳", "v" * LABEL_LIMIT,
                                          "🐳" * (LABEL_LIMIT // 4)]))
def test_label_values_accept_any_text_up_to_the_limit(value):
    validation.check_label_value(value)


@pytest.mark.parametrize("value", _names([None, 1, b"bytes", ["list"], "nul\x00inside",
                                          "lone \ud800 surrogate"]))
def test_label_values_reject_non_text_nul_and_what_is_not_utf8(value):
    with pytest.raises(errors.InvalidLabelValueException) as raised:
        validation.check_label_value(value)
    assert not isinstance(raised.value, errors.LabelValueTooLargeException)


@pytest.mark.parametrize("value", _names(["v" * (LABEL_LIMIT + 1),
                                          "🐳" * (LABEL_LIMIT // 4) + "v"]))
def test_label_values_past_the_limit_in_utf8_bytes_are_too_large(value):
    with pytest.raises(errors.LabelValueTooLargeException):
        validation.check_label_value(value)


def test_manifest_sizes_up_to_the_limit_pass_and_past_it_are_too_large():
    validation.check_manifest_size(validation.MAX_MANIFEST_BYTES)
    with pytest.raises(errors.ManifestTooLargeException):
        validation.check_manifest_size(validation.MAX_MANIFEST_BYTES + 1)


def test_uuids_accept_standard_spellings():
    value = uuid.uuid4()
    for spelling in (str(value), str(value).upper(), value.hex, "{%s}" % value):
        assert validation.is_valid_uuid(spelling), spelling


@pytest.mark.parametrize("value", _names([
    "", "not-a-uuid", str(uuid.UUID(int=1))[:-1], str(uuid.UUID(int=1)) + "0",
    " " + str(uuid.UUID(int=1)), str(uuid.UUID(int=1)) + "\n", "%", "'; DROP TABLE label; --",
    "\x00", None, 123,
    uuid.UUID(int=1)]))
def test_uuids_reject_malformed_and_non_text(value):
    assert not validation.is_valid_uuid(value)


@pytest.mark.parametrize("names", [["latest"], ("a", "b"), []])
def test_tag_name_list_takes_a_list_or_tuple_of_names(names):
    assert validation.tag_name_list(names) == list(names)


def test_tag_name_list_takes_a_generator_of_names():
    assert validation.tag_name_list(name for name in ("a", "b")) == ["a", "b"]


@pytest.mark.parametrize("names", ["latest", b"latest", None, 5])
def test_tag_name_list_refuses_a_string_or_a_non_iterable_with_type_error(names):
    with pytest.raises(TypeError, match="list of tag names"):
        validation.tag_name_list(names)


@pytest.mark.parametrize("check, bad, fragments", [
    (validation.check_namespace_name, "a" * 256, ["namespace name", "1 to 255", "lowercase"]),
    (validation.check_repository_name, "Hello", ["repository name", "1 to 255", "lowercase"]),
    (validation.check_tag_name, "t" * 129, ["tag name", "1 to 128", "not starting with '.'"]),
    (validation.check_docker_image_id, "abc", ["64 lowercase hexadecimal"]),
    (validation.check_digest, "sha256:abc", ["sha256:", "64 lowercase hexadecimal"]),
])
def test_name_errors_say_the_rule_and_its_limit(check, bad, fragments):
    with pytest.raises(errors.DataModelException) as raised:
        check(bad)
    for fragment in fragments:
        assert fragment in str(raised.value)


@pytest.mark.parametrize("value, minimum, maximum", [(0, 0, None), (1, 1, 1000), (1000, 1, 1000),
                                                     (2 ** 40, 0, None)])
def test_counts_in_range_are_returned(value, minimum, maximum):
    assert validation.check_count("limit", value, minimum, maximum) == value


@pytest.mark.parametrize("value, minimum, maximum, fragment", [
    (-1, 0, None, "limit must be an integer of at least 0, not -1"),
    (0, 1, 1000, "limit must be an integer from 1 to 1000, not 0"),
    (1001, 1, 1000, "from 1 to 1000, not 1001"),
    (True, 0, None, "not True"),  # a bool is not a count
    (1.0, 0, None, "not 1.0"), ("5", 0, None, "not '5'"), (None, 0, None, "not None"),
])
def test_counts_out_of_range_or_not_integers_raise(value, minimum, maximum, fragment):
    with pytest.raises(errors.DataModelException, match=re.escape(fragment)):
        validation.check_count("limit", value, minimum, maximum)
