"""OCIModel stays within the statement budgets the interface documents, at any data size.

Budgets are read from the RegistryDataInterface docstrings, as for the pre-OCI model. Each
call runs on a small world (1 layer, 1 extra tag, 1 child) and a large one (50 layers, 50
tags, 50 history rows, a 10-child index), with the lookup cache warm; each call's answer is
checked too, so a method cannot meet its budget by doing nothing.
"""
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from registry_model import OCIModel
from registry_model.blobstore import InMemoryBlobStore
from registry_model.database import ManifestChild
from registry_model.datatypes import RepositoryReference
from registry_model.model import lookup
from registry_model.testing.factories import NamespaceFactory, RepositoryFactory
from registry_model.testing.queries import count_statements
from tests.oci import config_bytes, image_manifest, index_manifest, layer_bytes, link_blobs, parse
from tests.pre_oci.test_budgets import budget

PUSH_BUDGET = 16


def image(repository, store, layer_count, seed, **options):
    config = config_bytes(layer_count, labels={"com.example.seed": seed}, seed=seed)
    layers = [layer_bytes(index, seed) for index in range(layer_count)]
    for data in [config] + layers:
        store.put(data)
    link_blobs(repository, config, *layers)
    return parse(image_manifest(config, layers, **options))


@pytest.fixture(params=[1, 50], ids=lambda size: "size-%d" % size)
def world(request, initialized_db):
    return build_world(request.param)


def build_world(size: int) -> SimpleNamespace:
    """The repository every budget is measured on, ``size`` layers, tags and history rows."""
    model, store = OCIModel(), InMemoryBlobStore()
    repository = RepositoryFactory(namespace=NamespaceFactory(name="budgets"), name="subject")
    ref = RepositoryReference.for_repo_obj(repository)
    parsed = image(repository, store, size, "main")
    manifest, _ = model.create_manifest_and_retarget_tag(ref, parsed, "latest", store)
    older, _ = model.create_manifest_and_retarget_tag(
        ref, image(repository, store, size, "older"), "older", store)
    for index in range(size):
        model.retarget_tag(ref, "tag%03d" % index, manifest)
        model.retarget_tag(ref, "history", older if index % 2 else manifest)
    children = [image(repository, store, 1, "child%d" % index) for index in range(min(size, 10))]
    for child in children:
        model.create_manifest_and_retarget_tag(ref, child, None, store)
    signature = image(repository, store, 1, "sig", subject=parsed.bytes,
                      artifact_type="application/example.sig")
    model.create_manifest_and_retarget_tag(ref, signature, None, store)
    model.create_manifest_and_retarget_tag(ref, image(repository, store, size, "solo"), "solo",
                                           store)
    model.retarget_tag(ref, "gone", older)
    model.delete_tag(ref, "gone")
    tag = model.get_repo_tag(ref, "latest")
    label = model.create_manifest_label(manifest, "com.example.api", "v", "api")
    return SimpleNamespace(size=size, model=model, store=store, repository=repository, ref=ref,
                           parsed=parsed, manifest=manifest, older=older, tag=tag,
                           children=children, label=label)


def measure(call):
    lookup.tables()
    with count_statements() as counted:
        result = call()
    return result, counted.count


READS = {
    "find_matching_tag": lambda w: w.model.find_matching_tag(w.ref, ["nope", "latest"]),
    "get_most_recent_tag": lambda w: w.model.get_most_recent_tag(w.ref),
    "get_repo_tag": lambda w: w.model.get_repo_tag(w.ref, "latest"),
    "get_manifest_for_tag": lambda w: w.model.get_manifest_for_tag(w.tag),
    "lookup_manifest_by_digest": lambda w: w.model.lookup_manifest_by_digest(
        w.ref, w.parsed.digest),
    "lookup_referrers": lambda w: w.model.lookup_referrers(w.ref, w.parsed.digest),
    "get_legacy_images": lambda w: w.model.get_legacy_images(w.ref),
    "get_legacy_image": lambda w: w.model.get_legacy_image(w.ref, w.tag.docker_image_id,
                                                           include_parents=True),
    "list_manifest_labels": lambda w: w.model.list_manifest_labels(w.manifest),
    "get_manifest_label": lambda w: w.model.get_manifest_label(w.manifest, w.label.uuid),
    "list_all_active_repository_tags": lambda w: w.model.list_all_active_repository_tags(w.ref),
    "lookup_active_repository_tags": lambda w: w.model.lookup_active_repository_tags(w.ref),
    "list_repository_tag_history": lambda w: w.model.list_repository_tag_history(w.ref),
    "has_expired_tag": lambda w: w.model.has_expired_tag(w.ref, "gone"),
    "get_legacy_images_owned_by_tag": lambda w: w.model.get_legacy_images_owned_by_tag(
        w.model.get_repo_tag(w.ref, "solo")),
}


@pytest.mark.parametrize("method", sorted(READS))
def test_reads_stay_within_budget_and_answer(world, method):
    result, count = measure(lambda: READS[method](world))
    assert 1 <= count <= budget(method), (method, count)
    assert result, method  # every read above has something to find in this world


def test_a_push_costs_the_same_whatever_its_size(world):
    parsed = image(world.repository, world.store, world.size, "new")
    (manifest, tag), count = measure(lambda: world.model.create_manifest_and_retarget_tag(
        world.ref, parsed, "new", world.store))
    assert count <= PUSH_BUDGET and tag.manifest_digest == manifest.digest == parsed.digest


def test_an_index_push_costs_the_same_whatever_its_children(world):
    index = parse(index_manifest([child.bytes for child in world.children]))
    (manifest, _), count = measure(lambda: world.model.create_manifest_and_retarget_tag(
        world.ref, index, "multi", world.store))
    assert count <= PUSH_BUDGET
    assert ManifestChild.select().where(ManifestChild.manifest == manifest.id).count() == len(
        world.children)


def _unlabelled_image(world):
    config = config_bytes(world.size, seed="plain")
    layers = [layer_bytes(index, "plain") for index in range(world.size)]
    for data in [config] + layers:
        world.store.put(data)
    link_blobs(world.repository, config, *layers)
    return parse(image_manifest(config, layers))


PUSHES = {  # kind -> (the manifest to push, built before counting; its tag)
    "image with config labels": (lambda w: image(w.repository, w.store, w.size, "new"), "new"),
    "image": (_unlabelled_image, "plain"),
    "index": (lambda w: parse(index_manifest([child.bytes for child in w.children])), "multi"),
}


def test_pushes_send_the_same_statements_whatever_their_size(initialized_db):
    """Measured counts, not only bounds: an image of 1 or of 50 layers, an index of 1 or of
    10 children. An image without config labels costs what an index does; its labels add
    the same statements at any size."""
    counts = {}
    for size in (1, 50):
        with initialized_db.atomic() as savepoint:
            world = build_world(size)
            for kind, (manifest_of, tag_name) in PUSHES.items():
                parsed = manifest_of(world)
                (manifest, tag), counts[kind, size] = measure(
                    lambda w=world, parsed=parsed, tag_name=tag_name:
                    w.model.create_manifest_and_retarget_tag(w.ref, parsed, tag_name, w.store))
                assert (manifest.digest, tag.name) == (parsed.digest, tag_name)
            assert len(world.children) == min(size, 10)
            savepoint.rollback()
    for kind in PUSHES:
        assert counts[kind, 1] == counts[kind, 50], counts
    assert counts["image", 1] == counts["index", 1], counts
    assert counts["image with config labels", 1] > counts["image", 1], counts


WRITES = {
    "retarget_tag": lambda w: w.model.retarget_tag(w.ref, "latest", w.older),
    "delete_tag": lambda w: w.model.delete_tag(w.ref, "latest"),
    "delete_tags_for_manifest": lambda w: w.model.delete_tags_for_manifest(w.older),
    "change_repository_tag_expiration": lambda w: w.model.change_repository_tag_expiration(
        w.tag, datetime(2100, 1, 1, tzinfo=UTC)),
    "set_tags_expiration_for_manifest": lambda w: w.model.set_tags_expiration_for_manifest(
        w.manifest, 3600) or True,
    "change_tag_immutability": lambda w: w.model.change_tag_immutability(w.tag, True),
    "create_manifest_label": lambda w: w.model.create_manifest_label(w.manifest, "k", "v",
                                                                     "api"),
    "delete_manifest_label": lambda w: w.model.delete_manifest_label(w.manifest, w.label.uuid),
}


@pytest.mark.parametrize("method", sorted(WRITES))
def test_writes_stay_within_budget(world, method):
    result, count = measure(lambda: WRITES[method](world))
    assert count <= budget(method), (method, count)
    assert result, method
