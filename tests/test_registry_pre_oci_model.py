"""What PreOCIModel alone shows: tags without a manifest, stored media types, V1 chains.

The behaviour every implementation shares is in tests/conformance/.
"""
import json

from registry_model.database import TagManifest
from registry_model.datatypes import (
    DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE,
    DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE,
)
from registry_model.model import lookup
from registry_model.pre_oci import manifest as manifest_model
from registry_model.testing.factories import (
    ImageFactory,
    RepositoryFactory,
    RepositoryTagFactory,
    TagManifestFactory,
)


def _ref(registry_model, repo):
    return registry_model.lookup_repository(repo.namespace.name, repo.name)


def test_get_manifest_for_tag_without_a_stored_manifest_is_none(registry_model):
    tag = RepositoryTagFactory(name="bare")
    ref = _ref(registry_model, tag.repository)
    tag = registry_model.find_matching_tag(ref, ["bare"])
    assert tag is not None
    assert registry_model.get_manifest_for_tag(tag) is None


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
