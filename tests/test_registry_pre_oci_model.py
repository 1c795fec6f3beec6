"""What PreOCIModel alone shows: tags without a stored manifest, stored media types.

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
