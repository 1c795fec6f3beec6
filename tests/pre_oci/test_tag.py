"""registry_model.pre_oci.tag: tag lifetimes, moves, deletion and the time machine."""
import time

import peewee
import pytest

from registry_model import clock, errors
from registry_model.database import RepositoryTag
from registry_model.pre_oci import tag as tag_model
from registry_model.testing.databases import snapshot_rows
from registry_model.testing.factories import (
    ImageFactory,
    RepositoryFactory,
    RepositoryTagFactory,
    TagManifestFactory,
)
from registry_model.testing.queries import count_statements

NOW = 1_700_000_000


def _rows(repo, name=None) -> list:
    query = RepositoryTag.select().where(RepositoryTag.repository == repo.id)
    if name is not None:
        query = query.where(RepositoryTag.name == name)
    return list(query.order_by(RepositoryTag.id))


@pytest.fixture
def repo(initialized_db):
    return RepositoryFactory(namespace__name="devtable", name="simple")


def test_now_ts_is_the_current_unix_second():
    before = int(time.time())
    now = clock.now_ts()
    assert isinstance(now, int)
    assert before <= now <= int(time.time())


def test_alive_clause_counts_open_and_future_ends_as_alive(repo):
    open_ended = RepositoryTagFactory(repository=repo, lifetime_start_ts=NOW - 10)
    ending_later = RepositoryTagFactory(repository=repo, lifetime_start_ts=NOW - 10,
                                        lifetime_end_ts=NOW + 1)
    RepositoryTagFactory(repository=repo, lifetime_start_ts=NOW - 10, lifetime_end_ts=NOW)
    RepositoryTagFactory(repository=repo, lifetime_start_ts=NOW - 10, lifetime_end_ts=NOW - 1)
    alive = RepositoryTag.select().where(RepositoryTag.repository == repo.id,
                                         tag_model.alive_clause(NOW))
    assert sorted(row.id for row in alive) == sorted([open_ended.id, ending_later.id])


def test_create_or_update_tag_starts_an_open_row(repo):
    image = ImageFactory(repository=repo)
    created = tag_model.create_or_update_tag(repo, "latest", image, now=NOW)
    [row] = _rows(repo)
    assert row.id == created.id
    assert (row.name, row.image_id, row.lifetime_start_ts, row.lifetime_end_ts, row.hidden,
            row.reversion) == ("latest", image.id, NOW, None, False, False)


def test_create_or_update_tag_keeps_hidden_and_reversion_flags(repo):
    image = ImageFactory(repository=repo)
    tag_model.create_or_update_tag(repo, "reverted", image, now=NOW, reversion=True)
    tag_model.create_or_update_tag(repo, "hidden", image, now=NOW, hidden=True)
    flags = {row.name: (row.reversion, row.hidden) for row in _rows(repo)}
    assert flags == {"reverted": (True, False), "hidden": (False, True)}


def test_moving_a_tag_ends_the_old_row_when_the_new_one_starts(repo):
    first, second, third = (ImageFactory(repository=repo) for _ in range(3))
    tag_model.create_or_update_tag(repo, "latest", first, now=NOW)
    tag_model.create_or_update_tag(repo, "latest", second, now=NOW + 60)
    tag_model.create_or_update_tag(repo, "latest", third, now=NOW + 120)
    rows = _rows(repo, "latest")
    assert [row.image_id for row in rows] == [first.id, second.id, third.id]
    assert [(row.lifetime_start_ts, row.lifetime_end_ts) for row in rows] == [
        (NOW, NOW + 60), (NOW + 60, NOW + 120), (NOW + 120, None)]


def test_moving_a_tag_at_the_current_time_leaves_no_gap(repo):
    first, second = ImageFactory(repository=repo), ImageFactory(repository=repo)
    tag_model.create_or_update_tag(repo, "latest", first)
    moved = tag_model.create_or_update_tag(repo, "latest", second)
    old, new = _rows(repo, "latest")
    assert old.lifetime_end_ts == new.lifetime_start_ts == moved.lifetime_start_ts
    assert new.lifetime_end_ts is None


def test_moving_a_tag_with_a_scheduled_end_ends_it_now(repo):
    scheduled = RepositoryTagFactory(repository=repo, name="latest", lifetime_start_ts=NOW - 100,
                                     lifetime_end_ts=NOW + 3600)
    moved = tag_model.create_or_update_tag(repo, "latest", ImageFactory(repository=repo),
                                           now=NOW)
    assert RepositoryTag.get_by_id(scheduled.id).lifetime_end_ts == NOW
    assert [row.id for row in RepositoryTag.select().where(
        RepositoryTag.repository == repo.id, tag_model.alive_clause(NOW))] == [moved.id]


def test_moving_a_tag_keeps_ended_rows_and_other_tags_untouched(repo):
    image = ImageFactory(repository=repo)
    ended = RepositoryTagFactory(repository=repo, name="latest", lifetime_start_ts=NOW - 100,
                                 lifetime_end_ts=NOW - 50)
    other = RepositoryTagFactory(repository=repo, name="stable", lifetime_start_ts=NOW - 100)
    elsewhere = RepositoryTagFactory(name="latest", lifetime_start_ts=NOW - 100)
    tag_model.create_or_update_tag(repo, "latest", image, now=NOW)
    assert RepositoryTag.get_by_id(ended.id).lifetime_end_ts == NOW - 50
    assert RepositoryTag.get_by_id(other.id).lifetime_end_ts is None
    assert RepositoryTag.get_by_id(elsewhere.id).lifetime_end_ts is None


def test_create_or_update_tag_rejects_an_image_of_another_repository(repo):
    RepositoryTagFactory(repository=repo, name="latest", lifetime_start_ts=NOW - 100)
    foreign = ImageFactory()
    before = snapshot_rows()
    with pytest.raises(errors.InvalidImageException):
        tag_model.create_or_update_tag(repo, "latest", foreign, now=NOW)
    assert snapshot_rows() == before
    assert _rows(repo, "latest")[0].lifetime_end_ts is None


@pytest.mark.parametrize("name", ["", ".hidden", "-dash", "with space", "a" * 129, "latest\n",
                                  "tag/slash", None])
def test_create_or_update_tag_rejects_invalid_names(repo, name):
    image = ImageFactory(repository=repo)
    before = snapshot_rows()
    with pytest.raises(errors.InvalidNameException):
        tag_model.create_or_update_tag(repo, name, image, now=NOW)
    assert snapshot_rows() == before


def test_move_tag_works_inside_the_callers_transaction(repo, initialized_db):
    first, second = ImageFactory(repository=repo), ImageFactory(repository=repo)
    RepositoryTagFactory(repository=repo, name="latest", image=first, lifetime_start_ts=NOW - 5)
    with initialized_db.atomic():
        moved = tag_model.move_tag(repo.id, "latest", second.id, NOW, reversion=True)
    old, new = _rows(repo, "latest")
    assert (old.lifetime_end_ts, new.id, new.image_id, new.lifetime_start_ts, new.reversion) == (
        NOW, moved.id, second.id, NOW, True)


def test_delete_tag_ends_the_alive_row_and_returns_it(repo):
    tag = RepositoryTagFactory(repository=repo, name="latest", lifetime_start_ts=NOW - 100)
    deleted = tag_model.delete_tag(repo, "latest", now=NOW)
    assert (deleted.id, deleted.lifetime_end_ts) == (tag.id, NOW)
    assert RepositoryTag.get_by_id(tag.id).lifetime_end_ts == NOW


def test_delete_tag_ends_a_scheduled_end_now(repo):
    tag = RepositoryTagFactory(repository=repo, name="latest", lifetime_start_ts=NOW - 100,
                               lifetime_end_ts=NOW + 3600)
    assert tag_model.delete_tag(repo, "latest", now=NOW).id == tag.id
    assert RepositoryTag.get_by_id(tag.id).lifetime_end_ts == NOW


def test_delete_tag_defaults_to_the_current_time(repo):
    tag = RepositoryTagFactory(repository=repo, name="latest", lifetime_start_ts=NOW)
    before = clock.now_ts()
    deleted = tag_model.delete_tag(repo, "latest")
    assert before <= deleted.lifetime_end_ts <= clock.now_ts()
    assert RepositoryTag.get_by_id(tag.id).lifetime_end_ts == deleted.lifetime_end_ts


def test_delete_tag_without_an_alive_row_returns_none_and_writes_nothing(repo):
    RepositoryTagFactory(repository=repo, name="gone", lifetime_start_ts=NOW - 100,
                         lifetime_end_ts=NOW - 50)
    RepositoryTagFactory(name="latest")  # another repository's tag of that name
    before = snapshot_rows()
    assert tag_model.delete_tag(repo, "gone", now=NOW) is None
    assert tag_model.delete_tag(repo, "latest", now=NOW) is None
    assert snapshot_rows() == before
    assert _rows(repo, "gone")[0].lifetime_end_ts == NOW - 50


def test_delete_tag_twice_returns_none_the_second_time(repo):
    RepositoryTagFactory(repository=repo, name="latest", lifetime_start_ts=NOW - 100)
    assert tag_model.delete_tag(repo, "latest", now=NOW) is not None
    assert tag_model.delete_tag(repo, "latest", now=NOW + 1) is None
    assert _rows(repo, "latest")[0].lifetime_end_ts == NOW


def test_delete_tag_rejects_an_invalid_name(repo):
    before = snapshot_rows()
    with pytest.raises(errors.InvalidNameException):
        tag_model.delete_tag(repo, "bad name", now=NOW)
    assert snapshot_rows() == before


def test_the_database_rejects_a_second_row_without_end(repo, initialized_db):
    alive = RepositoryTagFactory(repository=repo, name="latest", lifetime_start_ts=NOW - 100)
    before = snapshot_rows()
    with pytest.raises(peewee.IntegrityError):
        with initialized_db.atomic():
            RepositoryTag.insert(repository=repo.id, name="latest", image=alive.image_id,
                                 lifetime_start_ts=NOW).execute()
    assert snapshot_rows() == before


def test_the_database_allows_many_ended_rows_and_one_open_row_per_name(repo, initialized_db):
    image = ImageFactory(repository=repo)
    for start in (NOW - 300, NOW - 200):
        RepositoryTag.insert(repository=repo.id, name="latest", image=image.id,
                             lifetime_start_ts=start, lifetime_end_ts=start + 100).execute()
    RepositoryTag.insert(repository=repo.id, name="latest", image=image.id,
                         lifetime_start_ts=NOW).execute()
    RepositoryTagFactory(name="latest", lifetime_start_ts=NOW)  # same name, other repository
    assert len(_rows(repo, "latest")) == 3


def test_tag_names_are_case_sensitive(repo, initialized_db):
    lower, upper = ImageFactory(repository=repo), ImageFactory(repository=repo)
    tag_model.create_or_update_tag(repo, "latest", lower, now=NOW)
    tag_model.create_or_update_tag(repo, "Latest", upper, now=NOW + 1)
    open_rows = {row.name: row.image_id for row in _rows(repo) if row.lifetime_end_ts is None}
    assert open_rows == {"latest": lower.id, "Latest": upper.id}
    assert [t.image_id for t in tag_model.find_alive_tags(repo.id, ["Latest"], NOW + 2)] == [
        upper.id]
    assert tag_model.delete_tag(repo, "LATEST", now=NOW + 2) is None
    assert tag_model.delete_tag(repo, "Latest", now=NOW + 2).image_id == upper.id
    assert tag_model.get_tag(repo.id, "latest", NOW + 3).image_id == lower.id


def test_find_alive_tags_returns_alive_visible_rows_with_their_image(repo):
    image = ImageFactory(repository=repo)
    wanted = RepositoryTagFactory(repository=repo, name="v1", image=image,
                                  lifetime_start_ts=NOW - 10)
    RepositoryTagFactory(repository=repo, name="v2", lifetime_start_ts=NOW - 10,
                         lifetime_end_ts=NOW)
    hidden = RepositoryTagFactory(repository=repo, name="v3", hidden=True,
                                  lifetime_start_ts=NOW - 10)
    RepositoryTagFactory(repository=repo, name="other", lifetime_start_ts=NOW - 10)
    RepositoryTagFactory(name="v1", lifetime_start_ts=NOW - 10)  # another repository
    with count_statements() as counted:
        found = tag_model.find_alive_tags(repo.id, ["v1", "v2", "v3", "missing"], NOW)
        docker_ids = [row.docker_image_id for row in found]
    assert [row.id for row in found] == [wanted.id]
    assert docker_ids == [image.docker_image_id]
    assert found[0].image_id == image.id
    assert counted.count == 1
    with_hidden = tag_model.find_alive_tags(repo.id, ["v1", "v3"], NOW, include_hidden=True)
    assert sorted(row.id for row in with_hidden) == sorted([wanted.id, hidden.id])


def test_find_alive_tags_skips_impossible_names_without_querying(repo):
    RepositoryTagFactory(repository=repo, name="latest", lifetime_start_ts=NOW - 10)
    with count_statements() as counted:
        assert tag_model.find_alive_tags(repo.id, [], NOW) == []
        assert tag_model.find_alive_tags(repo.id, ["bad name", "", None], NOW) == []
    assert counted.count == 0
    assert len(tag_model.find_alive_tags(repo.id, ["bad name", "latest"], NOW)) == 1


def test_get_most_recent_tag_prefers_latest_start_then_highest_id(repo):
    RepositoryTagFactory(repository=repo, name="old", lifetime_start_ts=NOW - 100)
    RepositoryTagFactory(repository=repo, name="a", lifetime_start_ts=NOW - 50)
    newest = RepositoryTagFactory(repository=repo, name="b", lifetime_start_ts=NOW - 50)
    RepositoryTagFactory(repository=repo, name="hidden", lifetime_start_ts=NOW - 1, hidden=True)
    RepositoryTagFactory(repository=repo, name="dead", lifetime_start_ts=NOW - 2,
                         lifetime_end_ts=NOW - 1)
    RepositoryTagFactory(lifetime_start_ts=NOW)  # another repository
    found = tag_model.get_most_recent_tag(repo.id, NOW)
    assert (found.id, found.docker_image_id) == (newest.id, newest.image.docker_image_id)


def test_get_most_recent_tag_of_a_repository_without_alive_tags_is_none(repo):
    RepositoryTagFactory(repository=repo, lifetime_start_ts=NOW - 2, lifetime_end_ts=NOW - 1)
    assert tag_model.get_most_recent_tag(repo.id, NOW) is None


def test_list_alive_tags_orders_by_name(repo):
    for name in ("zeta", "alpha", "mid"):
        RepositoryTagFactory(repository=repo, name=name, lifetime_start_ts=NOW - 10)
    RepositoryTagFactory(repository=repo, name="beta", hidden=True, lifetime_start_ts=NOW - 10)
    RepositoryTagFactory(repository=repo, name="dead", lifetime_start_ts=NOW - 10,
                         lifetime_end_ts=NOW - 5)
    assert [t.name for t in tag_model.list_alive_tags(repo.id, NOW)] == ["alpha", "mid", "zeta"]
    assert [t.name for t in tag_model.list_alive_tags(repo.id, NOW, include_hidden=True)] == [
        "alpha", "beta", "mid", "zeta"]


def test_get_tag_finds_only_an_alive_visible_tag(repo):
    tag = RepositoryTagFactory(repository=repo, name="latest", lifetime_start_ts=NOW - 10)
    RepositoryTagFactory(repository=repo, name="hidden", hidden=True, lifetime_start_ts=NOW - 10)
    assert tag_model.get_tag(repo.id, "latest", NOW).id == tag.id
    assert tag_model.get_tag(repo.id, "hidden", NOW) is None
    assert tag_model.get_tag(repo.id, "missing", NOW) is None
    tag_model.delete_tag(repo, "latest", now=NOW)
    assert tag_model.get_tag(repo.id, "latest", NOW) is None


def test_alive_tag_names_by_image_groups_sorted_visible_names(repo):
    first, second = ImageFactory(repository=repo), ImageFactory(repository=repo)
    for name in ("zeta", "alpha"):
        RepositoryTagFactory(repository=repo, name=name, image=first, lifetime_start_ts=NOW - 9)
    RepositoryTagFactory(repository=repo, name="beta", image=second, lifetime_start_ts=NOW - 9)
    RepositoryTagFactory(repository=repo, name="hidden", image=second, hidden=True,
                         lifetime_start_ts=NOW - 9)
    RepositoryTagFactory(repository=repo, name="dead", image=second, lifetime_start_ts=NOW - 9,
                         lifetime_end_ts=NOW - 1)
    ImageFactory(repository=repo)  # an untagged image has no entry
    assert tag_model.alive_tag_names_by_image(repo.id, NOW) == {
        first.id: ["alpha", "zeta"], second.id: ["beta"]}


def test_list_tag_history_lists_every_row_newest_first(repo):
    image = ImageFactory(repository=repo)
    tag_model.create_or_update_tag(repo, "latest", image, now=NOW)
    tag_model.create_or_update_tag(repo, "stable", image, now=NOW + 1)
    tag_model.create_or_update_tag(repo, "latest", image, now=NOW + 2)
    tag_model.delete_tag(repo, "stable", now=NOW + 3)
    history = tag_model.list_tag_history(repo.id)
    assert [(t.name, t.lifetime_start_ts, t.lifetime_end_ts) for t in history] == [
        ("latest", NOW + 2, None), ("stable", NOW + 1, NOW + 3), ("latest", NOW, NOW + 2)]
    assert [t.lifetime_start_ts for t in tag_model.list_tag_history(repo.id, "latest")] == [
        NOW + 2, NOW]
    assert history[0].docker_image_id == image.docker_image_id


def test_list_alive_tags_page_walks_names_with_a_cursor_and_loads_digests(repo):
    with_manifest = TagManifestFactory(tag__repository=repo, tag__name="b",
                                       tag__lifetime_start_ts=NOW - 9)
    for name in ("d", "a", "c"):
        RepositoryTagFactory(repository=repo, name=name, lifetime_start_ts=NOW - 9)
    RepositoryTagFactory(repository=repo, name="bb", hidden=True, lifetime_start_ts=NOW - 9)
    first = tag_model.list_alive_tags_page(repo.id, NOW, limit=2)
    assert [t.name for t in first] == ["a", "b"]
    assert [t.manifest_digest for t in first] == [None, with_manifest.digest]
    rest = tag_model.list_alive_tags_page(repo.id, NOW, last="b", limit=2)
    assert [t.name for t in rest] == ["c", "d"]
    assert tag_model.list_alive_tags_page(repo.id, NOW, last="d") == []


def test_every_tag_row_query_carries_the_manifest_digest(repo):
    with_manifest = TagManifestFactory(tag__repository=repo, tag__name="b",
                                       tag__lifetime_start_ts=NOW - 9)
    RepositoryTagFactory(repository=repo, name="a", lifetime_start_ts=NOW - 9)
    digests = {"a": None, "b": with_manifest.digest}
    for rows in (tag_model.find_alive_tags(repo.id, ["a", "b"], NOW),
                 tag_model.list_alive_tags(repo.id, NOW),
                 tag_model.list_alive_tags_page(repo.id, NOW),
                 tag_model.list_tag_history_page(repo.id, NOW)[0],
                 [tag_model.get_most_recent_tag(repo.id, NOW)]):
        assert rows and all(row.manifest_digest == digests[row.name] for row in rows), rows


def test_list_tag_history_page_pages_visible_rows_newest_first(repo):
    image = ImageFactory(repository=repo)
    for offset in range(5):
        tag_model.create_or_update_tag(repo, "latest", image, now=NOW + offset)
    RepositoryTagFactory(repository=repo, name="hidden", hidden=True, lifetime_start_ts=NOW + 9)
    RepositoryTagFactory(repository=repo, name="other", lifetime_start_ts=NOW + 8)
    page, more = tag_model.list_tag_history_page(repo.id, NOW + 10, page=1, size=4)
    assert [(t.name, t.lifetime_start_ts) for t in page] == [
        ("other", NOW + 8), ("latest", NOW + 4), ("latest", NOW + 3), ("latest", NOW + 2)]
    assert more is True
    page, more = tag_model.list_tag_history_page(repo.id, NOW + 10, page=2, size=4)
    assert [t.lifetime_start_ts for t in page] == [NOW + 1, NOW]
    assert more is False
    page, _ = tag_model.list_tag_history_page(repo.id, NOW + 10, tag_name="other")
    assert [t.name for t in page] == ["other"]
    page, _ = tag_model.list_tag_history_page(repo.id, NOW + 10, active_only=True)
    assert sorted(t.lifetime_start_ts for t in page) == [NOW + 4, NOW + 8]


def test_change_tag_expiration_sets_and_clears_the_end_of_an_alive_row(repo):
    tag = RepositoryTagFactory(repository=repo, lifetime_start_ts=NOW - 10)
    assert tag_model.change_tag_expiration(tag.id, NOW + 60, NOW) == (None, True)
    assert RepositoryTag.get_by_id(tag.id).lifetime_end_ts == NOW + 60
    assert tag_model.change_tag_expiration(tag.id, None, NOW) == (NOW + 60, True)
    assert RepositoryTag.get_by_id(tag.id).lifetime_end_ts is None


def test_change_tag_expiration_refuses_an_end_before_the_start_or_a_dead_row(repo):
    tag = RepositoryTagFactory(repository=repo, lifetime_start_ts=NOW - 10)
    dead = RepositoryTagFactory(repository=repo, lifetime_start_ts=NOW - 10,
                                lifetime_end_ts=NOW - 5)
    before = snapshot_rows()
    assert tag_model.change_tag_expiration(tag.id, NOW - 10, NOW) == (None, False)
    assert tag_model.change_tag_expiration(dead.id, NOW + 60, NOW) == (None, False)
    assert tag_model.change_tag_expiration(-1, NOW + 60, NOW) == (None, False)
    assert snapshot_rows() == before
    assert RepositoryTag.get_by_id(tag.id).lifetime_end_ts is None
    assert RepositoryTag.get_by_id(dead.id).lifetime_end_ts == NOW - 5


def test_end_tags_ends_only_alive_rows_among_those_given(repo, initialized_db):
    alive = RepositoryTagFactory(repository=repo, lifetime_start_ts=NOW - 10)
    scheduled = RepositoryTagFactory(repository=repo, lifetime_start_ts=NOW - 10,
                                     lifetime_end_ts=NOW + 10)
    dead = RepositoryTagFactory(repository=repo, lifetime_start_ts=NOW - 10,
                                lifetime_end_ts=NOW - 5)
    untouched = RepositoryTagFactory(repository=repo, lifetime_start_ts=NOW - 10)
    with initialized_db.atomic():
        assert tag_model.end_tags([alive.id, scheduled.id, dead.id], NOW) == 2
    ends = {row.id: row.lifetime_end_ts for row in _rows(repo)}
    assert ends == {alive.id: NOW, scheduled.id: NOW, dead.id: NOW - 5, untouched.id: None}
    with count_statements() as counted:
        assert tag_model.end_tags([], NOW) == 0
    assert counted.count == 0


def test_has_expired_tag_sees_ended_visible_rows_only(repo):
    RepositoryTagFactory(repository=repo, name="gone", lifetime_start_ts=NOW - 10,
                         lifetime_end_ts=NOW - 5)
    RepositoryTagFactory(repository=repo, name="later", lifetime_start_ts=NOW - 10,
                         lifetime_end_ts=NOW + 5)
    RepositoryTagFactory(repository=repo, name="secret", hidden=True,
                         lifetime_start_ts=NOW - 10, lifetime_end_ts=NOW - 5)
    RepositoryTagFactory(repository=repo, name="alive", lifetime_start_ts=NOW - 10)
    assert tag_model.has_expired_tag(repo.id, "gone", NOW) is True
    for name in ("later", "secret", "alive", "missing", "bad name"):
        assert tag_model.has_expired_tag(repo.id, name, NOW) is False, name


def test_alive_tags_for_digest_finds_tags_of_that_manifest(repo):
    manifest = TagManifestFactory(tag__repository=repo, tag__name="a",
                                  tag__lifetime_start_ts=NOW - 9)
    same_digest = TagManifestFactory(tag__repository=repo, tag__name="b", tag__hidden=True,
                                     tag__lifetime_start_ts=NOW - 9, digest=manifest.digest)
    TagManifestFactory(tag__repository=repo, tag__name="c", tag__lifetime_start_ts=NOW - 9,
                       tag__lifetime_end_ts=NOW - 1, digest=manifest.digest)
    TagManifestFactory(tag__repository=repo, tag__name="d", tag__lifetime_start_ts=NOW - 9)
    found = tag_model.alive_tags_for_digest(repo.id, manifest.digest, NOW)
    assert [row.id for row in found] == [manifest.tag_id]
    with_hidden = tag_model.alive_tags_for_digest(repo.id, manifest.digest, NOW,
                                                  include_hidden=True)
    assert sorted(row.id for row in with_hidden) == sorted([manifest.tag_id,
                                                            same_digest.tag_id])


def test_alive_image_ancestries_lists_the_other_alive_tags_images(repo):
    base = ImageFactory(repository=repo)
    top = ImageFactory(parent=base)
    excluded = RepositoryTagFactory(repository=repo, name="a", image=top,
                                    lifetime_start_ts=NOW - 9)
    RepositoryTagFactory(repository=repo, name="b", image=top, lifetime_start_ts=NOW - 9)
    RepositoryTagFactory(repository=repo, name="c", image=base, lifetime_start_ts=NOW - 9,
                         lifetime_end_ts=NOW - 1)
    assert tag_model.alive_image_ancestries(repo.id, NOW, excluded.id) == [
        (top.id, "/%d/" % base.id)]


def test_set_expiration_for_digest_ends_alive_visible_tags_after_their_start(repo,
                                                                            initialized_db):
    manifest = TagManifestFactory(tag__repository=repo, tag__name="a",
                                  tag__lifetime_start_ts=NOW - 9)
    hidden = TagManifestFactory(tag__repository=repo, tag__name="b", tag__hidden=True,
                                tag__lifetime_start_ts=NOW - 9, digest=manifest.digest)
    other = TagManifestFactory(tag__repository=repo, tag__name="c",
                               tag__lifetime_start_ts=NOW - 9)
    with initialized_db.atomic():
        assert tag_model.set_expiration_for_digest(repo.id, manifest.digest, 3600, NOW) == 1
        assert tag_model.set_expiration_for_digest(repo.id, "sha256:" + "0" * 64, 60, NOW) == 0
    ends = {row.id: row.lifetime_end_ts for row in _rows(repo)}
    assert ends == {manifest.tag_id: NOW - 9 + 3600, hidden.tag_id: None, other.tag_id: None}
