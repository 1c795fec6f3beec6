"""Pushing schema 1 images into the pre-OCI wing: V1 ids, their rewriting, the corpus.

What every implementation does on a push is in tests/conformance/test_push.py.
"""
import csv
import json
from datetime import datetime
from pathlib import Path

import pytest

from registry_model import errors
from registry_model.database import Image, TagManifest
from registry_model.datatypes import Manifest, Tag
from registry_model.manifests import (
    DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE,
    DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE,
    generate_signing_key,
    parse_manifest_from_bytes,
)
from registry_model.testing.factories import RepositoryFactory

from . import build_manifest, chain, link_blobs, push, row_counts, sha256_digest, v1_id, v1_json

CORPUS = Path(__file__).resolve().parent.parent / "data" / "manifests"
NAMESPACE, REPOSITORY = "devtable", "pushed"
LABELS = {"com.example.vendor": "Example", "com.example.config": '{"some": "json"}'}


@pytest.fixture(scope="module")
def signing_key():
    return generate_signing_key()


@pytest.fixture
def ref(registry_model):
    RepositoryFactory(namespace__name=NAMESPACE, name=REPOSITORY)
    return registry_model.lookup_repository(NAMESPACE, REPOSITORY)


def _image_ids(layers) -> list:
    return [json.loads(metadata)["id"] for _, metadata in layers]


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
def test_push_stores_the_exact_manifest_and_points_the_tag_at_the_leaf(registry_model, ref,
                                                                      signing_key, signed):
    layers = chain(3, labels=LABELS)
    built, (manifest, tag) = push(registry_model, ref, layers,
                                   key=signing_key if signed else None)
    assert isinstance(manifest, Manifest) and isinstance(tag, Tag)
    assert manifest.digest == built.digest
    assert manifest.manifest_bytes == built.bytes
    assert manifest.media_type == (DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE if signed
                                   else DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE)
    assert manifest.tag_id == tag.id
    assert (tag.name, tag.repository, tag.docker_image_id, tag.manifest_digest,
            tag.lifetime_end_ts, tag.reversion, tag.hidden) == (
        "latest", ref, _image_ids(layers)[-1], built.digest, None, False, False)
    assert registry_model.get_repo_tag(ref, "latest") == tag
    assert registry_model.get_manifest_for_tag(tag) == manifest
    assert registry_model.lookup_manifest_by_digest(ref, built.digest) == manifest
    # The stored bytes parse back (and verify) as the manifest that was pushed.
    reparsed = parse_manifest_from_bytes(manifest.manifest_bytes, manifest.media_type)
    assert reparsed.digest == built.digest


def test_push_creates_the_legacy_chain_with_parents_blobs_and_v1_metadata(registry_model, ref):
    layers = chain(3, labels=LABELS)
    _, (_, tag) = push(registry_model, ref, layers)
    ids = _image_ids(layers)
    leaf = registry_model.get_legacy_image(ref, ids[-1], include_parents=True)
    assert leaf.id == tag.image_id
    assert [leaf.docker_image_id] + [p.docker_image_id for p in leaf.parents] == ids[::-1]
    assert [leaf.blob_digest] + [p.blob_digest for p in leaf.parents] == [
        digest for digest, _ in reversed(layers)]
    images = {image.docker_image_id: image for image in registry_model.get_legacy_images(ref)}
    assert sorted(images) == sorted(ids)
    for digest, metadata in layers:
        image = images[json.loads(metadata)["id"]]
        assert image.v1_metadata_string == metadata
        assert image.blob_digest == digest
        assert json.loads(image.command) == json.loads(metadata)["container_config"]["Cmd"]
        # Fractions are not kept by every backend (MySQL DATETIME has none).
        assert image.created.replace(microsecond=0) == datetime(2024, 1, 2, 3, 4, 5)
        assert not image.uploading
    assert images[ids[-1]].tags == ("latest",)
    assert images[ids[0]].tags == ()
    sizes = [images[i].image_size for i in ids]
    assert [images[i].aggregate_size for i in ids] == [sum(sizes[:n + 1]) for n in range(3)]


def test_pushing_clashing_v1_ids_rewrites_them_and_leaves_old_images_alone(registry_model, ref):
    original = chain(3, seed="ids", blob_seed="first")
    push(registry_model, ref, original)
    old_rows = {row.id: row.__data__ for row in Image.select()}
    # Same V1 ids, other content from the second layer up: the ids must not be shared.
    clashing = original[:1] + chain(3, seed="ids", blob_seed="second")[1:]
    _, (_, tag) = push(registry_model, ref, clashing, tag="other")
    assert {row.id: row.__data__ for row in Image.select().where(Image.id.in_(list(old_rows)))
            } == old_rows
    leaf = registry_model.get_legacy_image(ref, tag.docker_image_id, include_parents=True)
    new_chain = [leaf] + list(leaf.parents)
    ids = _image_ids(original)
    assert new_chain[-1].docker_image_id == ids[0]  # the base layer fits and is reused
    assert new_chain[-1].id in old_rows
    rewritten = new_chain[:-1]
    assert all(image.id not in old_rows for image in rewritten)
    assert all(image.docker_image_id not in ids and len(image.docker_image_id) == 64
               for image in rewritten)
    assert [image.blob_digest for image in reversed(new_chain)] == [d for d, _ in clashing]
    for image, parent in zip(new_chain, new_chain[1:], strict=False):
        metadata = json.loads(image.v1_metadata_string)
        assert (metadata["id"], metadata["parent"]) == (image.docker_image_id,
                                                        parent.docker_image_id)
    # The original tag still points at its own, untouched chain.
    assert registry_model.get_repo_tag(ref, "latest").docker_image_id == ids[-1]


def test_pushing_a_rewritten_manifest_again_reuses_the_rewritten_images(registry_model, ref):
    push(registry_model, ref, chain(2, seed="ids", blob_seed="first"))
    clashing = chain(2, seed="ids", blob_seed="second")
    _, (_, first) = push(registry_model, ref, clashing, tag="other")
    count = Image.select().count()
    _, (_, again) = push(registry_model, ref, clashing, tag="again", link=False)
    assert Image.select().count() == count == 4
    assert again.docker_image_id == first.docker_image_id != _image_ids(clashing)[-1]


def test_a_layer_whose_parent_is_not_the_layer_below_gets_a_new_id(registry_model, ref):
    base = v1_id("base")
    layers = [(sha256_digest("b0"), v1_json(base)),
              (sha256_digest("b1"), v1_json(v1_id("top"), parent=v1_id("elsewhere")))]
    _, (_, tag) = push(registry_model, ref, layers)
    leaf = registry_model.get_legacy_image(ref, tag.docker_image_id, include_parents=True)
    assert leaf.docker_image_id != v1_id("top")
    assert [p.docker_image_id for p in leaf.parents] == [base]
    assert json.loads(leaf.v1_metadata_string)["parent"] == base


def test_a_v1_id_repeated_inside_one_manifest_is_rewritten(registry_model, ref):
    same = v1_id("twice")
    layers = [(sha256_digest("b0"), v1_json(same)),
              (sha256_digest("b1"), v1_json(same, parent=same))]
    _, (_, tag) = push(registry_model, ref, layers)
    leaf = registry_model.get_legacy_image(ref, tag.docker_image_id, include_parents=True)
    assert [p.docker_image_id for p in leaf.parents] == [same]
    assert leaf.docker_image_id != same
    assert leaf.blob_digest == sha256_digest("b1")


def test_a_chain_too_deep_for_the_ancestors_path_fails_and_writes_nothing(registry_model, ref):
    # 600 images need more than 2048 characters of "/id/id/.../" whatever the ids.
    layers = [(sha256_digest("shared"), metadata) for _, metadata in chain(600)]
    manifest = build_manifest(NAMESPACE, REPOSITORY, "latest", layers)
    link_blobs(registry_model, ref, manifest.blob_digests)
    before = row_counts()
    with pytest.raises(errors.InvalidImageException):
        registry_model.create_manifest_and_retarget_tag(ref, manifest, "latest", None)
    assert row_counts() == before


def test_only_schema1_manifests_can_be_pushed(registry_model, ref):
    before = row_counts()
    with pytest.raises(errors.DataModelException):
        registry_model.create_manifest_and_retarget_tag(ref, b'{"schemaVersion": 2}', "latest",
                                                        None)
    assert row_counts() == before


def _corpus_rows(*folders) -> list:
    with open(CORPUS / "SOURCES.tsv", encoding="utf-8", newline="") as sources:
        rows = [row for row in csv.DictReader(sources, delimiter="\t")
                if row["path"].startswith(folders)]
    return [pytest.param(row, id=row["path"].rsplit("/", 1)[-1]) for row in rows]


@pytest.mark.parametrize("row", _corpus_rows("valid/schema1-signed/", "valid/schema1-unsigned/"))
def test_a_real_manifest_round_trips_byte_for_byte(registry_model, ref, row):
    data = (CORPUS / row["path"]).read_bytes()
    parsed = parse_manifest_from_bytes(data, row["media_type"])
    link_blobs(registry_model, ref, parsed.blob_digests)
    manifest, tag = registry_model.create_manifest_and_retarget_tag(ref, parsed, parsed.tag, None)
    pulled = registry_model.get_manifest_for_tag(registry_model.get_repo_tag(ref, parsed.tag))
    assert pulled == manifest
    assert pulled.manifest_bytes == data
    assert pulled.digest == parsed.digest
    if row["expected_digest"].startswith("sha256:") and len(row["expected_digest"]) == 71:
        assert pulled.digest == row["expected_digest"]
    assert TagManifest.get_by_id(manifest.id).json_data.encode("utf-8") == data
    assert tag.docker_image_id == parsed.leaf_layer.v1_metadata.image_id
    leaf = registry_model.get_legacy_image(ref, tag.docker_image_id, include_parents=True)
    assert [leaf.blob_digest] + [p.blob_digest for p in leaf.parents] == [
        layer.digest for layer in parsed.layers_top_first]
    assert {(label.key, label.value) for label in registry_model.list_manifest_labels(manifest)
            } == set(parsed.labels.items())
    for blob_digest in parsed.blob_digests:
        assert registry_model.get_repo_blob_by_digest(ref, blob_digest).digest == blob_digest
