"""The builders write through the interface: real bytes in the store, real pushes."""
import pytest

from registry_model.testing.builders import layer_bytes, sha256_digest
from registry_model.testing.implementations import IMPLEMENTATIONS


@pytest.fixture(params=IMPLEMENTATIONS, ids=[entry.name for entry in IMPLEMENTATIONS])
def builder(request, initialized_db):
    return request.param.builder_class(request.param.model_class())


def test_upload_stores_the_bytes_and_links_the_blob(builder):
    ref = builder.repository("builder", "uploads")
    blob = builder.upload(ref, b"some bytes")
    assert blob.digest == sha256_digest(b"some bytes")
    assert builder.store.read(blob.digest) == b"some bytes"
    assert builder.model.get_repo_blob_by_digest(ref, blob.digest) == blob


def test_the_same_layers_make_the_same_manifest_and_share_their_images(builder):
    ref = builder.repository("builder", "pushes")
    layers = layer_bytes(3, "same")
    assert (builder.image_manifest(ref, "a", layers).digest
            == builder.image_manifest(ref, "a", layers).digest)
    first = builder.push_image(ref, "a", layers)
    second = builder.push_image(ref, "b", layers[:2])
    assert first.blob_digests == [sha256_digest(layer) for layer in layers]
    parents = builder.model.get_legacy_image(ref, first.tag.docker_image_id,
                                             include_parents=True).parents
    assert parents[0].id == second.tag.image_id


def test_hide_tag_hides_it_from_every_listing(builder):
    ref = builder.repository("builder", "hidden")
    tag = builder.push_image(ref, "latest").tag
    builder.hide_tag(tag)
    assert builder.model.get_repo_tag(ref, "latest") is None
    assert builder.model.list_all_active_repository_tags(ref) == []
