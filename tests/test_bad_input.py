"""Bad input through the interface and the model functions: a clear error or None, never a write.

Every case snapshots the row count of every table before and after, so a
rejected write that left a row behind (or a lookup that wrote one) fails.
"""
import uuid
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Iterator

import pytest

from registry_model import clock, errors
from registry_model.database import ALL_MODELS
from registry_model.model import namespace as namespace_model
from registry_model.model import repository as repository_model
from registry_model.pre_oci import label as label_model
from registry_model.pre_oci import manifest as manifest_model
from registry_model.pre_oci import tag as tag_model
from registry_model.testing.factories import TagManifestFactory


def row_counts() -> dict:
    """Rows per table, for every table of the schema."""
    return {model.__name__: model.select().count() for model in ALL_MODELS}


@contextmanager
def nothing_written() -> Iterator[None]:
    """Assert that the block leaves every table with as many rows as before."""
    before = row_counts()
    yield
    assert row_counts() == before


@pytest.fixture
def world(registry_model):
    """devtable/simple with two tagged manifests; ``manifest`` has an api and a manifest label."""
    tag_manifest = TagManifestFactory(tag__repository__namespace__name="devtable",
                                      tag__repository__name="simple", tag__name="latest")
    repository = tag_manifest.tag.repository
    TagManifestFactory(tag__repository=repository, tag__name="other")
    ref = registry_model.lookup_repository("devtable", "simple")
    manifest, other = (registry_model.get_manifest_for_tag(
        registry_model.find_matching_tag(ref, [name])) for name in ("latest", "other"))
    return SimpleNamespace(
        ref=ref, repository=repository, image=tag_manifest.tag.image,
        manifest=manifest, other=other,
        api_label=registry_model.create_manifest_label(manifest, "com.example.api", "v", "api"),
        manifest_label=registry_model.create_manifest_label(manifest, "Builder_Key", "v",
                                                            "manifest"),
        other_label=registry_model.create_manifest_label(other, "com.example.other", "v", "api"),
    )


@pytest.fixture(params=["interface", "model"])
def create_label(request, registry_model):
    """create_manifest_label through PreOCIModel or through registry_model.model.label."""
    if request.param == "interface":
        return registry_model.create_manifest_label
    return lambda manifest, *args: label_model.create_manifest_label(manifest.id, *args)


# Label keys

INVALID_USER_KEYS = [
    pytest.param("Key", id="uppercase"),
    pytest.param("KEY", id="all-caps"),
    pytest.param("clé", id="unicode-accent"),
    pytest.param("ключ", id="unicode-cyrillic"),
    pytest.param("🐳", id="emoji"),
    pytest.param("k" * 256, id="256-chars"),
    pytest.param(".key", id="leading-dot"),
    pytest.param("key.", id="trailing-dot"),
    pytest.param("-key", id="leading-dash"),
    pytest.param("key-", id="trailing-dash"),
    pytest.param("a..b", id="double-dot"),
    pytest.param("a--b", id="double-dash"),
    pytest.param("a.-b", id="dot-dash"),
    pytest.param("a-.b", id="dash-dot"),
    pytest.param(".", id="only-dot"),
    pytest.param("", id="empty"),
    pytest.param("a b", id="space-inside"),
    pytest.param(" ab", id="space-leading"),
    pytest.param("ab ", id="space-trailing"),
    pytest.param("a\tb", id="tab"),
    pytest.param("a\nb", id="newline-inside"),
    pytest.param("ab\n", id="newline-trailing"),
    pytest.param("a/b", id="slash"),
    pytest.param("a_b", id="underscore"),
    pytest.param("a:b", id="colon"),
    pytest.param("a\x00b", id="nul"),
    pytest.param(None, id="None"),
    pytest.param(123, id="int"),
    pytest.param(b"bytes", id="bytes"),
]


@pytest.mark.parametrize("source_type", ["api", "internal"])
@pytest.mark.parametrize("key", INVALID_USER_KEYS)
def test_user_label_keys_breaking_the_key_rule_are_rejected(world, create_label, key,
                                                            source_type):
    with nothing_written():
        with pytest.raises(errors.InvalidLabelKeyException):
            create_label(world.manifest, key, "value", source_type)


@pytest.mark.parametrize("key", [
    pytest.param("Com.Example.Key", id="uppercase"),
    pytest.param("build_arg", id="underscore"),
    pytest.param("ÜNÏCÖDÉ.ключ", id="unicode"),
    pytest.param("🐳.whale", id="emoji"),
    pytest.param("has space", id="space"),
    pytest.param("K" * 255, id="255-chars"),
    pytest.param("ü" * 255, id="255-unicode-chars"),
])
def test_manifest_label_keys_are_stored_as_written(registry_model, world, create_label, key):
    before = row_counts()
    created = create_label(world.manifest, key, "value", "manifest")
    assert created.key == key
    assert registry_model.get_manifest_label(world.manifest, created.uuid).key == key
    assert key in [label.key for label in registry_model.list_manifest_labels(world.manifest)]
    after = row_counts()
    assert (after["Label"], after["TagManifestLabel"]) == (
        before["Label"] + 1, before["TagManifestLabel"] + 1)
    assert {name: count for name, count in after.items()
            if name not in ("Label", "TagManifestLabel")} == {
        name: count for name, count in before.items() if name not in ("Label", "TagManifestLabel")}


@pytest.mark.parametrize("key", [
    pytest.param("K" * 256, id="256-chars"),
    pytest.param("", id="empty"),
    pytest.param("a\x00b", id="nul"),
    pytest.param(None, id="None"),
    pytest.param(b"key", id="bytes"),
])
def test_manifest_label_keys_must_still_be_storable(world, create_label, key):
    with nothing_written():
        with pytest.raises(errors.InvalidLabelKeyException):
            create_label(world.manifest, key, "value", "manifest")


@pytest.mark.parametrize("value", [
    pytest.param(None, id="None"),
    pytest.param(b"bytes", id="bytes"),
    pytest.param("a\x00b", id="nul"),
])
def test_label_values_that_cannot_be_stored_are_rejected(world, create_label, value):
    with nothing_written():
        with pytest.raises(errors.InvalidLabelValueException):
            create_label(world.manifest, "com.example.key", value, "api")


@pytest.mark.parametrize("media_type", [
    pytest.param("text/html", id="unknown"),
    pytest.param("application/x-unknown", id="made-up"),
    pytest.param("TEXT/PLAIN", id="wrong-case"),
    pytest.param("text/plain ", id="trailing-space"),
    pytest.param(123, id="int"),
])
def test_unknown_media_types_are_rejected(world, create_label, media_type):
    with nothing_written():
        with pytest.raises(errors.InvalidMediaTypeException):
            create_label(world.manifest, "com.example.key", "value", "api", media_type)


@pytest.mark.parametrize("source_type", [
    pytest.param("user", id="unknown"),
    pytest.param("API", id="wrong-case"),
    pytest.param("manifest ", id="trailing-space"),
    pytest.param("", id="empty"),
    pytest.param(None, id="None"),
    pytest.param(1, id="int"),
])
def test_unknown_label_source_types_are_rejected(world, create_label, source_type):
    with nothing_written():
        with pytest.raises(errors.UnknownLabelSourceTypeException):
            create_label(world.manifest, "com.example.key", "value", source_type)


# Deleting and reading labels

@pytest.fixture(params=["interface", "model"])
def label_access(request, registry_model):
    """(get, delete) of manifest labels through PreOCIModel or registry_model.model.label."""
    if request.param == "interface":
        return registry_model.get_manifest_label, registry_model.delete_manifest_label
    return (lambda manifest, label_uuid: label_model.get_manifest_label(manifest.id, label_uuid),
            lambda manifest, label_uuid: label_model.delete_manifest_label(manifest.id,
                                                                           label_uuid))


def test_a_label_from_the_manifest_itself_cannot_be_deleted(registry_model, world, label_access):
    get, delete = label_access
    with nothing_written():
        with pytest.raises(errors.ImmutableLabelException):
            delete(world.manifest, world.manifest_label.uuid)
    assert registry_model.get_manifest_label(world.manifest,
                                             world.manifest_label.uuid) == world.manifest_label
    assert get(world.manifest, world.manifest_label.uuid).key == "Builder_Key"


@pytest.mark.parametrize("owner, foreign", [
    pytest.param("other", "api_label", id="mutable-label-of-another-manifest"),
    pytest.param("other", "manifest_label", id="immutable-label-of-another-manifest"),
    pytest.param("manifest", "other_label", id="label-of-the-other-way-round"),
])
def test_a_label_of_another_manifest_is_neither_found_nor_deleted(registry_model, world,
                                                                   label_access, owner, foreign):
    get, delete = label_access
    manifest, label = getattr(world, owner), getattr(world, foreign)
    with nothing_written():
        assert get(manifest, label.uuid) is None
        assert delete(manifest, label.uuid) is None
    labelled = world.other if foreign == "other_label" else world.manifest
    assert registry_model.get_manifest_label(labelled, label.uuid) == label


MALFORMED_UUIDS = [
    pytest.param(lambda real: "", id="empty"),
    pytest.param(lambda real: "not-a-uuid", id="not-a-uuid"),
    pytest.param(lambda real: real + "0", id="one-char-too-long"),
    pytest.param(lambda real: real[:-1], id="one-char-too-short"),
    pytest.param(lambda real: " " + real, id="leading-space"),
    pytest.param(lambda real: real + "\x00", id="trailing-nul"),
    pytest.param(lambda real: real[:8] + "%", id="like-percent"),
    pytest.param(lambda real: "_" * 36, id="like-underscores"),
    pytest.param(lambda real: "' OR '1'='1", id="sql-text"),
    pytest.param(lambda real: None, id="None"),
    pytest.param(lambda real: 123, id="int"),
    pytest.param(lambda real: uuid.UUID(real), id="uuid-object"),
]


@pytest.mark.parametrize("malformed", MALFORMED_UUIDS)
def test_malformed_label_uuids_find_and_delete_nothing(world, label_access, malformed):
    get, delete = label_access
    bad_uuid = malformed(world.api_label.uuid)
    with nothing_written():
        assert get(world.manifest, bad_uuid) is None
        assert delete(world.manifest, bad_uuid) is None


# Digests

MALFORMED_DIGESTS = [
    pytest.param(lambda real: None, id="None"),
    pytest.param(lambda real: "", id="empty"),
    pytest.param(lambda real: "sha256:", id="no-hex"),
    pytest.param(lambda real: "sha256:xyz", id="not-hex"),
    pytest.param(lambda real: real[:-1], id="63-hex"),
    pytest.param(lambda real: real + "0", id="65-hex"),
    pytest.param(lambda real: real.upper(), id="uppercase"),
    pytest.param(lambda real: "sha256:" + real[7:].upper(), id="uppercase-hex"),
    pytest.param(lambda real: "md5", id="md5"),
    pytest.param(lambda real: real[7:], id="hex-without-algorithm"),
    pytest.param(lambda real: real + "\n", id="trailing-newline"),
    pytest.param(lambda real: " " + real, id="leading-space"),
    pytest.param(lambda real: "sha256:%", id="like-percent"),
    pytest.param(lambda real: "sha256:" + "_" * 64, id="like-underscores"),
    pytest.param(lambda real: "sha256:' OR '1'='1", id="sql-or"),
    pytest.param(lambda real: "'; DROP TABLE tag_manifest; --", id="sql-drop"),
    pytest.param(lambda real: "sha256:" + "a" * 10_000, id="10k-chars"),
    pytest.param(lambda real: real.encode(), id="bytes"),
]


@pytest.mark.parametrize("allow_dead", [False, True], ids=["alive", "allow-dead"])
@pytest.mark.parametrize("malformed", MALFORMED_DIGESTS)
def test_malformed_digests_find_no_manifest(registry_model, world, malformed, allow_dead):
    digest = malformed(world.manifest.digest)
    with nothing_written():
        assert registry_model.lookup_manifest_by_digest(world.ref, digest,
                                                        allow_dead=allow_dead) is None
        assert manifest_model.find_manifest_by_digest(world.ref.id, digest, clock.now_ts(),
                                                      allow_dead=allow_dead) is None
    # The real digest is found, so None above is about the input alone.
    assert registry_model.lookup_manifest_by_digest(world.ref, world.manifest.digest) is not None


# Names

BAD_NAMES = [
    pytest.param("a'; DROP TABLE repository; --", id="sql-drop"),
    pytest.param("%", id="like-percent"),
    pytest.param("_", id="like-underscore"),
    pytest.param("\\", id="backslash"),
    pytest.param("'", id="single-quote"),
    pytest.param('"', id="double-quote"),
    pytest.param("dev'table", id="quote-inside"),
    pytest.param("`repository`", id="backticks"),
    pytest.param("dev%", id="percent-suffix"),
    pytest.param("a;b", id="semicolon"),
    pytest.param("/*x*/", id="comment"),
    pytest.param("dévtable", id="unicode-accent"),
    pytest.param("名前", id="unicode-cjk"),
    pytest.param("🐳", id="emoji"),
    pytest.param("devtable\n", id="trailing-newline"),
    pytest.param("dev\x00table", id="nul"),
    pytest.param("", id="empty"),
    pytest.param(None, id="None"),
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_lookups_with_bad_names_find_nothing(registry_model, world, name):
    with nothing_written():
        assert registry_model.lookup_repository(name, "simple") is None
        assert registry_model.lookup_repository("devtable", name) is None
        assert namespace_model.find_namespace(name) is None
        assert repository_model.find_repository(name, "simple") is None
        assert repository_model.find_repository("devtable", name) is None
        assert registry_model.find_matching_tag(world.ref, [name]) is None
        assert tag_model.get_tag(world.repository.id, name, clock.now_ts()) is None
        assert registry_model.get_legacy_image(world.ref, name) is None


WRITES = {
    "create_namespace": lambda world, name: namespace_model.create_namespace(name),
    "create_repository-name": lambda world, name: repository_model.create_repository(
        "devtable", name),
    "create_repository-namespace": lambda world, name: repository_model.create_repository(
        name, "fresh"),
    "create_or_update_tag": lambda world, name: tag_model.create_or_update_tag(
        world.repository, name, world.image),
}


def _write_cases():
    for param in BAD_NAMES:
        (name,) = param.values
        for write in WRITES:
            # Docker's tag grammar starts with any word character, so "_" is a tag name
            # (see test_an_underscore_tag_is_a_literal_name_not_a_wildcard).
            if write == "create_or_update_tag" and name == "_":
                continue
            yield pytest.param(name, write, id="%s-%s" % (write, param.id))


@pytest.mark.parametrize("name, write", list(_write_cases()))
def test_writes_with_bad_names_raise_and_write_nothing(world, name, write):
    with nothing_written():
        with pytest.raises(errors.InvalidNameException):
            WRITES[write](world, name)


def test_an_underscore_tag_is_a_literal_name_not_a_wildcard(registry_model, world):
    before = row_counts()
    assert registry_model.find_matching_tag(world.ref, ["_"]) is None
    assert registry_model.find_matching_tag(world.ref, ["l_test", "%"]) is None
    created = tag_model.create_or_update_tag(world.repository, "_", world.image)
    assert registry_model.find_matching_tag(world.ref, ["_"]).id == created.id
    assert registry_model.find_matching_tag(world.ref, ["latest"]).name == "latest"
    after = row_counts()
    assert after["RepositoryTag"] == before["RepositoryTag"] + 1
