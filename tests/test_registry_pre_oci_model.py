"""Behaviour of PreOCIModel, the interface callers program to."""
import json
import time

import pytest

from registry_model import errors
from registry_model.database import RepositoryState, TagManifest
from registry_model.datatypes import (
    DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE,
    DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE,
    Label,
    Manifest,
    RepositoryReference,
    Tag,
)
from registry_model.model import lookup
from registry_model.model import manifest as manifest_model
from registry_model.model import repository as repository_model
from registry_model.testing.factories import (
    ImageFactory,
    RepositoryFactory,
    RepositoryTagFactory,
    TagManifestFactory,
)


def _ref(registry_model, repo):
    return registry_model.lookup_repository(repo.namespace.name, repo.name)


def test_lookup_repository_returns_reference(registry_model):
    repo = RepositoryFactory(namespace__name="devtable", name="simple")
    ref = registry_model.lookup_repository("devtable", "simple")
    assert isinstance(ref, RepositoryReference)
    assert (ref.id, ref.namespace_name, ref.name, ref.kind, ref.is_public, ref.state) == (
        repo.id, "devtable", "simple", "image", False, RepositoryState.NORMAL)


def test_lookup_repository_hides_deleted_and_other_kinds(registry_model):
    repo = RepositoryFactory(namespace__name="devtable", name="gone")
    assert registry_model.lookup_repository("devtable", "gone", kind_filter="application") is None
    assert registry_model.lookup_repository("devtable", "gone", kind_filter="image") is not None
    repository_model.set_repository_state(repo, RepositoryState.MARKED_FOR_DELETION)
    assert registry_model.lookup_repository("devtable", "gone") is None
    assert registry_model.lookup_repository("devtable", "absent") is None


def test_find_matching_tag_prefers_earlier_names(registry_model):
    repo = RepositoryFactory()
    RepositoryTagFactory(repository=repo, name="latest")
    RepositoryTagFactory(repository=repo, name="v1")
    ref = _ref(registry_model, repo)
    found = registry_model.find_matching_tag(ref, ["missing", "v1", "latest"])
    assert isinstance(found, Tag)
    assert found.name == "v1"
    assert found.repository == ref
    assert registry_model.find_matching_tag(ref, ["missing"]) is None
    assert registry_model.find_matching_tag(ref, []) is None


def test_find_matching_tag_skips_dead_and_hidden(registry_model):
    repo = RepositoryFactory()
    now = int(time.time())
    RepositoryTagFactory(repository=repo, name="dead", lifetime_start_ts=now - 100,
                         lifetime_end_ts=now - 10)
    RepositoryTagFactory(repository=repo, name="hidden", hidden=True)
    expiring = RepositoryTagFactory(repository=repo, name="expiring", lifetime_end_ts=now + 3600)
    ref = _ref(registry_model, repo)
    assert registry_model.find_matching_tag(ref, ["dead", "hidden"]) is None
    assert registry_model.find_matching_tag(ref, ["dead", "expiring"]).id == expiring.id


def test_get_most_recent_tag_breaks_ties_by_id(registry_model):
    repo = RepositoryFactory()
    RepositoryTagFactory(repository=repo, name="old", lifetime_start_ts=100)
    RepositoryTagFactory(repository=repo, name="a", lifetime_start_ts=200)
    newest = RepositoryTagFactory(repository=repo, name="b", lifetime_start_ts=200)
    RepositoryTagFactory(repository=repo, name="hidden", lifetime_start_ts=300, hidden=True)
    assert registry_model.get_most_recent_tag(_ref(registry_model, repo)).id == newest.id


def test_manifest_for_tag_and_by_digest(registry_model):
    tag_manifest = TagManifestFactory(tag__repository__namespace__name="devtable",
                                      tag__repository__name="simple", tag__name="latest")
    ref = registry_model.lookup_repository("devtable", "simple")
    tag = registry_model.find_matching_tag(ref, ["latest"])
    manifest = registry_model.get_manifest_for_tag(tag)
    assert isinstance(manifest, Manifest)
    assert manifest.digest == tag_manifest.digest
    assert manifest.manifest_bytes == tag_manifest.json_data.encode("utf-8")
    assert registry_model.lookup_manifest_by_digest(ref, tag_manifest.digest) == manifest
    assert registry_model.lookup_manifest_by_digest(ref, "sha256:nothex") is None


def test_legacy_images_with_parents_and_tags(registry_model):
    repo = RepositoryFactory()
    base = ImageFactory(repository=repo)
    middle = ImageFactory(parent=base)
    top = ImageFactory(parent=middle)
    RepositoryTagFactory(repository=repo, name="latest", image=top)
    ref = _ref(registry_model, repo)
    images = {image.docker_image_id: image for image in registry_model.get_legacy_images(ref)}
    assert [p.docker_image_id for p in images[top.docker_image_id].parents] == [
        middle.docker_image_id, base.docker_image_id]
    assert images[top.docker_image_id].tags == ("latest",)
    assert images[base.docker_image_id].tags == ()
    single = registry_model.get_legacy_image(ref, top.docker_image_id, include_parents=True)
    assert [p.id for p in single.parents] == [middle.id, base.id]
    assert registry_model.get_legacy_image(ref, top.docker_image_id).parents is None



def test_legacy_images_share_their_parents_chains(registry_model):
    repo = RepositoryFactory()
    rows = [ImageFactory(repository=repo)]
    for _ in range(5):
        rows.append(ImageFactory(parent=rows[-1]))
    side = ImageFactory(parent=rows[2])
    ref = _ref(registry_model, repo)
    images = registry_model.get_legacy_images(ref)
    assert [image.id for image in images] == sorted(row.id for row in rows + [side])
    by_id = {image.id: image for image in images}
    leaf, fork = by_id[rows[-1].id], by_id[side.id]
    assert leaf.parents == tuple(by_id[row.id] for row in reversed(rows[:-1]))
    for image in images:  # each image's parents: its parent, then that parent's parents
        if image.parents:
            assert image.parents[0] is by_id[image.parents[0].id]
            assert image.parents[1:] == image.parents[0].parents
    assert fork.parents[0] is by_id[rows[2].id] and fork.parents[1:] == (by_id[rows[1].id],
                                                                        by_id[rows[0].id])
    single = registry_model.get_legacy_image(ref, rows[-1].docker_image_id, include_parents=True)
    assert [image._replace(parents=None, tags=None) for image in (single,) + single.parents] == [
        image._replace(parents=None, tags=None) for image in (leaf,) + leaf.parents]
    assert single.parents[1:] == single.parents[0].parents


def test_legacy_images_whose_parents_have_higher_ids_get_their_chains(registry_model):
    # Rows written by another tool (or an import) need not give a parent the lower id.
    repo = RepositoryFactory()
    base = ImageFactory(repository=repo, id=900_000)
    child = ImageFactory(parent=base, id=800_000)
    grandchild = ImageFactory(parent=child, id=850_000)
    ref = _ref(registry_model, repo)
    images = registry_model.get_legacy_images(ref)
    assert [image.id for image in images] == [child.id, grandchild.id, base.id]
    assert [[parent.id for parent in image.parents] for image in images] == [
        [base.id], [child.id, base.id], []]
    assert images[1].parents[0] is images[0] and images[0].parents[0] is images[2]
    single = registry_model.get_legacy_image(ref, grandchild.docker_image_id,
                                             include_parents=True)
    assert [parent.id for parent in single.parents] == [child.id, base.id]

def _labelled_manifest(registry_model):
    TagManifestFactory(tag__repository__namespace__name="devtable",
                       tag__repository__name="simple", tag__name="latest")
    ref = registry_model.lookup_repository("devtable", "simple")
    return registry_model.get_manifest_for_tag(registry_model.find_matching_tag(ref, ["latest"]))


def test_lookup_manifest_by_digest_finds_dead_tags_only_when_allowed(registry_model):
    now = int(time.time())
    dead = TagManifestFactory(tag__lifetime_start_ts=now - 100, tag__lifetime_end_ts=now - 10)
    ref = _ref(registry_model, dead.tag.repository)
    assert registry_model.lookup_manifest_by_digest(ref, dead.digest) is None
    found = registry_model.lookup_manifest_by_digest(ref, dead.digest, allow_dead=True)
    assert (found.id, found.digest) == (dead.id, dead.digest)


def test_get_manifest_for_tag_without_a_stored_manifest_is_none(registry_model):
    tag = RepositoryTagFactory(name="bare")
    ref = _ref(registry_model, tag.repository)
    tag = registry_model.find_matching_tag(ref, ["bare"])
    assert tag is not None
    assert registry_model.get_manifest_for_tag(tag) is None


def test_get_most_recent_tag_of_an_untagged_repository_is_none(registry_model):
    assert registry_model.get_most_recent_tag(_ref(registry_model, RepositoryFactory())) is None


def test_legacy_image_tags_leave_out_hidden_and_dead_tags(registry_model):
    repo = RepositoryFactory()
    image = ImageFactory(repository=repo)
    now = int(time.time())
    RepositoryTagFactory(repository=repo, name="shown", image=image)
    RepositoryTagFactory(repository=repo, name="secret", image=image, hidden=True)
    RepositoryTagFactory(repository=repo, name="gone", image=image, lifetime_start_ts=now - 9,
                         lifetime_end_ts=now - 1)
    [legacy] = registry_model.get_legacy_images(_ref(registry_model, repo))
    assert legacy.tags == ("shown",)
    assert legacy.parents == ()


def test_get_legacy_image_of_another_repository_or_unknown_id_is_none(registry_model):
    image = ImageFactory()
    ref = _ref(registry_model, RepositoryFactory())
    assert registry_model.get_legacy_image(ref, image.docker_image_id) is None
    assert registry_model.get_legacy_image(ref, "not-an-id", include_parents=True) is None


def test_create_manifest_label_returns_a_label_with_inferred_media_type(registry_model):
    manifest = _labelled_manifest(registry_model)
    json_label = registry_model.create_manifest_label(manifest, "config", '{"a": [1]}', "api")
    text_label = registry_model.create_manifest_label(manifest, "count", "12", "internal")
    assert isinstance(json_label, Label)
    assert (json_label.key, json_label.value, json_label.source_type_name,
            json_label.media_type_name) == ("config", '{"a": [1]}', "api", "application/json")
    assert text_label.media_type_name == "text/plain"
    assert registry_model.get_manifest_label(manifest, json_label.uuid) == json_label


def test_create_manifest_label_rejects_bad_keys_except_from_manifests(registry_model):
    manifest = _labelled_manifest(registry_model)
    with pytest.raises(errors.InvalidLabelKeyException):
        registry_model.create_manifest_label(manifest, "Bad_Key", "v", "api")
    assert registry_model.list_manifest_labels(manifest) == []
    kept = registry_model.create_manifest_label(manifest, "Bad_Key", "v", "manifest")
    assert kept.key == "Bad_Key"


def test_list_manifest_labels_filters_by_literal_case_sensitive_prefix(registry_model):
    manifest = _labelled_manifest(registry_model)
    for key in ("org.b", "com.a", "Com.c", "co%m"):
        registry_model.create_manifest_label(manifest, key, "v", "manifest")
    keys = [label.key for label in registry_model.list_manifest_labels(manifest)]
    assert keys == ["org.b", "com.a", "Com.c", "co%m"]
    assert [label.key for label in registry_model.list_manifest_labels(manifest, "com")] == [
        "com.a"]
    assert [label.key for label in registry_model.list_manifest_labels(manifest, "co%")] == [
        "co%m"]


def test_get_manifest_label_of_another_manifest_is_none(registry_model):
    manifest = _labelled_manifest(registry_model)
    label = registry_model.create_manifest_label(manifest, "k", "v", "api")
    other = TagManifestFactory()
    other_manifest = Manifest.for_tag_manifest(other)
    assert registry_model.get_manifest_label(other_manifest, label.uuid) is None
    assert registry_model.delete_manifest_label(other_manifest, label.uuid) is None
    assert registry_model.get_manifest_label(manifest, "malformed") is None
    assert registry_model.get_manifest_label(manifest, label.uuid) == label


def test_delete_manifest_label_deletes_mutable_and_refuses_immutable_labels(registry_model):
    manifest = _labelled_manifest(registry_model)
    mutable = registry_model.create_manifest_label(manifest, "k", "v", "api")
    immutable = registry_model.create_manifest_label(manifest, "m", "v", "manifest")
    assert registry_model.delete_manifest_label(manifest, mutable.uuid) == mutable
    assert registry_model.delete_manifest_label(manifest, mutable.uuid) is None
    with pytest.raises(errors.ImmutableLabelException):
        registry_model.delete_manifest_label(manifest, immutable.uuid)
    assert registry_model.list_manifest_labels(manifest) == [immutable]


def test_manifests_are_read_with_their_stored_media_type_without_parsing(registry_model):
    signed_json = json.dumps({"schemaVersion": 1, "signatures": [{"protected": "x"}]})
    unsigned_id = lookup.media_type_id(DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE)
    # The stored type wins over what the bytes say: proof that the read trusts the column.
    stored = TagManifestFactory(json_data=signed_json, media_type=unsigned_id)
    unknown = TagManifestFactory(json_data=signed_json, media_type=None,
                                 tag__repository=stored.tag.repository)
    ref = _ref(registry_model, stored.tag.repository)
    tags = {tag.id: tag for tag in registry_model.list_all_active_repository_tags(ref)}
    assert registry_model.get_manifest_for_tag(tags[stored.tag.id]).media_type == (
        DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE)
    assert registry_model.get_manifest_for_tag(tags[unknown.tag.id]).media_type == (
        DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE)
    assert registry_model.lookup_manifest_by_digest(ref, stored.digest).media_type in (
        DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE, DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE)


def test_written_manifests_store_the_media_type_their_bytes_show(registry_model):
    unsigned = TagManifestFactory(json_data=json.dumps({"schemaVersion": 1}))
    stored = manifest_model.store_tag_manifest(
        RepositoryTagFactory(repository=unsigned.tag.repository), "sha256:" + "b" * 64,
        json.dumps({"schemaVersion": 1, "signatures": [{"protected": "x"}]}))
    assert lookup.media_type_name(TagManifest.get_by_id(stored.id).media_type_id) == (
        DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE)
    assert lookup.media_type_name(TagManifest.get_by_id(unsigned.id).media_type_id) == (
        DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE)
