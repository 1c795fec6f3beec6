"""Behaviour of PreOCIModel, the interface callers program to."""
import time

from registry_model.database import RepositoryState
from registry_model.datatypes import Manifest, RepositoryReference, Tag
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
