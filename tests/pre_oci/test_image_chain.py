"""registry_model.pre_oci.image.synthesize_image_chain: the legacy images of a pushed manifest."""
import hashlib
import json
from datetime import datetime

import pytest

from registry_model.database import Image, ImageStorage
from registry_model.pre_oci import image as image_model
from registry_model.pre_oci.image import LayerSpec
from registry_model.testing.factories import (
    ImageFactory,
    ImageStorageFactory,
    RepositoryFactory,
)
from registry_model.testing.queries import count_statements

CREATED = datetime(2024, 1, 2, 3, 4, 5)


def _id(seed: str) -> str:
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()


def _layers(count: int, seed: str = "img", blobs=None, start_parent=None) -> list:
    """``count`` layers, base first; ``blobs`` are ImageStorage rows (made when absent)."""
    blobs = blobs or [ImageStorageFactory() for _ in range(count)]
    layers, parent = [], start_parent
    for index in range(count):
        image_id = _id("%s-%d" % (seed, index))
        metadata = {"id": image_id, "created": "2024-01-02T03:04:05Z"}
        if parent is not None:
            metadata["parent"] = parent
        layers.append(LayerSpec(image_id, parent, blobs[index].content_checksum, CREATED,
                                "comment %d" % index, '["/bin/sh"]', json.dumps(metadata)))
        parent = image_id
    return layers


def _blobs(layers) -> dict:
    rows = ImageStorage.select().where(
        ImageStorage.content_checksum.in_([layer.blob_digest for layer in layers]))
    return {row.content_checksum: row for row in rows}


def _stored(repo) -> dict:
    return {row.docker_image_id: row for row in Image.select().where(Image.repository == repo.id)}


@pytest.fixture
def repo(initialized_db):
    return RepositoryFactory()


def test_a_new_chain_is_created_base_first_with_ancestors_and_sizes(repo):
    layers = _layers(3)
    chain = image_model.synthesize_image_chain(repo.id, layers, _blobs(layers))
    stored = _stored(repo)
    assert [image.docker_image_id for image in chain] == [layer.docker_image_id
                                                          for layer in layers]
    rows = [stored[layer.docker_image_id] for layer in layers]
    assert [image.id for image in chain] == [row.id for row in rows]
    assert [row.ancestors for row in rows] == [
        "/", "/%d/" % rows[0].id, "/%d/%d/" % (rows[0].id, rows[1].id)]
    sizes = [row.storage.image_size for row in rows]
    assert [row.aggregate_size for row in rows] == [sizes[0], sizes[0] + sizes[1], sum(sizes)]
    for row, layer in zip(rows, layers, strict=True):
        assert (row.v1_json_metadata, row.created, row.comment, row.command,
                row.storage.content_checksum) == (layer.v1_json_metadata, CREATED,
                                                  layer.comment, layer.command,
                                                  layer.blob_digest)


def test_the_same_chain_again_is_reused_without_writing(repo):
    layers = _layers(4)
    blobs = _blobs(layers)
    first = image_model.synthesize_image_chain(repo.id, layers, blobs)
    with count_statements() as counted:
        again = image_model.synthesize_image_chain(repo.id, layers, blobs)
    assert [image.id for image in again] == [image.id for image in first]
    assert counted.count == 1
    assert Image.select().count() == 4


def test_a_chain_built_on_an_existing_one_reuses_the_base_and_extends_it(repo):
    base_layers = _layers(2, seed="base")
    base = image_model.synthesize_image_chain(repo.id, base_layers, _blobs(base_layers))
    derived = base_layers + _layers(2, seed="app", start_parent=base_layers[-1].docker_image_id)
    chain = image_model.synthesize_image_chain(repo.id, derived, _blobs(derived))
    assert [image.id for image in chain[:2]] == [image.id for image in base]
    stored = _stored(repo)
    top = stored[derived[-1].docker_image_id]
    assert top.ancestor_id_list() == [base[0].id, base[1].id, chain[2].id]
    assert Image.select().count() == 4


def test_clashing_ids_are_rewritten_from_the_first_clash_up(repo):
    old_layers = _layers(3, seed="same")
    old = image_model.synthesize_image_chain(repo.id, old_layers, _blobs(old_layers))
    old_rows = {row.id: row.__data__ for row in Image.select()}
    # Same ids and base blob, other blobs above: layers 1 and 2 cannot reuse the old images.
    new_blobs = [old[0].storage] + [ImageStorageFactory() for _ in range(2)]
    new_layers = _layers(3, seed="same", blobs=new_blobs)
    chain = image_model.synthesize_image_chain(repo.id, new_layers, _blobs(new_layers))
    assert chain[0].id == old[0].id
    assert all(image.docker_image_id not in {layer.docker_image_id for layer in old_layers}
               for image in chain[1:])
    assert {row.id: row.__data__ for row in Image.select().where(Image.id.in_(list(old_rows)))
            } == old_rows
    stored = _stored(repo)
    middle, top = stored[chain[1].docker_image_id], stored[chain[2].docker_image_id]
    assert top.ancestor_id_list() == [old[0].id, middle.id]
    assert json.loads(middle.v1_json_metadata)["id"] == middle.docker_image_id
    assert json.loads(middle.v1_json_metadata)["parent"] == old[0].docker_image_id
    assert json.loads(top.v1_json_metadata)["parent"] == middle.docker_image_id
    # The rest of the V1 JSON is kept.
    assert json.loads(top.v1_json_metadata)["created"] == "2024-01-02T03:04:05Z"
    assert [image.storage.content_checksum for image in (middle, top)] == [
        layer.blob_digest for layer in new_layers[1:]]


def test_rewritten_ids_are_stable_so_a_second_push_reuses_them(repo):
    old_layers = _layers(2, seed="same")
    image_model.synthesize_image_chain(repo.id, old_layers, _blobs(old_layers))
    new_layers = _layers(2, seed="same")  # new blobs for every layer
    first = image_model.synthesize_image_chain(repo.id, new_layers, _blobs(new_layers))
    count = Image.select().count()
    again = image_model.synthesize_image_chain(repo.id, new_layers, _blobs(new_layers))
    assert [image.id for image in again] == [image.id for image in first]
    assert Image.select().count() == count == 4


def test_an_existing_image_with_the_same_blob_but_another_parent_is_not_reused(repo):
    blob = ImageStorageFactory()
    lone = ImageFactory(repository=repo, docker_image_id=_id("img-1"), storage=blob)
    layers = _layers(2, blobs=[ImageStorageFactory(), blob])
    chain = image_model.synthesize_image_chain(repo.id, layers, _blobs(layers))
    assert chain[1].id != lone.id
    assert chain[1].docker_image_id != _id("img-1")
    assert _stored(repo)[chain[1].docker_image_id].ancestor_id_list() == [chain[0].id]


@pytest.mark.parametrize("bad_id", ["abc", "A" * 64, "g" * 64, ""])
def test_a_malformed_v1_id_is_replaced_by_a_valid_one(repo, bad_id):
    layers = _layers(2)
    layers[0] = layers[0]._replace(docker_image_id=bad_id)
    layers[1] = layers[1]._replace(parent_image_id=bad_id)
    chain = image_model.synthesize_image_chain(repo.id, layers, _blobs(layers))
    for image in chain:
        assert len(image.docker_image_id) == 64
        assert set(image.docker_image_id) <= set("0123456789abcdef")
    assert chain[1].ancestor_id_list() == [chain[0].id]


def test_one_v1_id_twice_in_a_chain_gets_a_second_id(repo):
    layers = _layers(2)
    layers[1] = layers[1]._replace(docker_image_id=layers[0].docker_image_id)
    chain = image_model.synthesize_image_chain(repo.id, layers, _blobs(layers))
    assert chain[0].docker_image_id == layers[0].docker_image_id
    assert chain[1].docker_image_id != chain[0].docker_image_id
    assert Image.select().count() == 2


def test_an_empty_chain_is_empty_and_sends_nothing(repo):
    with count_statements() as counted:
        assert image_model.synthesize_image_chain(repo.id, [], {}) == []
    assert counted.count == 0


@pytest.mark.parametrize("count", [1, 50])
def test_a_chain_costs_at_most_five_statements_whatever_its_length(repo, count):
    old_layers = _layers(count, seed="same")
    old_blobs = _blobs(old_layers)
    with count_statements() as fresh:
        image_model.synthesize_image_chain(repo.id, old_layers, old_blobs)
    new_layers = _layers(count, seed="same")
    new_blobs = _blobs(new_layers)
    with count_statements() as rewritten:
        chain = image_model.synthesize_image_chain(repo.id, new_layers, new_blobs)
    assert len(chain) == count
    assert fresh.count == 4, fresh.statements
    assert rewritten.count == 5, rewritten.statements
