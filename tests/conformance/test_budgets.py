"""The push, blob and tag-lifecycle methods stay within their statement budgets.

Budgets are read from the RegistryDataInterface docstrings (:mod:`registry_model.testing.budgets`),
so a test fails when code and documentation drift apart. Each method runs on a small repository
(one layer, one tag) and a large one (50 layers, 50 tags, a 50-row tag history), with the
lookup-table cache warm, and each test also checks the answer, so a method cannot meet its
budget by doing nothing.
"""
import uuid
from datetime import UTC, datetime
from functools import partial
from types import SimpleNamespace

import pytest

from registry_model.testing.budgets import budget
from registry_model.testing.builders import layer_bytes, sha256_digest

from . import measure as measured

SIZES = [1, 50]


def measure(call):
    """``(result, statement count, statements)`` of ``call()`` with a warm lookup cache."""
    result, counted = measured(call)
    return result, counted.count, counted.statements


@pytest.fixture(params=SIZES, ids=lambda size: "%d-layers-tags-rows" % size)
def world(request, registry_model, builder):
    """A repository with a ``size``-layer image, ``size`` extra tags and history rows."""
    size = request.param
    ref = builder.repository("budgets", "subject")
    target = builder.repository("budgets", "target")
    built = builder.push_image(ref, "latest", layer_bytes(size, "subject"),
                               labels={"com.example.size": str(size)})
    manifest = built.manifest
    older_manifest = builder.push_image(ref, "older", layer_bytes(size, "older")).manifest
    for index in range(size):
        registry_model.retarget_tag(ref, "tag%03d" % index, manifest, None, None)
        # Move "history" back and forth: a tag row per move stays in the time machine.
        registry_model.retarget_tag(ref, "history", older_manifest if index % 2 else manifest,
                                    None, None)
    tag = registry_model.retarget_tag(ref, "latest", manifest, None, None)
    return SimpleNamespace(size=size, ref=ref, target=target, built=built,
                           manifest=manifest, tag=tag, older_manifest=older_manifest,
                           blob=registry_model.get_repo_blob_by_digest(ref, built.blob_digests[0]))


# Blobs and uploads


def test_get_repo_blob_by_digest(registry_model, world):
    digest = world.built.blob_digests[-1]
    blob, count, statements = measure(
        lambda: registry_model.get_repo_blob_by_digest(world.ref, digest))
    assert blob.digest == digest
    assert count <= budget("get_repo_blob_by_digest"), statements
    blob, count, statements = measure(lambda: registry_model.get_repo_blob_by_digest(
        world.ref, digest, include_placements=True))
    assert blob.placements == ("local",)
    assert count <= budget("get_repo_blob_by_digest", "with placements"), statements


def test_upload_methods(registry_model, world):
    upload_id = str(uuid.uuid4())
    upload, count, statements = measure(lambda: registry_model.create_blob_upload(
        world.ref, upload_id, "local", {"part": 1}))
    assert upload.upload_id == upload_id
    assert count <= budget("create_blob_upload"), statements

    found, count, statements = measure(
        lambda: registry_model.lookup_blob_upload(world.ref, upload_id))
    assert found == upload
    assert count <= budget("lookup_blob_upload"), statements

    updated, count, statements = measure(lambda: registry_model.update_blob_upload(
        upload, 20, {"part": 2}, 10, 1, "state"))
    assert updated.byte_count == 10
    assert count <= budget("update_blob_upload"), statements

    blob, count, statements = measure(lambda: registry_model.commit_blob_upload(
        updated, "sha256:" + "ab" * 32, 3600))
    assert blob.digest == "sha256:" + "ab" * 32
    assert count <= budget("commit_blob_upload"), statements

    # Committing a digest the registry holds already reuses the blob.
    again = registry_model.create_blob_upload(world.ref, str(uuid.uuid4()), "local", None)
    reused, count, statements = measure(lambda: registry_model.commit_blob_upload(
        again, world.blob.digest, 3600))
    assert reused.id == world.blob.id
    assert count <= budget("commit_blob_upload"), statements

    doomed = registry_model.create_blob_upload(world.ref, str(uuid.uuid4()), "local", None)
    _, count, statements = measure(lambda: registry_model.delete_blob_upload(doomed))
    assert registry_model.lookup_blob_upload(world.ref, doomed.upload_id) is None
    assert count <= budget("delete_blob_upload"), statements


def test_mount_blob_into_repository(registry_model, world):
    mounted, count, statements = measure(lambda: registry_model.mount_blob_into_repository(
        world.blob, world.target, 3600))
    assert mounted
    assert registry_model.get_repo_blob_by_digest(world.target, world.blob.digest) == world.blob
    assert count <= budget("mount_blob_into_repository"), statements


# Tag lifecycle


def test_tag_reads(registry_model, world):
    tag, count, statements = measure(lambda: registry_model.get_repo_tag(world.ref, "latest"))
    assert tag == world.tag
    assert count <= budget("get_repo_tag"), statements

    tags, count, statements = measure(
        lambda: registry_model.list_all_active_repository_tags(world.ref))
    assert len(tags) == world.size + 3  # tagNNN, history, latest, older
    assert count <= budget("list_all_active_repository_tags"), statements

    page, count, statements = measure(lambda: registry_model.lookup_active_repository_tags(
        world.ref, last="older", limit=world.size))
    assert [t.name for t in page] == ["tag%03d" % i for i in range(world.size)]
    assert count <= budget("lookup_active_repository_tags"), statements

    (rows, has_more), count, statements = measure(
        lambda: registry_model.list_repository_tag_history(world.ref, page=1, size=world.size))
    assert (len(rows), has_more) == (world.size, True)
    assert count <= budget("list_repository_tag_history"), statements

    expired, count, statements = measure(
        lambda: registry_model.has_expired_tag(world.ref, "history"))
    assert expired == (world.size > 1)
    assert count <= budget("has_expired_tag"), statements


def test_retarget_tag(registry_model, builder, world):
    moved, count, statements = measure(lambda: registry_model.retarget_tag(
        world.ref, "latest", world.older_manifest, None, None, is_reversion=True))
    assert moved.reversion and moved.manifest_digest == world.older_manifest.digest
    assert count <= budget("retarget_tag"), statements

    leaf = registry_model.get_legacy_image(world.ref, world.tag.docker_image_id)
    built, count, statements = measure(
        lambda: registry_model.retarget_tag(world.ref, "rebuilt", leaf, None, None))
    assert built.image_id == builder.tag_image_id(leaf)
    assert count <= budget("retarget_tag"), statements


def test_delete_tag(registry_model, world):
    deleted, count, statements = measure(lambda: registry_model.delete_tag(world.ref, "latest"))
    assert deleted.id == world.tag.id
    assert count <= budget("delete_tag"), statements


def test_delete_tags_for_manifest(registry_model, world):
    ended, count, statements = measure(
        lambda: registry_model.delete_tags_for_manifest(world.manifest))
    # latest and every tagNNN; "history" ends on the subject manifest for odd sizes.
    assert len(ended) == world.size + 1 + (world.size % 2)
    assert count <= budget("delete_tags_for_manifest"), statements


def test_expiration_methods(registry_model, world):
    end = datetime.fromtimestamp(world.tag.lifetime_start_ts + 86400, tz=UTC)
    result, count, statements = measure(
        lambda: registry_model.change_repository_tag_expiration(world.tag, end))
    assert result == (None, True)
    assert count <= budget("change_repository_tag_expiration"), statements

    _, count, statements = measure(
        lambda: registry_model.set_tags_expiration_for_manifest(world.manifest, 7200))
    assert registry_model.get_repo_tag(world.ref, "tag000").lifetime_end_ts is not None
    assert count <= budget("set_tags_expiration_for_manifest"), statements


def test_get_legacy_images_owned_by_tag(registry_model, world):
    owned, count, statements = measure(
        lambda: registry_model.get_legacy_images_owned_by_tag(world.tag))
    assert owned == []  # every tagNNN shares the image
    assert count <= budget("get_legacy_images_owned_by_tag"), statements
    older = registry_model.get_repo_tag(world.ref, "older")
    registry_model.delete_tag(world.ref, "history")
    owned, count, statements = measure(
        lambda: registry_model.get_legacy_images_owned_by_tag(older))
    assert len(owned) == world.size
    assert count <= budget("get_legacy_images_owned_by_tag"), statements


def test_create_manifest_label_with_expires_after_adds_only_its_handler(registry_model, world):
    plain, plain_count, statements = measure(lambda: registry_model.create_manifest_label(
        world.manifest, "com.example.plain", "x", "api"))
    assert plain.key == "com.example.plain"
    assert plain_count <= budget("create_manifest_label"), statements
    _, count, statements = measure(lambda: registry_model.create_manifest_label(
        world.manifest, "quay.expires-after", "2h", "api"))
    assert registry_model.get_repo_tag(world.ref, "tag000").lifetime_end_ts is not None
    # The handler reads the manifest's digest and ends its tags in one UPDATE, whatever
    # the number of tags (the interface's 3 does not count handlers).
    assert count == plain_count + 2, statements
    assert count <= budget("create_manifest_label", "for a key with a handler"), statements


# Pushing: the count must not grow with the layers.


def _push_count(registry_model, builder, layers_count: int, move: bool, labels) -> int:
    ref = builder.repository("push%s" % uuid.uuid4().hex[:8], "image")
    if move:
        builder.push_image(ref, "latest", layer_bytes(layers_count, "previous"))
    layers = layer_bytes(layers_count, "s")
    manifest = builder.image_manifest(ref, "latest", layers, labels)
    builder.upload_all(ref, builder.uploads_for(layers, labels))
    (_, tag), count, statements = measure(lambda: registry_model.create_manifest_and_retarget_tag(
        ref, manifest, "latest", None))
    assert tag.manifest_digest == manifest.digest
    assert count <= budget("create_manifest_and_retarget_tag"), statements
    return count


@pytest.mark.parametrize("move", [False, True], ids=["new-tag", "moved-tag"])
@pytest.mark.parametrize("labels", [None, {"a": "b", "quay.expires-after": "2h"}],
                         ids=["no-labels", "expires-after"])
def test_create_manifest_and_retarget_tag_costs_the_same_for_1_and_50_layers(
        registry_model, builder, move, labels):
    one = _push_count(registry_model, builder, 1, move, labels)
    fifty = _push_count(registry_model, builder, 50, move, labels)
    assert one == fifty


@pytest.mark.parametrize("layers_count", SIZES)
def test_a_pushed_image_is_pulled_in_three_reads_plus_one_per_layer(registry_model, builder,
                                                                    layers_count):
    ref = builder.repository("devtable", "pulled")
    layers = layer_bytes(layers_count, "pulled")
    manifest = builder.image_manifest(ref, "latest", layers)
    for data in builder.uploads_for(layers):
        upload_id = str(uuid.uuid4())
        upload, created, _ = measure(partial(registry_model.create_blob_upload, ref,
                                             upload_id, "local", None))
        builder.store.initiate_upload(upload_id)
        length = builder.store.write_chunk(upload_id, 0, data)
        upload, updated, _ = measure(partial(registry_model.update_blob_upload, upload, length,
                                             None, length, 1, None))
        digest = builder.store.complete_upload(upload_id, sha256_digest(data)).digest
        _, committed, _ = measure(partial(registry_model.commit_blob_upload, upload, digest, 60))
        assert created + updated + committed <= (budget("create_blob_upload")
                                                 + budget("update_blob_upload")
                                                 + budget("commit_blob_upload"))
    _, pushed, statements = measure(
        lambda: registry_model.create_manifest_and_retarget_tag(ref, manifest, "latest", None))
    assert pushed <= budget("create_manifest_and_retarget_tag"), statements

    def pull():
        repository = registry_model.lookup_repository("devtable", "pulled")
        tag = registry_model.get_repo_tag(repository, "latest")
        pulled = registry_model.get_manifest_for_tag(tag)
        blobs = [registry_model.get_repo_blob_by_digest(repository, digest)
                 for digest in pulled and manifest.blob_digests]
        return pulled, blobs

    (pulled, blobs), count, statements = measure(pull)
    assert pulled.manifest_bytes == manifest.bytes
    assert [blob.digest for blob in blobs] == list(manifest.blob_digests)
    assert [registry_model.get_repo_blob_by_digest(ref, digest) is not None
            for digest in map(sha256_digest, layers)] == [True] * layers_count
    assert count == 3 + len(manifest.blob_digests), statements  # a config blob too
