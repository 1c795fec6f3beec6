"""Tag cases of the pre-OCI wing: tags without a stored manifest, legacy images as targets.

The tag lifecycle every implementation shares is in tests/conformance/test_tags.py.
"""
import time

import pytest

from registry_model.database import TagManifest
from registry_model.datatypes import LegacyImage
from registry_model.manifests import (
    DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE,
    DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE,
    generate_signing_key,
    parse_manifest_from_bytes,
)
from registry_model.testing.factories import (
    ImageFactory,
    RepositoryFactory,
    RepositoryTagFactory,
    TagManifestFactory,
)

from . import chain, push

NAMESPACE, REPOSITORY = "devtable", "tags"


@pytest.fixture
def repo(initialized_db):
    return RepositoryFactory(namespace__name=NAMESPACE, name=REPOSITORY)


@pytest.fixture
def ref(registry_model, repo):
    return registry_model.lookup_repository(NAMESPACE, REPOSITORY)


def _now() -> int:
    return int(time.time())


def test_get_repo_tag_of_a_tag_without_manifest_has_no_digest(registry_model, ref, repo):
    row = RepositoryTagFactory(repository=repo, name="bare")
    tag = registry_model.get_repo_tag(ref, "bare")
    assert (tag.id, tag.docker_image_id, tag.manifest_digest) == (
        row.id, row.image.docker_image_id, None)


@pytest.fixture
def history(repo):
    """Five rows of ``latest`` and one of ``other``, 100 s apart, plus a hidden row."""
    now = _now()
    rows = []
    for k in range(5):
        start = now - 1000 + 100 * k
        rows.append(RepositoryTagFactory(repository=repo, name="latest", lifetime_start_ts=start,
                                         lifetime_end_ts=start + 100 if k < 4 else None))
    rows.append(RepositoryTagFactory(repository=repo, name="other", lifetime_start_ts=now - 50))
    RepositoryTagFactory(repository=repo, name="hidden", hidden=True, lifetime_start_ts=now)
    return rows


def test_list_repository_tag_history_carries_manifest_digests(registry_model, ref, history):
    manifest = TagManifestFactory(tag=history[1])
    rows, _ = registry_model.list_repository_tag_history(ref)
    digests = {t.id: t.manifest_digest for t in rows}
    assert digests[history[1].id] == manifest.digest
    assert digests[history[2].id] is None


def _legacy_chain(repo, depth=3) -> list:
    images = [ImageFactory(repository=repo)]
    for _ in range(depth - 1):
        images.append(ImageFactory(parent=images[-1]))
    return images


def test_retarget_tag_to_a_legacy_image_builds_a_signed_manifest_for_it(registry_model, ref,
                                                                        repo):
    images = _legacy_chain(repo)
    leaf = registry_model.get_legacy_image(ref, images[-1].docker_image_id)
    assert isinstance(leaf, LegacyImage)
    key = generate_signing_key()
    tag = registry_model.retarget_tag(ref, "v1", leaf, None, key)
    assert (tag.name, tag.image_id, tag.docker_image_id, tag.reversion) == (
        "v1", images[-1].id, images[-1].docker_image_id, False)
    manifest = registry_model.get_manifest_for_tag(tag)
    assert manifest.media_type == DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE
    assert tag.manifest_digest == manifest.digest
    parsed = parse_manifest_from_bytes(manifest.manifest_bytes, manifest.media_type)
    parsed.verify()
    assert parsed.digest == manifest.digest
    assert (parsed.name, parsed.tag) == ("%s/%s" % (NAMESPACE, REPOSITORY), "v1")
    assert parsed.blob_digests == [image.storage.content_checksum for image in images]
    assert [layer.v1_metadata.image_id for layer in parsed.layers] == [
        image.docker_image_id for image in images]
    assert registry_model.lookup_manifest_by_digest(ref, manifest.digest) == manifest


def test_retarget_tag_to_a_legacy_image_without_a_key_builds_an_unsigned_manifest(
        registry_model, ref, repo):
    images = _legacy_chain(repo, depth=1)
    leaf = registry_model.get_legacy_image(ref, images[0].docker_image_id)
    tag = registry_model.retarget_tag(ref, "latest", leaf, None, None, is_reversion=True)
    assert tag.reversion
    manifest = registry_model.get_manifest_for_tag(tag)
    assert manifest.media_type == DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE
    parsed = parse_manifest_from_bytes(manifest.manifest_bytes, manifest.media_type)
    assert (parsed.tag, parsed.blob_digests) == ("latest", [images[0].storage.content_checksum])


def test_the_manifest_rows_of_a_retarget_match_the_tag_rows(registry_model, ref):
    _, (manifest, _) = push(registry_model, ref, chain(1))
    moved = registry_model.retarget_tag(ref, "copy", manifest, None, None)
    stored = TagManifest.get(TagManifest.tag == moved.id)
    assert (stored.digest, stored.json_data) == (manifest.digest,
                                                 manifest.manifest_bytes.decode("utf-8"))
