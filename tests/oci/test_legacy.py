"""The legacy view of schema 1 manifests carried from the pre-OCI tables keeps their own V1 ids."""
import json
from datetime import datetime
from types import SimpleNamespace

from registry_model.oci import legacy


def _image(number, parent_size=0):
    return SimpleNamespace(docker_image_id="%064x" % (number * 0x123456789), blob_digest="sha256:"
                           + "%064x" % number, image_size=10 * number,
                           aggregate_size=parent_size + 10 * number,
                           created=datetime(2024, 1, number, 3, 4, 5, 123456),
                           comment="step %d" % number, command='["/bin/sh", "-c", "%d"]' % number,
                           v1_json_metadata='{"id": "%064x"}' % (number * 0x123456789))


def test_a_schema1_history_gives_the_images_as_they_were_top_first_with_parents():
    chain = [_image(1), _image(2, 10), _image(3, 30)]
    row = SimpleNamespace(id=7, digest="sha256:" + "e" * 64,
                          layer_history=legacy.schema1_layer_history(chain))
    images = legacy.legacy_images(row, ("latest",))
    assert [image.docker_image_id for image in images] == \
        [image.docker_image_id for image in reversed(chain)]
    top = images[0]
    assert (top.created, top.comment, top.command, top.image_size, top.aggregate_size,
            top.v1_metadata_string, top.blob_digest, top.tags) == \
        (chain[2].created, "step 3", chain[2].command, 30, 60, chain[2].v1_json_metadata,
         chain[2].blob_digest, ("latest",))
    assert [parent.docker_image_id for parent in top.parents] == \
        [chain[1].docker_image_id, chain[0].docker_image_id]
    assert images[2].tags == () and images[2].parents == ()


def test_find_image_takes_the_synthetic_place_or_searches_by_id():
    row = SimpleNamespace(id=7, digest="sha256:" + "e" * 64,
                          layer_history=legacy.schema1_layer_history([_image(1), _image(2)]))
    images = legacy.legacy_images(row)
    wanted = images[1].docker_image_id
    for place in (1, 0, 0xdeadbeef):
        assert legacy.find_image(row, wanted, place, with_parents=True) == images[1]
        assert legacy.find_image(row, wanted, place, with_parents=False) == \
            images[1]._replace(parents=None, tags=None)
    assert legacy.find_image(row, images[0].docker_image_id, 1, with_parents=True).parents \
        == (images[1],)
    assert legacy.find_image(row, "f" * 64, 0, with_parents=True) is None
    assert legacy.find_image(row, legacy.legacy_image_id(row.digest, 0), 0, True) is None


def test_a_listing_shows_an_image_shared_by_schema1_manifests_once_with_every_tag():
    chain = [_image(1), _image(2, 10)]
    first = SimpleNamespace(id=7, digest="sha256:" + "e" * 64,
                            layer_history=legacy.schema1_layer_history(chain))
    second = SimpleNamespace(id=8, digest="sha256:" + "d" * 64,
                             layer_history=legacy.schema1_layer_history(chain))
    assert legacy.has_own_v1_ids(first)
    listing = legacy.legacy_images(first, ("a",)) + legacy.legacy_images(second, ("b",))
    merged = legacy.merge_shared_images(listing)
    assert [image.docker_image_id for image in merged] == \
        [chain[1].docker_image_id, chain[0].docker_image_id]
    assert [image.tags for image in merged] == [("a", "b"), ()]


def _synthetic_row(steps):
    """A manifest row whose kept history has one entry per (created, created_by) step."""
    entries = [{"digest": "sha256:" + "%064x" % index, "size": index, "created": created,
                "created_by": created_by, "comment": None}
               for index, (created, created_by) in enumerate(steps)]
    return SimpleNamespace(id=3, digest="sha256:" + "c" * 64,
                           layer_history=json.dumps(entries, ensure_ascii=False))


def test_commands_are_the_json_list_of_created_by_with_or_without_escapes():
    plain = ["/bin/sh -c #(nop) RUN make", "ünïcode ☃ step", "", None]
    escaped = plain + ['CMD ["bash"]', "a\\b", "line\nbreak\ttab\x01", "\u2028 sep"]
    for created_bys in (plain, escaped):
        row = _synthetic_row([("2024-01-01T00:00:00Z", by) for by in created_bys])
        images = legacy.legacy_images(row)[::-1]  # base first, as the steps
        assert [image.command for image in images] == \
            [None if by is None else json.dumps([by], ensure_ascii=False) for by in created_bys]


def test_created_times_are_naive_utc_whatever_their_spelling():
    spellings = {"2024-01-02T03:04:05Z": datetime(2024, 1, 2, 3, 4, 5),
                 "2024-01-02T03:04:05.123456789Z": datetime(2024, 1, 2, 3, 4, 5, 123456),
                 "2024-01-02T05:04:05+02:00": datetime(2024, 1, 2, 3, 4, 5),
                 "2024-01-02T03:04:05": datetime(2024, 1, 2, 3, 4, 5),
                 "Z": None, "": None, None: None, "not a time": None}
    row = _synthetic_row([(created, "x") for created in spellings])
    for with_parents in (True, False):
        images = legacy.legacy_images(row, with_parents=with_parents)[::-1]
        assert [image.created for image in images] == list(spellings.values())
        assert all(image.created is None or image.created.tzinfo is None for image in images)
    top = legacy.legacy_images(row)[0]
    assert [parent.created for parent in top.parents] == list(spellings.values())[-2::-1]
    assert legacy.find_image(row, top.docker_image_id, 0, with_parents=False).created is None


def test_a_manifest_without_kept_history_has_no_legacy_images():
    for history in (None, "", "[]"):
        row = SimpleNamespace(id=4, digest="sha256:" + "b" * 64, layer_history=history)
        assert legacy.legacy_images(row) == [] and legacy.legacy_images(row, ("t",)) == []
        assert legacy.repository_images([row], {4: ["t"]}) == []
        assert legacy.find_image(row, legacy.legacy_image_id(row.digest, 0), 0, True) is None
