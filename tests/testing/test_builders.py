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
    # Every blob uploaded for the push (the layers, a config blob if any), in manifest order.
    assert first.blob_digests == [sha256_digest(data) for data in builder.uploads_for(layers)]
    parents = builder.model.get_legacy_image(ref, first.tag.docker_image_id,
                                             include_parents=True).parents
    assert parents[0].blob_digest == sha256_digest(layers[1])
    if builder.legacy_images_are_rows:  # the same lower layers are the same images
        assert parents[0].id == second.tag.image_id
    else:  # each manifest has its own view of its layers
        assert parents[0].docker_image_id != second.tag.docker_image_id


def test_labels_and_history_of_a_push_reach_the_model(builder):
    ref = builder.repository("builder", "labelled")
    pushed = builder.push_image(ref, "latest", layer_bytes(2, "labelled"), {"a": "b"},
                                {"comment": "built by the test"})
    labels = builder.model.list_manifest_labels(pushed.manifest)
    assert [(label.key, label.value, label.source_type_name) for label in labels] == [
        ("a", "b", "manifest")]
    top = builder.model.get_legacy_image(ref, pushed.tag.docker_image_id)
    assert top.comment == "built by the test"


def test_a_referrer_is_found_through_its_subject_where_supported(builder):
    ref = builder.repository("builder", "referred")
    subject = builder.push_image(ref, "latest", layer_bytes(1, "subject"))
    if not builder.supports_referrers:
        with pytest.raises(NotImplementedError):
            builder.push_referrer(ref, subject.manifest, "application/example")
        return
    stored, tag, parsed = builder.push_referrer(ref, subject.manifest, "application/example",
                                                tag_name="sig")
    assert (stored.digest, tag.name) == (parsed.digest, "sig")
    [referrer] = builder.model.lookup_referrers(ref, subject.manifest.digest)
    assert (referrer.digest, referrer.artifact_type) == (parsed.digest, "application/example")


def test_hide_tag_hides_it_from_every_listing(builder):
    ref = builder.repository("builder", "hidden")
    tag = builder.push_image(ref, "latest").tag
    builder.hide_tag(tag)
    assert builder.model.get_repo_tag(ref, "latest") is None
    assert builder.model.list_all_active_repository_tags(ref) == []
