"""The factories of registry_model.testing build valid rows the interface can read back."""
import hashlib
import json
import re

import pytest

from registry_model.database import (
    DEFAULT_TAG_EXPIRATION_S,
    Image,
    ImageStorage,
    ImageStoragePlacement,
    Namespace,
    Repository,
    RepositoryState,
    RepositoryTag,
    TagManifest,
)
from registry_model.model import lookup
from registry_model.testing.databases import snapshot_rows
from registry_model.testing.factories import (
    ImageFactory,
    ImageStorageFactory,
    NamespaceFactory,
    RepositoryFactory,
    RepositoryTagFactory,
    TagManifestFactory,
)

SHA256_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def test_namespace_factory_writes_enabled_namespaces_with_distinct_names(initialized_db):
    first, second = NamespaceFactory(), NamespaceFactory()
    assert first.name != second.name
    stored = Namespace.get_by_id(first.id)
    assert (stored.name, stored.enabled, stored.removed_tag_expiration_s) == (
        first.name, True, DEFAULT_TAG_EXPIRATION_S)


def test_repository_factory_builds_its_namespace_by_sub_factory(registry_model):
    repo = RepositoryFactory(namespace__name="devtable", name="simple")

    stored = Repository.get_by_id(repo.id)
    assert Namespace.get_by_id(stored.namespace_id).name == "devtable"
    assert stored.name == "simple"
    assert stored.state == RepositoryState.NORMAL
    assert lookup.kind_name(stored.kind_id) == "image"
    ref = registry_model.lookup_repository("devtable", "simple")
    assert (ref.id, ref.namespace_name, ref.name, ref.kind, ref.is_public) == (
        repo.id, "devtable", "simple", "image", False)


def test_repository_factory_takes_kind_and_visibility_names(registry_model):
    RepositoryFactory(namespace__name="devtable", name="app", kind_name="application",
                      visibility_name="public")
    assert registry_model.lookup_repository("devtable", "app", kind_filter="image") is None
    ref = registry_model.lookup_repository("devtable", "app", kind_filter="application")
    assert (ref.kind, ref.is_public) == ("application", True)


def test_image_storage_factory_writes_a_finished_placed_blob(initialized_db):
    first, second = ImageStorageFactory(), ImageStorageFactory()

    stored = ImageStorage.get_by_id(first.id)
    assert SHA256_DIGEST.match(stored.content_checksum)
    assert stored.content_checksum != ImageStorage.get_by_id(second.id).content_checksum
    assert stored.uploading is False
    assert stored.image_size > 0
    placements = [lookup.location_name(p.location_id) for p in
                  ImageStoragePlacement.select().where(ImageStoragePlacement.storage == first)]
    assert placements == ["local"]


def test_image_factory_fills_ancestors_from_parent(registry_model):
    repo = RepositoryFactory(namespace__name="devtable", name="layered")
    base = ImageFactory(repository=repo)
    middle = ImageFactory(parent=base)
    top = ImageFactory(parent=middle)

    assert Image.get_by_id(base.id).ancestors == "/"
    assert Image.get_by_id(middle.id).ancestors == "/%d/" % base.id
    assert Image.get_by_id(top.id).ancestors == "/%d/%d/" % (base.id, middle.id)
    assert {image.repository_id for image in (base, middle, top)} == {repo.id}
    assert top.aggregate_size == base.storage.image_size + middle.storage.image_size + \
        top.storage.image_size

    ref = registry_model.lookup_repository("devtable", "layered")
    legacy = registry_model.get_legacy_image(ref, top.docker_image_id, include_parents=True)
    assert [p.docker_image_id for p in legacy.parents] == [
        middle.docker_image_id, base.docker_image_id]
    assert json.loads(legacy.v1_metadata_string) == {
        "id": top.docker_image_id, "parent": middle.docker_image_id}


def test_image_factory_without_parent_makes_a_base_image_in_a_new_repository(initialized_db):
    first, second = ImageFactory(), ImageFactory()
    assert first.ancestors == "/" and second.ancestors == "/"
    assert first.repository_id != second.repository_id
    assert first.docker_image_id != second.docker_image_id
    assert re.match(r"^[0-9a-f]{64}$", first.docker_image_id)


def test_repository_tag_factory_points_the_named_tag_at_the_given_image(registry_model):
    repo = RepositoryFactory(namespace__name="devtable", name="simple")
    image = ImageFactory(repository=repo)
    tag = RepositoryTagFactory(repository=repo, name="latest", image=image)

    stored = RepositoryTag.get_by_id(tag.id)
    assert (stored.repository_id, stored.image_id, stored.lifetime_end_ts) == (
        repo.id, image.id, None)
    ref = registry_model.lookup_repository("devtable", "simple")
    found = registry_model.find_matching_tag(ref, ["latest"])
    assert (found.id, found.docker_image_id) == (tag.id, image.docker_image_id)


def test_repository_tag_factory_builds_its_image_in_the_tag_repository(initialized_db):
    repo = RepositoryFactory()
    tag = RepositoryTagFactory(repository=repo)
    assert Image.get_by_id(tag.image_id).repository_id == repo.id

    standalone = RepositoryTagFactory()
    assert standalone.image.repository_id == standalone.repository_id != repo.id


def test_tag_manifest_factory_writes_schema1_json_and_its_digest(registry_model):
    repo = RepositoryFactory(namespace__name="devtable", name="simple")
    tag = RepositoryTagFactory(repository=repo, name="stable")
    tag_manifest = TagManifestFactory(tag=tag)

    stored = TagManifest.get_by_id(tag_manifest.id)
    manifest = json.loads(stored.json_data)
    assert manifest["schemaVersion"] == 1
    assert (manifest["name"], manifest["tag"]) == ("devtable/simple", "stable")
    assert manifest["fsLayers"] and manifest["history"]
    assert json.loads(manifest["history"][0]["v1Compatibility"])["id"] == \
        tag.image.docker_image_id
    assert stored.digest == "sha256:" + hashlib.sha256(
        stored.json_data.encode("utf-8")).hexdigest()

    ref = registry_model.lookup_repository("devtable", "simple")
    found = registry_model.lookup_manifest_by_digest(ref, stored.digest)
    assert found.id == tag_manifest.id
    assert registry_model.get_manifest_for_tag(
        registry_model.find_matching_tag(ref, ["stable"])).digest == stored.digest


def test_tag_manifests_of_two_tags_on_one_image_get_different_digests(initialized_db):
    # Same image, so only the tag name in the manifest can tell the two apart.
    image = ImageFactory()
    first = TagManifestFactory(tag__repository=image.repository, tag__name="v1",
                               tag__image=image)
    second = TagManifestFactory(tag__repository=image.repository, tag__name="v2",
                                tag__image=image)
    assert SHA256_DIGEST.match(first.digest) and SHA256_DIGEST.match(second.digest)
    assert first.digest != second.digest


def test_tag_manifests_of_same_tag_name_in_two_repositories_get_different_digests(
        initialized_db):
    first = TagManifestFactory(tag__name="latest")
    second = TagManifestFactory(tag__name="latest")
    assert first.tag.repository_id != second.tag.repository_id
    assert first.digest != second.digest


@pytest.mark.parametrize("factory_class, values, named", [
    (NamespaceFactory, {"username": "devtable"}, "'username'"),
    (RepositoryFactory, {"namespace__name": "acme", "visiblity": "public"}, "'visiblity'"),
    (RepositoryTagFactory, {"name": "latest", "lifetime_end": 5}, "'lifetime_end'"),
])
def test_factories_refuse_a_field_the_model_does_not_have(initialized_db, factory_class,
                                                           values, named):
    before = snapshot_rows()
    for make in (factory_class, factory_class.build):
        with pytest.raises(TypeError, match="has no field %s" % named):
            make(**values)
    assert snapshot_rows() == before


def test_factories_take_foreign_keys_by_id_too(initialized_db):
    namespace = NamespaceFactory(name="by-id")
    repository = RepositoryFactory(namespace=None, namespace_id=namespace.id, name="app")
    assert Repository.get_by_id(repository.id).namespace.name == "by-id"
