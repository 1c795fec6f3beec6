"""delete_manifest: a registry's DELETE of a manifest by digest, on every implementation."""
import pytest

from registry_model import errors
from registry_model.testing.budgets import budget
from registry_model.testing.builders import layer_bytes
from registry_model.testing.databases import snapshot_rows

from . import measure


@pytest.fixture
def ref(builder):
    return builder.repository("deleting", "app")


def test_delete_manifest_ends_every_tag_of_it_and_it_is_found_no_more(registry_model, builder,
                                                                      ref):
    manifest, latest, _ = builder.push_image(ref, "latest", layer_bytes(2))
    stable = registry_model.retarget_tag(ref, "stable", manifest, None, None)
    other = builder.push_image(ref, "other", layer_bytes(2, "other")).manifest
    ended = registry_model.delete_manifest(ref, manifest.digest)
    assert sorted(tag.name for tag in ended) == ["latest", "stable"]
    assert {tag.id for tag in ended} == {latest.id, stable.id}
    assert registry_model.lookup_manifest_by_digest(ref, manifest.digest) is None
    assert [tag.name for tag in registry_model.list_all_active_repository_tags(ref)] == ["other"]
    assert registry_model.lookup_manifest_by_digest(ref, other.digest) == other


def test_delete_manifest_of_a_digest_not_found_is_none_and_changes_nothing(registry_model,
                                                                          builder, ref):
    manifest = builder.push_image(ref, "latest", layer_bytes(1)).manifest
    elsewhere = builder.repository("deleting", "other")
    before = snapshot_rows()
    assert registry_model.delete_manifest(elsewhere, manifest.digest) is None
    assert registry_model.delete_manifest(ref, "sha256:" + "0" * 64) is None
    assert registry_model.delete_manifest(ref, "not a digest") is None
    assert snapshot_rows() == before


def test_delete_manifest_refuses_an_immutable_tag_and_changes_nothing(registry_model, builder,
                                                                     ref):
    manifest, tag, _ = builder.push_image(ref, "latest", layer_bytes(1))
    if not builder.supports_immutable_tags:  # the pre-OCI model: nothing can be immutable
        assert [t.name for t in registry_model.delete_manifest(ref, manifest.digest)] == [
            "latest"]
        return
    registry_model.change_tag_immutability(tag, True)
    before = snapshot_rows()
    with pytest.raises(errors.ImmutableTagException):
        registry_model.delete_manifest(ref, manifest.digest)
    assert snapshot_rows() == before


@pytest.mark.parametrize("tags", [1, 30])
def test_delete_manifest_stays_within_its_budget(registry_model, builder, ref, tags):
    manifest = builder.push_image(ref, "latest", layer_bytes(3)).manifest
    for index in range(tags):
        registry_model.retarget_tag(ref, "tag%02d" % index, manifest, None, None)
    ended, counted = measure(lambda: registry_model.delete_manifest(ref, manifest.digest))
    assert len(ended) == tags + 1
    assert counted.count <= budget("delete_manifest"), counted.statements
    missing, counted = measure(lambda: registry_model.delete_manifest(ref, manifest.digest))
    assert missing is None
    assert counted.count <= budget("delete_manifest"), counted.statements
