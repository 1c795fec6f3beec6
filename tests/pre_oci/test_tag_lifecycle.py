"""registry_model.pre_oci.tag, the lifecycle helpers of pushes: paging input, digest expiration."""
import pytest

from registry_model import errors
from registry_model.database import RepositoryTag
from registry_model.pre_oci import tag as tag_model
from registry_model.testing.factories import (
    RepositoryFactory,
    RepositoryTagFactory,
    TagManifestFactory,
)
from registry_model.testing.queries import count_statements

NOW = 1_700_000_000


@pytest.fixture
def repo(initialized_db):
    return RepositoryFactory()


@pytest.mark.parametrize("limit", [-1, -100, 1.5, "5", True])
def test_list_alive_tags_page_rejects_a_bad_limit_without_querying(repo, limit):
    RepositoryTagFactory(repository=repo, name="latest", lifetime_start_ts=NOW - 1)
    with count_statements() as counted, pytest.raises(errors.DataModelException):
        tag_model.list_alive_tags_page(repo.id, NOW, limit=limit)
    assert counted.count == 0
    # The caller's transaction stays usable (a driver error would abort it on PostgreSQL).
    assert [row.name for row in tag_model.list_alive_tags_page(repo.id, NOW)] == ["latest"]


def test_list_alive_tags_page_with_limit_zero_or_none(repo):
    for name in ("b", "a", "c"):
        RepositoryTagFactory(repository=repo, name=name, lifetime_start_ts=NOW - 1)
    assert tag_model.list_alive_tags_page(repo.id, NOW, limit=0) == []
    assert [row.name for row in tag_model.list_alive_tags_page(repo.id, NOW, limit=None)] == [
        "a", "b", "c"]


@pytest.mark.parametrize("page,size", [(0, 10), (-2, 10), (1, 0), (1, -1), (1.0, 10),
                                       (1, None), (None, 10)])
def test_list_tag_history_page_rejects_bad_pages_without_querying(repo, page, size):
    RepositoryTagFactory(repository=repo, name="latest", lifetime_start_ts=NOW - 1)
    with count_statements() as counted, pytest.raises(errors.DataModelException):
        tag_model.list_tag_history_page(repo.id, NOW, page=page, size=size)
    assert counted.count == 0
    rows, has_more = tag_model.list_tag_history_page(repo.id, NOW, page=1, size=1)
    assert ([row.name for row in rows], has_more) == (["latest"], False)


def test_set_expiration_for_digest_is_one_statement_and_touches_only_alive_visible_tags(repo):
    subject = TagManifestFactory(tag__repository=repo, tag__lifetime_start_ts=NOW - 100)
    same = dict(json_data=subject.json_data, digest=subject.digest)
    dead = TagManifestFactory(tag__repository=repo, tag__lifetime_start_ts=NOW - 100,
                              tag__lifetime_end_ts=NOW - 10, **same)
    hidden = TagManifestFactory(tag__repository=repo, tag__hidden=True,
                                tag__lifetime_start_ts=NOW - 100, **same)
    scheduled = TagManifestFactory(tag__repository=repo, tag__lifetime_start_ts=NOW - 50,
                                   tag__lifetime_end_ts=NOW + 99999, **same)
    elsewhere = TagManifestFactory(tag__lifetime_start_ts=NOW - 100, **same)
    with count_statements() as counted:
        changed = tag_model.set_expiration_for_digest(repo.id, subject.digest, 60, NOW)
    assert counted.count == 1
    assert changed == 2
    ends = {row.id: row.lifetime_end_ts for row in RepositoryTag.select()}
    assert ends[subject.tag_id] == NOW - 40  # ended retroactively: start + 60 is past
    assert ends[scheduled.tag_id] == NOW + 10
    assert ends[dead.tag_id] == NOW - 10
    assert ends[hidden.tag_id] is None
    assert ends[elsewhere.tag_id] is None


def test_set_expiration_for_an_unknown_digest_changes_nothing(repo):
    manifest = TagManifestFactory(tag__repository=repo, tag__lifetime_start_ts=NOW - 1)
    assert tag_model.set_expiration_for_digest(repo.id, "sha256:" + "0" * 64, 60, NOW) == 0
    assert RepositoryTag.get_by_id(manifest.tag_id).lifetime_end_ts is None


def test_change_tag_expiration_reports_the_previous_end(repo):
    tag = RepositoryTagFactory(repository=repo, lifetime_start_ts=NOW - 10,
                               lifetime_end_ts=NOW + 100)
    assert tag_model.change_tag_expiration(tag.id, NOW + 200, NOW) == (NOW + 100, True)
    assert tag_model.change_tag_expiration(tag.id, None, NOW) == (NOW + 200, True)
    assert tag_model.change_tag_expiration(tag.id, NOW - 10, NOW) == (None, False)
    assert RepositoryTag.get_by_id(tag.id).lifetime_end_ts is None
