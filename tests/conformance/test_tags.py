"""The tag lifecycle: lookups, listings, history, moves, deletion, expiration, owned images."""
import time
from datetime import UTC, datetime, timedelta

import pytest

from registry_model import errors
from registry_model.datatypes import LegacyImage, Tag
from registry_model.testing.budgets import budget
from registry_model.testing.builders import layer_bytes
from registry_model.testing.databases import snapshot_rows

from . import measure

NAMESPACE, REPOSITORY = "devtable", "tags"


@pytest.fixture
def ref(builder):
    return builder.repository(NAMESPACE, REPOSITORY)


@pytest.fixture
def image(builder, ref):
    """One pushed image, tagged ``base``: the manifest every other tag is moved to."""
    return builder.push_image(ref, "base", layer_bytes(1, "base"))


def _now() -> int:
    return int(time.time())


def _tags(registry_model, ref, image, names) -> dict:
    """Point each name at ``image``'s manifest: ``{name: Tag}``."""
    return {name: registry_model.retarget_tag(ref, name, image.manifest, None, None)
            for name in names}


def _dead(registry_model, ref, image, name) -> Tag:
    _tags(registry_model, ref, image, [name])
    return registry_model.delete_tag(ref, name)


def _hidden(registry_model, builder, ref, image, name) -> Tag:
    tag = _tags(registry_model, ref, image, [name])[name]
    builder.hide_tag(tag)
    return tag


def _expiring(registry_model, ref, image, name, seconds=600) -> Tag:
    tag = _tags(registry_model, ref, image, [name])[name]
    end = datetime.fromtimestamp(_now() + seconds, tz=UTC)
    registry_model.change_repository_tag_expiration(tag, end)
    return registry_model.get_repo_tag(ref, name)


# find_matching_tag, get_most_recent_tag and get_repo_tag


def test_find_matching_tag_prefers_earlier_names(registry_model, ref, image):
    _tags(registry_model, ref, image, ["latest", "v1"])
    found = registry_model.find_matching_tag(ref, ["missing", "v1", "latest"])
    assert isinstance(found, Tag)
    assert found.name == "v1"
    assert found.repository == ref
    assert registry_model.find_matching_tag(ref, ["missing"]) is None
    assert registry_model.find_matching_tag(ref, []) is None


def test_find_matching_tag_skips_dead_and_hidden(registry_model, builder, ref, image):
    _dead(registry_model, ref, image, "dead")
    _hidden(registry_model, builder, ref, image, "hidden")
    expiring = _expiring(registry_model, ref, image, "expiring", 3600)
    assert registry_model.find_matching_tag(ref, ["dead", "hidden"]) is None
    assert registry_model.find_matching_tag(ref, ["dead", "expiring"]).id == expiring.id


def test_get_most_recent_tag_breaks_ties_by_id(registry_model, builder, ref, image, clock):
    registry_model.delete_tag(ref, "base")
    clock.at(_now() - 300)
    _tags(registry_model, ref, image, ["old"])
    clock.at(_now() - 200)
    _tags(registry_model, ref, image, ["a"])
    newest = _tags(registry_model, ref, image, ["b"])["b"]
    clock.at(_now() - 100)
    _hidden(registry_model, builder, ref, image, "hidden")
    clock.at(None)
    assert registry_model.get_most_recent_tag(ref).id == newest.id


def test_get_most_recent_tag_of_an_untagged_repository_is_none(registry_model, builder):
    assert registry_model.get_most_recent_tag(builder.repository("devtable", "empty")) is None


def test_get_repo_tag_returns_the_alive_tag_with_its_manifest_digest(registry_model, builder,
                                                                    ref):
    manifest, pushed, _ = builder.push_image(ref, "latest", layer_bytes(2))
    tag = registry_model.get_repo_tag(ref, "latest")
    assert tag == pushed
    assert (tag.name, tag.manifest_digest, tag.repository) == ("latest", manifest.digest, ref)


def test_get_repo_tag_ignores_dead_hidden_and_impossible_names(registry_model, builder, ref,
                                                              image):
    _dead(registry_model, ref, image, "dead")
    _hidden(registry_model, builder, ref, image, "hidden")
    assert registry_model.get_repo_tag(ref, "dead") is None
    assert registry_model.get_repo_tag(ref, "hidden") is None
    assert registry_model.get_repo_tag(ref, "absent") is None
    assert registry_model.get_repo_tag(ref, "not a tag") is None


def test_get_repo_tag_stays_in_its_repository(registry_model, builder, ref):
    other = builder.repository("elsewhere", REPOSITORY)
    builder.push_image(other, "latest")
    assert registry_model.get_repo_tag(ref, "latest") is None


# The listings


def test_list_all_active_repository_tags_lists_alive_visible_tags_by_name(registry_model,
                                                                         builder, ref, image):
    other = builder.push_image(ref, "latest", layer_bytes(1, "other"))
    alive = _tags(registry_model, ref, image, ["v2", "B-side", "a_1", "v10"])
    alive.update(base=image.tag, latest=other.tag)
    expiring = _expiring(registry_model, ref, image, "expiring")
    _hidden(registry_model, builder, ref, image, "hidden")
    _dead(registry_model, ref, image, "dead")
    listed = registry_model.list_all_active_repository_tags(ref)
    assert all(isinstance(tag, Tag) for tag in listed)
    assert [tag.name for tag in listed] == sorted(list(alive) + ["expiring"])
    assert {tag.name: tag.manifest_digest for tag in listed}["latest"] == other.manifest.digest
    assert {tag.name: tag.lifetime_end_ts for tag in listed}["expiring"] == (
        expiring.lifetime_end_ts)
    assert {tag.name: tag.docker_image_id for tag in listed} == {
        **{name: tag.docker_image_id for name, tag in alive.items()},
        "expiring": expiring.docker_image_id}


def test_lookup_active_repository_tags_pages_by_name_with_a_cursor(registry_model, builder, ref):
    image = builder.push_image(ref, "tag00", layer_bytes(1))
    names = ["tag%02d" % i for i in range(25)]
    _tags(registry_model, ref, image, reversed(names[1:]))
    _hidden(registry_model, builder, ref, image, "tag05x")
    first = registry_model.lookup_active_repository_tags(ref, limit=10)
    assert [tag.name for tag in first] == names[:10]
    second = registry_model.lookup_active_repository_tags(ref, last=first[-1].name, limit=10)
    assert [tag.name for tag in second] == names[10:20]
    rest = registry_model.lookup_active_repository_tags(ref, last=second[-1].name, limit=10)
    assert [tag.name for tag in rest] == names[20:]
    assert registry_model.lookup_active_repository_tags(ref, last=names[-1]) == []
    # The cursor need not be a tag that exists.
    assert [tag.name for tag in registry_model.lookup_active_repository_tags(
        ref, last="tag12a", limit=3)] == names[13:16]
    assert [tag.name for tag in registry_model.lookup_active_repository_tags(ref)] == names


def test_walking_the_tag_list_visits_every_alive_tag_once(registry_model, builder, ref):
    names = {"Latest", "latest", "v1.0", "v1-0", "v1_0", "V1", "0", "zz", "a.b.c"}
    image = builder.push_image(ref, "0", layer_bytes(1))
    _tags(registry_model, ref, image, names - {"0"})
    seen, last = [], None
    while True:
        page = registry_model.lookup_active_repository_tags(ref, last=last, limit=2)
        if not page:
            break
        seen.extend(tag.name for tag in page)
        last = page[-1].name
    assert sorted(seen) == sorted(names)
    assert seen == sorted(names)  # bytewise, as the OCI distribution spec lists tags


def test_lookup_active_repository_tags_with_limit_zero_is_empty(registry_model, ref, image):
    assert registry_model.lookup_active_repository_tags(ref, limit=0) == []


@pytest.mark.parametrize("limit", [-1, "10", 2.5])
def test_lookup_active_repository_tags_rejects_a_bad_limit(registry_model, ref, image, limit):
    with pytest.raises(errors.DataModelException):
        registry_model.lookup_active_repository_tags(ref, limit=limit)
    # The caller's transaction is still usable afterwards.
    assert registry_model.get_repo_tag(ref, "base") is not None


# History


@pytest.fixture
def history(registry_model, builder, ref, clock):
    """Five rows of ``latest`` and one of ``other``, 100 s apart, plus a hidden row."""
    now = _now()
    clock.at(now - 2000)
    image = builder.push_image(ref, "base", layer_bytes(1, "history"))
    registry_model.delete_tag(ref, "base")
    rows = []
    for k in range(5):
        clock.at(now - 1000 + 100 * k)
        rows.append(registry_model.retarget_tag(ref, "latest", image.manifest, None, None))
    clock.at(now - 50)
    rows.append(registry_model.retarget_tag(ref, "other", image.manifest, None, None))
    clock.at(now)
    _hidden(registry_model, builder, ref, image, "hidden")
    clock.at(None)
    return rows


def test_list_repository_tag_history_pages_newest_first(registry_model, ref, history):
    newest_first = [row.id for row in reversed(history)]
    page1, more1 = registry_model.list_repository_tag_history(ref, page=1, size=4)
    page2, more2 = registry_model.list_repository_tag_history(ref, page=2, size=4)
    page3, more3 = registry_model.list_repository_tag_history(ref, page=3, size=4)
    assert ([t.id for t in page1], more1) == (newest_first[:4], True)
    # The row of "base", ended before the history began, comes last.
    assert ([t.id for t in page2][:2], more2) == (newest_first[4:], False)
    assert [t.name for t in page2][2:] == ["base"]
    assert (page3, more3) == ([], False)
    exact, more = registry_model.list_repository_tag_history(ref, size=7)
    assert (len(exact), more) == (7, False)
    ended = {t.id: t.lifetime_end_ts for t in page1 + page2}
    assert ended[history[0].id] == history[0].lifetime_start_ts + 100


def test_list_repository_tag_history_of_one_tag_or_alive_tags_only(registry_model, ref, history):
    latest, _ = registry_model.list_repository_tag_history(ref, specific_tag_name="latest")
    assert [t.id for t in latest] == [row.id for row in reversed(history[:5])]
    alive, _ = registry_model.list_repository_tag_history(ref, active_tags_only=True)
    assert [t.id for t in alive] == [history[5].id, history[4].id]
    both, more = registry_model.list_repository_tag_history(ref, specific_tag_name="latest",
                                                            active_tags_only=True, size=1)
    assert ([t.id for t in both], more) == ([history[4].id], False)
    assert registry_model.list_repository_tag_history(ref, specific_tag_name="absent") == (
        [], False)


def test_list_repository_tag_history_carries_manifest_digests(registry_model, builder, ref,
                                                              history):
    moved = builder.push_image(ref, "latest", layer_bytes(1, "moved"))
    rows, _ = registry_model.list_repository_tag_history(ref)
    digests = {t.id: t.manifest_digest for t in rows}
    assert digests[moved.tag.id] == moved.manifest.digest
    assert digests[history[1].id] == history[1].manifest_digest != moved.manifest.digest


@pytest.mark.parametrize("page,size", [(0, 10), (-1, 10), (1, 0), (1, -5), ("1", 10)])
def test_list_repository_tag_history_rejects_bad_pages(registry_model, ref, history, page, size):
    with pytest.raises(errors.DataModelException):
        registry_model.list_repository_tag_history(ref, page=page, size=size)
    assert registry_model.get_repo_tag(ref, "latest").id == history[4].id


# retarget_tag


def test_retarget_tag_to_a_manifest_moves_the_tag_and_copies_the_manifest(registry_model,
                                                                          builder, ref):
    first_manifest, first, _ = builder.push_image(ref, "latest", layer_bytes(2, "one"))
    _, second, _ = builder.push_image(ref, "latest", layer_bytes(2, "two"))
    moved = registry_model.retarget_tag(ref, "latest", first_manifest, None, None)
    assert (moved.name, moved.docker_image_id, moved.image_id, moved.manifest_digest,
            moved.reversion) == ("latest", first.docker_image_id, first.image_id,
                                 first_manifest.digest, False)
    assert registry_model.get_repo_tag(ref, "latest") == moved
    restored = registry_model.get_manifest_for_tag(moved)
    assert (restored.digest, restored.manifest_bytes) == (first_manifest.digest,
                                                          first_manifest.manifest_bytes)
    history, _ = registry_model.list_repository_tag_history(ref, specific_tag_name="latest")
    assert [t.id for t in history] == [moved.id, second.id, first.id]
    assert history[1].lifetime_end_ts == moved.lifetime_start_ts


def test_retarget_tag_as_a_reversion_is_marked_so(registry_model, builder, ref):
    manifest = builder.push_image(ref, "latest", layer_bytes(1, "one")).manifest
    builder.push_image(ref, "latest", layer_bytes(1, "two"))
    reverted = registry_model.retarget_tag(ref, "latest", manifest, None, None, is_reversion=True)
    assert reverted.reversion
    history, _ = registry_model.list_repository_tag_history(ref, specific_tag_name="latest")
    assert history[0].reversion and history[0].id == reverted.id
    assert registry_model.get_repo_tag(ref, "latest").reversion


def test_retarget_tag_can_name_a_new_tag(registry_model, builder, ref):
    manifest, tag, _ = builder.push_image(ref, "latest", layer_bytes(2))
    stable = registry_model.retarget_tag(ref, "stable", manifest, None, None)
    assert (stable.name, stable.image_id, stable.manifest_digest) == ("stable", tag.image_id,
                                                                      manifest.digest)
    assert registry_model.get_repo_tag(ref, "latest") == tag


def test_retarget_tag_refuses_what_belongs_to_another_repository(registry_model, builder, ref):
    other = builder.repository("elsewhere", "other")
    foreign_manifest = builder.push_image(other, "latest", layer_bytes(1)).manifest
    foreign_image = registry_model.get_legacy_images(other)[0]
    before = snapshot_rows()
    assert registry_model.retarget_tag(ref, "latest", foreign_manifest, None, None) is None
    assert registry_model.retarget_tag(ref, "latest", foreign_image, None, None) is None
    assert snapshot_rows() == before


def test_retarget_tag_rejects_bad_input_and_writes_nothing(registry_model, ref, image):
    before = snapshot_rows()
    with pytest.raises(errors.InvalidNameException):
        registry_model.retarget_tag(ref, "bad name", image.manifest, None, None)
    with pytest.raises(errors.DataModelException):
        registry_model.retarget_tag(ref, "latest", "sha256:" + "0" * 64, None, None)
    assert snapshot_rows() == before


# delete_tag and delete_tags_for_manifest


def test_delete_tag_ends_the_tag_and_keeps_it_in_the_time_machine(registry_model, builder, ref):
    manifest, tag, _ = builder.push_image(ref, "latest", layer_bytes(2))
    before = _now()
    deleted = registry_model.delete_tag(ref, "latest")
    assert (deleted.id, deleted.name, deleted.docker_image_id) == (tag.id, "latest",
                                                                   tag.docker_image_id)
    assert before <= deleted.lifetime_end_ts <= _now()
    assert registry_model.get_repo_tag(ref, "latest") is None
    assert registry_model.has_expired_tag(ref, "latest")
    assert registry_model.lookup_manifest_by_digest(ref, manifest.digest) is None
    assert registry_model.lookup_manifest_by_digest(ref, manifest.digest, allow_dead=True) == (
        manifest)
    assert registry_model.delete_tag(ref, "latest") is None


def test_delete_tag_of_an_absent_tag_is_none_and_writes_nothing(registry_model, ref):
    before = snapshot_rows()
    assert registry_model.delete_tag(ref, "absent") is None
    assert snapshot_rows() == before


def test_delete_tags_for_manifest_ends_every_alive_tag_with_its_digest(registry_model, builder,
                                                                      ref):
    layers = layer_bytes(2)
    manifest, latest, _ = builder.push_image(ref, "latest", layers)
    stable = registry_model.retarget_tag(ref, "stable", manifest, None, None)
    other = builder.push_image(ref, "other", layer_bytes(2, "other")).tag
    elsewhere = builder.repository("elsewhere", "copy")
    foreign = builder.push_image(elsewhere, "latest", layers).tag
    ended = registry_model.delete_tags_for_manifest(manifest)
    assert sorted((t.id, t.name, t.manifest_digest) for t in ended) == sorted(
        [(latest.id, "latest", manifest.digest), (stable.id, "stable", manifest.digest)])
    assert all(t.lifetime_end_ts is not None and t.lifetime_end_ts <= _now() for t in ended)
    assert [t.name for t in registry_model.list_all_active_repository_tags(ref)] == ["other"]
    assert registry_model.get_repo_tag(elsewhere, "latest") == foreign
    assert registry_model.delete_tags_for_manifest(manifest) == []
    assert other.manifest_digest != manifest.digest


# Expiration


def test_change_repository_tag_expiration_sets_reports_and_clears_the_end(registry_model,
                                                                         builder, ref):
    tag = builder.push_image(ref, "latest", layer_bytes(1)).tag
    end = datetime.fromtimestamp(tag.lifetime_start_ts, tz=UTC) + timedelta(days=2)
    assert registry_model.change_repository_tag_expiration(tag, end) == (None, True)
    assert registry_model.get_repo_tag(ref, "latest").lifetime_end_ts == (
        tag.lifetime_start_ts + 2 * 86400)
    later = end + timedelta(hours=1)
    assert registry_model.change_repository_tag_expiration(tag, later) == (end, True)
    assert registry_model.change_repository_tag_expiration(tag, None) == (later, True)
    assert registry_model.get_repo_tag(ref, "latest").lifetime_end_ts is None


def test_change_repository_tag_expiration_reads_naive_datetimes_as_utc(registry_model, builder,
                                                                       ref):
    tag = builder.push_image(ref, "latest", layer_bytes(1)).tag
    naive = datetime.fromtimestamp(tag.lifetime_start_ts + 3600, tz=UTC).replace(tzinfo=None)
    registry_model.change_repository_tag_expiration(tag, naive)
    assert registry_model.get_repo_tag(ref, "latest").lifetime_end_ts == (
        tag.lifetime_start_ts + 3600)


def test_change_repository_tag_expiration_refuses_an_end_not_after_the_start(registry_model,
                                                                            builder, ref):
    tag = builder.push_image(ref, "latest", layer_bytes(1)).tag
    start = datetime.fromtimestamp(tag.lifetime_start_ts, tz=UTC)
    for when in (start, start - timedelta(days=1)):
        assert registry_model.change_repository_tag_expiration(tag, when) == (None, False)
    assert registry_model.get_repo_tag(ref, "latest").lifetime_end_ts is None


def test_change_repository_tag_expiration_of_a_dead_tag_changes_nothing(registry_model, builder,
                                                                       ref):
    tag = builder.push_image(ref, "latest", layer_bytes(1)).tag
    deleted = registry_model.delete_tag(ref, "latest")
    when = datetime.fromtimestamp(tag.lifetime_start_ts + 86400, tz=UTC)
    assert registry_model.change_repository_tag_expiration(tag, when) == (None, False)
    history, _ = registry_model.list_repository_tag_history(ref, specific_tag_name="latest")
    assert history[0].lifetime_end_ts == deleted.lifetime_end_ts


def test_set_tags_expiration_for_manifest_ends_its_tags_after_their_start(registry_model,
                                                                         builder, ref):
    manifest, latest, _ = builder.push_image(ref, "latest", layer_bytes(2))
    stable = registry_model.retarget_tag(ref, "stable", manifest, None, None)
    builder.push_image(ref, "other", layer_bytes(1, "other"))
    registry_model.set_tags_expiration_for_manifest(manifest, 7200)
    tags = {t.name: t for t in registry_model.list_all_active_repository_tags(ref)}
    assert tags["latest"].lifetime_end_ts == latest.lifetime_start_ts + 7200
    assert tags["stable"].lifetime_end_ts == stable.lifetime_start_ts + 7200
    assert tags["other"].lifetime_end_ts is None


def test_has_expired_tag_sees_only_ended_visible_rows(registry_model, builder, ref, image):
    hidden = _hidden(registry_model, builder, ref, image, "hidden")
    assert registry_model.delete_tag(ref, "hidden").id == hidden.id  # an ended hidden row
    _expiring(registry_model, ref, image, "later", 3600)
    _dead(registry_model, ref, image, "gone")
    assert registry_model.has_expired_tag(ref, "gone")
    assert not registry_model.has_expired_tag(ref, "hidden")
    assert not registry_model.has_expired_tag(ref, "later")
    assert not registry_model.has_expired_tag(ref, "absent")
    assert not registry_model.has_expired_tag(ref, "not a tag")


# Images a tag owns


def _owned_ids(registry_model, tag) -> list:
    return sorted(image.id for image in registry_model.get_legacy_images_owned_by_tag(tag))


def _image_ids(registry_model, ref, tag) -> list:
    """Ids of the tag's top legacy image and its parents, sorted."""
    leaf = registry_model.get_legacy_image(ref, tag.docker_image_id, include_parents=True)
    return sorted(image.id for image in (leaf,) + leaf.parents)


def test_get_legacy_images_owned_by_tag_excludes_images_other_tags_reach(registry_model, builder,
                                                                        ref):
    layers = layer_bytes(3, "owned")
    on_leaf = builder.push_image(ref, "leaf", layers).tag
    on_middle = builder.push_image(ref, "middle", layers[:2]).tag
    leaf = registry_model.get_legacy_image(ref, on_leaf.docker_image_id, include_parents=True)
    tags = {t.name: t for t in registry_model.list_all_active_repository_tags(ref)}
    if builder.legacy_images_are_rows:  # "middle" reaches the two images below the leaf
        assert _owned_ids(registry_model, tags["leaf"]) == [leaf.id]
        assert _owned_ids(registry_model, tags["middle"]) == []
    else:  # each manifest's images are its own
        assert _owned_ids(registry_model, tags["middle"]) == _image_ids(registry_model, ref,
                                                                         on_middle)
    twin = builder.push_image(ref, "twin", layers).tag  # the same image, another tag
    assert registry_model.get_legacy_images_owned_by_tag(tags["leaf"]) == []
    registry_model.delete_tag(ref, "middle")
    registry_model.delete_tag(ref, twin.name)
    owned = registry_model.get_legacy_images_owned_by_tag(tags["leaf"])
    assert sorted(i.id for i in owned) == _image_ids(registry_model, ref, on_leaf)
    assert all(isinstance(i, LegacyImage) for i in owned)
    assert on_leaf.id == tags["leaf"].id


def test_images_shared_with_a_tag_on_another_branch_are_not_owned(registry_model, builder, ref):
    layers = layer_bytes(3, "main")
    main = builder.push_image(ref, "main", layers).tag
    branch = builder.push_image(ref, "branch", [layers[0], b"branch layer"]).tag
    hidden = builder.push_image(ref, "hidden", layers[:2]).tag
    builder.hide_tag(hidden)
    tags = {t.name: t for t in registry_model.list_all_active_repository_tags(ref)}
    assert sorted(tags) == ["branch", "main"]
    for name, tag in (("main", main), ("branch", branch)):
        images = _image_ids(registry_model, ref, tag)
        # Shared rows: only the top image is the tag's own; else its manifest's images are.
        expected = [tag.image_id] if builder.legacy_images_are_rows else images
        assert _owned_ids(registry_model, tags[name]) == expected


# has_any_tag


def test_has_any_tag_is_false_on_an_empty_database_and_true_once_a_tag_row_exists(
        registry_model, builder):
    empty, counted = measure(registry_model.has_any_tag)
    assert empty is False
    assert counted.count <= budget("has_any_tag")
    ref = builder.repository(NAMESPACE, REPOSITORY)
    builder.push_image(ref, "gone", layer_bytes(1, "gone"))
    registry_model.delete_tag(ref, "gone")  # an ended row counts too
    held, counted = measure(registry_model.has_any_tag)
    assert held is True
    assert counted.count <= budget("has_any_tag")
