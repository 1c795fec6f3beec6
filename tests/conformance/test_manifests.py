"""Manifests by tag and by digest, and their labels."""
import pytest

from registry_model import errors
from registry_model.datatypes import Label, Manifest
from registry_model.testing.builders import layer_bytes


@pytest.fixture
def ref(builder):
    return builder.repository("devtable", "simple")


@pytest.fixture
def manifest(builder, ref):
    """The manifest of ``devtable/simple:latest``, without labels."""
    return builder.push_image(ref, "latest", layer_bytes(1, "labelled")).manifest


def test_manifest_for_tag_and_by_digest(registry_model, builder, ref):
    pushed = builder.push_image(ref, "latest", layer_bytes(2))
    tag = registry_model.find_matching_tag(ref, ["latest"])
    manifest = registry_model.get_manifest_for_tag(tag)
    assert isinstance(manifest, Manifest)
    assert manifest == pushed.manifest
    assert manifest.digest == pushed.tag.manifest_digest
    assert registry_model.lookup_manifest_by_digest(ref, manifest.digest) == manifest
    assert registry_model.lookup_manifest_by_digest(ref, "sha256:nothex") is None


def test_lookup_manifest_by_digest_finds_dead_tags_only_when_allowed(registry_model, builder,
                                                                     ref):
    dead = builder.push_image(ref, "dead", layer_bytes(1, "dead")).manifest
    registry_model.delete_tag(ref, "dead")
    assert registry_model.lookup_manifest_by_digest(ref, dead.digest) is None
    found = registry_model.lookup_manifest_by_digest(ref, dead.digest, allow_dead=True)
    assert (found.id, found.digest) == (dead.id, dead.digest)


def test_lookup_manifest_by_digest_stays_in_its_repository(registry_model, builder, ref):
    other = builder.repository("elsewhere", "other")
    foreign = builder.push_image(other, "latest", layer_bytes(1, "foreign")).manifest
    assert registry_model.lookup_manifest_by_digest(ref, foreign.digest, allow_dead=True) is None


def test_create_manifest_label_returns_a_label_with_inferred_media_type(registry_model,
                                                                       manifest):
    json_label = registry_model.create_manifest_label(manifest, "config", '{"a": [1]}', "api")
    text_label = registry_model.create_manifest_label(manifest, "count", "12", "internal")
    assert isinstance(json_label, Label)
    assert (json_label.key, json_label.value, json_label.source_type_name,
            json_label.media_type_name) == ("config", '{"a": [1]}', "api", "application/json")
    assert text_label.media_type_name == "text/plain"
    assert registry_model.get_manifest_label(manifest, json_label.uuid) == json_label


def test_create_manifest_label_rejects_bad_keys_except_from_manifests(registry_model, manifest):
    with pytest.raises(errors.InvalidLabelKeyException):
        registry_model.create_manifest_label(manifest, "Bad_Key", "v", "api")
    assert registry_model.list_manifest_labels(manifest) == []
    kept = registry_model.create_manifest_label(manifest, "Bad_Key", "v", "manifest")
    assert kept.key == "Bad_Key"


def test_list_manifest_labels_filters_by_literal_case_sensitive_prefix(registry_model,
                                                                       manifest):
    for key in ("org.b", "com.a", "Com.c", "co%m"):
        registry_model.create_manifest_label(manifest, key, "v", "manifest")
    keys = [label.key for label in registry_model.list_manifest_labels(manifest)]
    assert keys == ["org.b", "com.a", "Com.c", "co%m"]
    assert [label.key for label in registry_model.list_manifest_labels(manifest, "com")] == [
        "com.a"]
    assert [label.key for label in registry_model.list_manifest_labels(manifest, "co%")] == [
        "co%m"]


def test_get_manifest_label_of_another_manifest_is_none(registry_model, builder, manifest):
    label = registry_model.create_manifest_label(manifest, "k", "v", "api")
    other_repo = builder.repository("elsewhere", "other")
    other_manifest = builder.push_image(other_repo, "latest", layer_bytes(1, "other")).manifest
    assert registry_model.get_manifest_label(other_manifest, label.uuid) is None
    assert registry_model.delete_manifest_label(other_manifest, label.uuid) is None
    assert registry_model.get_manifest_label(manifest, "malformed") is None
    assert registry_model.get_manifest_label(manifest, label.uuid) == label


def test_delete_manifest_label_deletes_mutable_and_refuses_immutable_labels(registry_model,
                                                                           manifest):
    mutable = registry_model.create_manifest_label(manifest, "k", "v", "api")
    immutable = registry_model.create_manifest_label(manifest, "m", "v", "manifest")
    assert registry_model.delete_manifest_label(manifest, mutable.uuid) == mutable
    assert registry_model.delete_manifest_label(manifest, mutable.uuid) is None
    with pytest.raises(errors.ImmutableLabelException):
        registry_model.delete_manifest_label(manifest, immutable.uuid)
    assert registry_model.list_manifest_labels(manifest) == [immutable]
