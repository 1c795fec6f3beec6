"""registry_model.oci.tag: ms lifetimes, one alive row per name, time machine, immutability."""
import pytest

from registry_model import errors
from registry_model.database import Tag
from registry_model.oci import manifest as manifest_model
from registry_model.oci import tag as tag_model
from registry_model.testing.factories import RepositoryFactory
from registry_model.testing.queries import count_statements
from registry_model.transactions import transaction
from tests.oci import pushable_image, row_counts

T0 = 1_700_000_000_000


@pytest.fixture
def repo(initialized_db):
    return RepositoryFactory()


@pytest.fixture
def manifests(repo):
    rows = []
    for seed in ("a", "b"):
        parsed, _ = pushable_image(repo, seed=seed)
        with transaction():
            rows.append(manifest_model.store_manifest(repo.id, parsed, T0 // 1000)[0])
    return rows


def rows_of(repo, name):
    return list(Tag.select().where(Tag.repository == repo.id, Tag.name == name)
                .order_by(Tag.id))


def test_moving_a_tag_ends_the_alive_row_at_the_new_start(repo, manifests):
    first = tag_model.retarget_tag(repo.id, "latest", manifests[0].id, now_ms=T0)
    second = tag_model.retarget_tag(repo.id, "latest", manifests[1].id, now_ms=T0 + 5)
    history = rows_of(repo, "latest")
    assert [(r.manifest_id, r.lifetime_start_ms, r.lifetime_end_ms) for r in history] == [
        (manifests[0].id, T0, T0 + 5), (manifests[1].id, T0 + 5, None)]
    assert (first.id, second.id) == (history[0].id, history[1].id)


def test_lifetimes_keep_milliseconds(repo, manifests):
    tag_model.retarget_tag(repo.id, "a", manifests[0].id, now_ms=T0 + 1)
    tag_model.retarget_tag(repo.id, "b", manifests[0].id, now_ms=T0 + 2)
    newest = tag_model.get_most_recent_tag(repo.id, T0 + 3)
    assert (newest.name, newest.lifetime_start_ms) == ("b", T0 + 2)


def test_find_alive_tags_is_one_statement_and_carries_the_manifest_digest(repo, manifests):
    tag_model.retarget_tag(repo.id, "latest", manifests[0].id, now_ms=T0)
    tag_model.retarget_tag(repo.id, "other", manifests[1].id, now_ms=T0)
    with count_statements() as counted:
        rows = tag_model.find_alive_tags(repo.id, ["other", "latest", "missing"], T0 + 1)
    assert counted.count == 1
    assert {(row.name, row.manifest_digest) for row in rows} == {
        ("latest", manifests[0].digest), ("other", manifests[1].digest)}


def test_a_deleted_tag_stays_in_the_time_machine(repo, manifests):
    tag_model.retarget_tag(repo.id, "latest", manifests[0].id, now_ms=T0)
    ended = tag_model.delete_tag(repo.id, "latest", T0 + 10)
    assert (ended.lifetime_end_ms, ended.manifest_digest) == (T0 + 10, manifests[0].digest)
    assert tag_model.find_alive_tags(repo.id, ["latest"], T0 + 11) == []
    assert tag_model.has_expired_tag(repo.id, "latest", T0 + 11)
    assert tag_model.delete_tag(repo.id, "latest", T0 + 12) is None
    rows, more = tag_model.list_tag_history_page(repo.id, T0 + 12)
    assert [(r.name, r.lifetime_end_ms) for r in rows] == [("latest", T0 + 10)] and not more


def test_hidden_tags_are_never_listed(repo, manifests):
    with transaction():
        tag_model.move_tag(repo.id, "temp-1", manifests[0].id, T0, hidden=True, end_ms=T0 + 100)
    tag_model.retarget_tag(repo.id, "shown", manifests[1].id, now_ms=T0)
    assert [r.name for r in tag_model.list_alive_tags_page(repo.id, T0 + 1)] == ["shown"]
    assert tag_model.find_alive_tags(repo.id, ["temp-1"], T0 + 1) == []
    assert [r.name for r in tag_model.find_alive_tags(repo.id, ["temp-1"], T0 + 1,
                                                      include_hidden=True)] == ["temp-1"]
    assert tag_model.get_most_recent_tag(repo.id, T0 + 1).name == "shown"


def test_ending_a_manifests_tags_spares_hidden_ones_unless_asked(repo, manifests):
    with transaction():
        tag_model.move_tag(repo.id, "temp-1", manifests[0].id, T0, hidden=True, end_ms=T0 + 100)
    tag_model.retarget_tag(repo.id, "shown", manifests[0].id, now_ms=T0)
    assert [r.name for r in tag_model.end_tags_of_manifest(manifests[0].id, T0 + 1)] == [
        "shown"]
    assert [r.name for r in tag_model.alive_tags_of_manifest(
        manifests[0].id, T0 + 2, include_hidden=True)] == ["temp-1"]
    with count_statements() as counted:
        ended = tag_model.end_tags_of_manifest(manifests[0].id, T0 + 3, include_hidden=True)
    assert counted.count == 2 and [(r.name, r.hidden) for r in ended] == [("temp-1", True)]
    assert tag_model.alive_tags_of_manifest(manifests[0].id, T0 + 4, include_hidden=True) == []


def test_alive_page_follows_the_name_cursor(repo, manifests):
    for name in ("c", "a", "b"):
        tag_model.retarget_tag(repo.id, name, manifests[0].id, now_ms=T0)
    with count_statements() as counted:
        page = tag_model.list_alive_tags_page(repo.id, T0 + 1, last="a", limit=1)
    assert counted.count == 1 and [r.name for r in page] == ["b"]


def test_expiration_sets_the_end_and_refuses_one_before_the_start(repo, manifests):
    row = tag_model.retarget_tag(repo.id, "latest", manifests[0].id, now_ms=T0)
    start_s = T0 // 1000
    assert tag_model.change_tag_expiration(row.id, T0, T0 + 1, "latest", start_s) == (None, False)
    assert tag_model.change_tag_expiration(row.id, T0 + 50, T0 + 1, "latest",
                                           start_s + 1) == (None, False)  # another row's start
    with count_statements() as counted:
        assert tag_model.change_tag_expiration(row.id, T0 + 50, T0 + 1, "latest", start_s) == (
            None, True)
    assert counted.count == 2
    assert tag_model.find_alive_tags(repo.id, ["latest"], T0 + 50) == []


@pytest.fixture
def immutable_tag(repo, manifests):
    row = tag_model.retarget_tag(repo.id, "release", manifests[0].id, now_ms=T0)
    with count_statements() as counted:
        changed = tag_model.change_tag_immutability(row.id, True, T0 + 1, "release",
                                                    T0 // 1000)
    assert counted.count == 2 and changed.immutable
    return row


@pytest.mark.parametrize("write", [
    lambda repo, tag, manifests: tag_model.retarget_tag(repo.id, "release", manifests[1].id,
                                                        now_ms=T0 + 5),
    lambda repo, tag, manifests: tag_model.delete_tag(repo.id, "release", T0 + 5),
    lambda repo, tag, manifests: tag_model.change_tag_expiration(tag.id, T0 + 50, T0 + 5),
    lambda repo, tag, manifests: tag_model.end_tags_of_manifest(manifests[0].id, T0 + 5),
    lambda repo, tag, manifests: tag_model.set_expiration_of_manifest_tags(
        manifests[0].id, 1000, T0 + 5),
], ids=["move", "delete", "expire", "delete_for_manifest", "expire_for_manifest"])
def test_an_immutable_tag_refuses_every_change_and_nothing_changes(repo, manifests,
                                                                   immutable_tag, write):
    before = row_counts(), [tuple(r.__data__.items()) for r in Tag.select().order_by(Tag.id)]
    with pytest.raises(errors.ImmutableTagException, match="release"):
        write(repo, immutable_tag, manifests)
    after = row_counts(), [tuple(r.__data__.items()) for r in Tag.select().order_by(Tag.id)]
    assert after == before


def test_a_mutable_again_tag_moves(repo, manifests, immutable_tag):
    tag_model.change_tag_immutability(immutable_tag.id, False, T0 + 2)
    moved = tag_model.retarget_tag(repo.id, "release", manifests[1].id, now_ms=T0 + 5)
    assert moved.manifest_id == manifests[1].id and not moved.immutable


def test_a_tag_with_a_scheduled_end_cannot_become_immutable(repo, manifests):
    row = tag_model.retarget_tag(repo.id, "soon", manifests[0].id, now_ms=T0)
    tag_model.change_tag_expiration(row.id, T0 + 100, T0 + 1)
    with pytest.raises(errors.DataModelException, match="expiration"):
        tag_model.change_tag_immutability(row.id, True, T0 + 2)
    assert not Tag.get_by_id(row.id).immutable


def test_immutability_of_a_dead_or_stale_tag_changes_nothing(repo, manifests):
    row = tag_model.retarget_tag(repo.id, "gone", manifests[0].id, now_ms=T0)
    assert tag_model.change_tag_immutability(row.id, True, T0 + 1, "other") is None
    tag_model.delete_tag(repo.id, "gone", T0 + 2)
    assert tag_model.change_tag_immutability(row.id, True, T0 + 3) is None
    assert not Tag.get_by_id(row.id).immutable


def test_tags_of_a_manifest_end_together_and_expire_from_their_start(repo, manifests):
    tag_model.retarget_tag(repo.id, "one", manifests[0].id, now_ms=T0)
    tag_model.retarget_tag(repo.id, "two", manifests[0].id, now_ms=T0 + 1)
    with count_statements() as counted:
        assert tag_model.set_expiration_of_manifest_tags(manifests[0].id, 1000, T0 + 2) == 2
    assert counted.count == 2
    assert sorted(r.lifetime_end_ms for r in rows_of(repo, "one") + rows_of(repo, "two")) == [
        T0 + 1000, T0 + 1001]
    with count_statements() as counted:
        ended = tag_model.end_tags_of_manifest(manifests[0].id, T0 + 3)
    assert counted.count == 2 and sorted(r.name for r in ended) == ["one", "two"]
    assert tag_model.alive_tags_of_manifest(manifests[0].id, T0 + 4) == []


def test_a_bad_page_or_limit_is_refused_before_any_statement(repo):
    with count_statements() as counted:
        for call in (lambda: tag_model.list_alive_tags_page(repo.id, T0, limit=-1),
                     lambda: tag_model.list_tag_history_page(repo.id, T0, page=0)):
            with pytest.raises(errors.DataModelException):
                call()
    assert counted.count == 0


def test_retargeting_to_a_manifest_of_another_repository_or_digest_changes_nothing(
        repo, manifests):
    other_repo = RepositoryFactory()
    before = row_counts()
    assert tag_model.retarget_tag(other_repo.id, "latest", manifests[0].id, now_ms=T0) is None
    assert tag_model.retarget_tag(repo.id, "latest", manifests[0].id, "sha256:" + "0" * 64,
                                  now_ms=T0) is None
    assert row_counts() == before
    moved = tag_model.retarget_tag(repo.id, "latest", manifests[0].id, manifests[0].digest,
                                   now_ms=T0)
    assert (moved.manifest_digest, moved.manifest_layers_size) == (
        manifests[0].digest, manifests[0].layers_compressed_size)


def test_clearing_the_end_of_an_immutable_tag_is_allowed_and_changes_nothing(
        repo, manifests, immutable_tag):
    assert tag_model.change_tag_expiration(immutable_tag.id, None, T0 + 5) == (None, True)
    assert Tag.get_by_id(immutable_tag.id).lifetime_end_ms is None
