"""create_manifest_and_retarget_tag: pushing images as a client does, blobs first."""
import pytest

from registry_model import errors
from registry_model.datatypes import Manifest, Tag
from registry_model.testing.builders import layer_bytes, sha256_digest
from registry_model.testing.databases import snapshot_rows

LABELS = {"com.example.vendor": "Example", "com.example.config": '{"some": "json"}'}


@pytest.fixture
def ref(builder):
    return builder.repository("devtable", "pushed")


def test_push_stores_the_exact_manifest_and_points_the_tag_at_it(registry_model, builder, ref):
    layers = layer_bytes(3)
    sent = builder.image_manifest(ref, "latest", layers, LABELS)
    builder.upload_all(ref, builder.uploads_for(layers, LABELS))
    manifest, tag = registry_model.create_manifest_and_retarget_tag(ref, sent, "latest", None)
    assert isinstance(manifest, Manifest) and isinstance(tag, Tag)
    assert (manifest.digest, manifest.manifest_bytes, manifest.media_type) == (
        sent.digest, sent.bytes, sent.media_type)
    assert (tag.name, tag.repository, tag.manifest_digest, tag.lifetime_end_ts, tag.reversion,
            tag.hidden) == ("latest", ref, sent.digest, None, False, False)
    assert registry_model.get_repo_tag(ref, "latest") == tag
    assert registry_model.get_manifest_for_tag(tag) == manifest
    assert registry_model.lookup_manifest_by_digest(ref, sent.digest) == manifest
    leaf = registry_model.get_legacy_image(ref, tag.docker_image_id)
    assert (builder.tag_image_id(leaf), leaf.blob_digest) == (tag.image_id,
                                                              sha256_digest(layers[-1]))


def test_the_media_types_a_model_says_it_stores_include_every_one_it_stored(registry_model,
                                                                          builder, ref):
    layers = layer_bytes(1)
    sent = builder.image_manifest(ref, "latest", layers, LABELS)
    builder.upload_all(ref, builder.uploads_for(layers, LABELS))
    manifest, _ = registry_model.create_manifest_and_retarget_tag(ref, sent, "latest", None)
    stored = registry_model.stored_manifest_media_types
    assert isinstance(stored, frozenset) and manifest.media_type in stored
    # Schema 1 is what every model reads; the others are the OCI wing's.
    assert {"application/vnd.docker.distribution.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.v1+prettyjws"} <= stored


def test_push_creates_the_legacy_chain_of_its_layers(registry_model, builder, ref):
    layers = [b"base", b"middle layer", b"top layer bytes"]
    tag = builder.push_image(ref, "latest", layers).tag
    leaf = registry_model.get_legacy_image(ref, tag.docker_image_id, include_parents=True)
    chain = (leaf,) + leaf.parents
    assert [image.blob_digest for image in chain] == [sha256_digest(layer)
                                                      for layer in reversed(layers)]
    assert all(not image.uploading for image in chain)
    images = {image.docker_image_id: image for image in registry_model.get_legacy_images(ref)}
    assert sorted(images) == sorted(image.docker_image_id for image in chain)
    assert images[leaf.docker_image_id].tags == ("latest",)
    assert all(images[image.docker_image_id].tags == () for image in leaf.parents)
    base_first = list(reversed(chain))
    sizes = [image.image_size for image in base_first]
    assert sizes == [len(layer) for layer in layers]
    assert [image.aggregate_size for image in base_first] == [sum(sizes[:n + 1])
                                                              for n in range(3)]


def test_pushing_the_same_image_again_reuses_the_images(registry_model, builder, ref):
    layers = layer_bytes(4)
    first = builder.push_image(ref, "latest", layers)
    assert len(registry_model.get_legacy_images(ref)) == 4
    again = builder.push_image(ref, "latest", layers, upload=False)
    other = builder.push_image(ref, "stable", layers, upload=False)
    assert len(registry_model.get_legacy_images(ref)) == 4
    assert again.tag.image_id == other.tag.image_id == first.tag.image_id
    assert again.tag.docker_image_id == first.tag.docker_image_id
    assert again.manifest.digest == first.manifest.digest


def test_layers_sharing_a_blob_share_its_record(registry_model, builder, ref):
    empty = b"empty layer"
    tag = builder.push_image(ref, "latest", [empty, b"middle", empty]).tag
    leaf = registry_model.get_legacy_image(ref, tag.docker_image_id, include_parents=True)
    assert leaf.blob_digest == leaf.parents[-1].blob_digest == sha256_digest(empty)
    assert leaf.image_size == leaf.parents[-1].image_size


def test_a_layer_blob_not_linked_to_the_repository_fails_and_writes_nothing(registry_model,
                                                                          builder, ref):
    layers = layer_bytes(3)
    manifest = builder.image_manifest(ref, "latest", layers, {"quay.expires-after": "1h"})
    builder.upload_all(ref, [data for data in builder.uploads_for(
        layers, {"quay.expires-after": "1h"}) if data != layers[2]])
    before = snapshot_rows()
    with pytest.raises(errors.ManifestBlobUnknownException) as raised:
        registry_model.create_manifest_and_retarget_tag(ref, manifest, "latest", None)
    assert sha256_digest(layers[2]) in str(raised.value)
    assert snapshot_rows() == before
    assert registry_model.get_repo_tag(ref, "latest") is None


def test_a_blob_of_another_repository_must_be_mounted_before_the_push(registry_model, builder,
                                                                     ref):
    source = builder.repository("otherspace", "source")
    layers = layer_bytes(2)
    manifest = builder.image_manifest(ref, "latest", layers)
    blobs = builder.upload_all(source, builder.uploads_for(layers))
    with pytest.raises(errors.ManifestBlobUnknownException):
        registry_model.create_manifest_and_retarget_tag(ref, manifest, "latest", None)
    for blob in blobs.values():
        assert registry_model.mount_blob_into_repository(blob, ref, 3600)
    _, tag = registry_model.create_manifest_and_retarget_tag(ref, manifest, "latest", None)
    leaf = registry_model.get_legacy_image(ref, tag.docker_image_id)
    assert leaf.blob_digest == sha256_digest(layers[-1])


def test_config_labels_become_immutable_manifest_labels(registry_model, builder, ref):
    manifest = builder.push_image(ref, "latest", layer_bytes(2), LABELS).manifest
    labels = registry_model.list_manifest_labels(manifest)
    assert {(label.key, label.value, label.source_type_name, label.media_type_name)
            for label in labels} == {
        ("com.example.vendor", "Example", "manifest", "text/plain"),
        ("com.example.config", '{"some": "json"}', "manifest", "application/json")}
    before = snapshot_rows()
    for label in labels:
        with pytest.raises(errors.ImmutableLabelException):
            registry_model.delete_manifest_label(manifest, label.uuid)
    assert snapshot_rows() == before


def test_a_manifest_without_labels_has_none(registry_model, builder, ref):
    manifest = builder.push_image(ref, "latest", layer_bytes(2)).manifest
    assert registry_model.list_manifest_labels(manifest) == []


def test_expires_after_label_ends_the_pushed_tag_after_its_start(registry_model, builder, ref):
    manifest, tag, _ = builder.push_image(ref, "latest", layer_bytes(2),
                                          {"quay.expires-after": "2h"})
    assert tag.lifetime_end_ts == tag.lifetime_start_ts + 7200
    assert registry_model.get_repo_tag(ref, "latest") == tag
    [label] = registry_model.list_manifest_labels(manifest)
    assert (label.key, label.value) == ("quay.expires-after", "2h")


@pytest.mark.parametrize("value", ["tomorrow", "2", "0h", "-2h", "2x", ""])
def test_an_invalid_expires_after_is_stored_and_changes_nothing(registry_model, builder, ref,
                                                                value):
    manifest, tag, _ = builder.push_image(ref, "latest", layer_bytes(2),
                                          {"quay.expires-after": value})
    assert tag.lifetime_end_ts is None
    assert registry_model.get_repo_tag(ref, "latest").lifetime_end_ts is None
    assert [(label.key, label.value) for label in registry_model.list_manifest_labels(manifest)
            ] == [("quay.expires-after", value)]


def test_pushing_over_a_tag_keeps_the_old_one_in_the_time_machine(registry_model, builder, ref):
    first_manifest, first_tag, _ = builder.push_image(ref, "latest", layer_bytes(2, "one"))
    second_manifest, second_tag, _ = builder.push_image(ref, "latest", layer_bytes(2, "two"))
    assert second_tag.id != first_tag.id
    history, has_more = registry_model.list_repository_tag_history(ref,
                                                                   specific_tag_name="latest")
    assert not has_more
    assert [(t.id, t.manifest_digest) for t in history] == [
        (second_tag.id, second_manifest.digest), (first_tag.id, first_manifest.digest)]
    assert history[1].lifetime_end_ts == second_tag.lifetime_start_ts
    assert registry_model.lookup_manifest_by_digest(ref, first_manifest.digest) is None
    assert registry_model.lookup_manifest_by_digest(ref, first_manifest.digest,
                                                    allow_dead=True) == first_manifest
    assert registry_model.has_expired_tag(ref, "latest")
    assert registry_model.get_repo_tag(ref, "latest") == second_tag


@pytest.mark.parametrize("tag_name", ["bad tag", "-leading", "x" * 129])
def test_an_invalid_tag_name_fails_and_writes_nothing(registry_model, builder, ref, tag_name):
    manifest = builder.image_manifest(ref, "latest", layer_bytes(1))
    builder.upload_all(ref, layer_bytes(1))
    before = snapshot_rows()
    with pytest.raises(errors.InvalidNameException):
        registry_model.create_manifest_and_retarget_tag(ref, manifest, tag_name, None)
    assert snapshot_rows() == before
