"""The legacy (V1) image view of pushed images: chains, parents and the tags on each."""
from registry_model.testing.builders import layer_bytes


def test_legacy_images_come_with_parents_and_tags(registry_model, builder):
    ref = builder.repository("devtable", "chain")
    tag = builder.push_image(ref, "latest", layer_bytes(3)).tag
    top = registry_model.get_legacy_image(ref, tag.docker_image_id, include_parents=True)
    middle, base = top.parents
    images = {image.docker_image_id: image for image in registry_model.get_legacy_images(ref)}
    assert [p.docker_image_id for p in images[top.docker_image_id].parents] == [
        middle.docker_image_id, base.docker_image_id]
    assert images[top.docker_image_id].tags == ("latest",)
    assert images[base.docker_image_id].tags == ()
    assert [p.id for p in top.parents] == [middle.id, base.id]
    assert registry_model.get_legacy_image(ref, top.docker_image_id).parents is None
    assert registry_model.get_legacy_image(ref, top.docker_image_id).tags is None


def test_legacy_image_tags_leave_out_hidden_and_dead_tags(registry_model, builder):
    ref = builder.repository("devtable", "single")
    pushed = builder.push_image(ref, "shown", layer_bytes(1))
    secret = registry_model.retarget_tag(ref, "secret", pushed.manifest, None, None)
    builder.hide_tag(secret)
    registry_model.retarget_tag(ref, "gone", pushed.manifest, None, None)
    registry_model.delete_tag(ref, "gone")
    [legacy] = registry_model.get_legacy_images(ref)
    assert legacy.tags == ("shown",)
    assert legacy.parents == ()


def test_get_legacy_image_of_another_repository_or_unknown_id_is_none(registry_model, builder):
    other = builder.repository("devtable", "other")
    image = builder.push_image(other, "latest", layer_bytes(1)).tag
    ref = builder.repository("devtable", "empty")
    assert registry_model.get_legacy_image(ref, image.docker_image_id) is None
    assert registry_model.get_legacy_image(ref, "not-an-id", include_parents=True) is None
