"""PreOCIModel tag lifecycle: lookups, listings, history, moves, deletion and expiration."""
import time
from datetime import UTC, datetime, timedelta

import pytest

from registry_model import errors
from registry_model.database import RepositoryTag, TagManifest
from registry_model.datatypes import LegacyImage, Tag
from registry_model.manifests import (
    DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE,
    DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE,
    generate_signing_key,
    parse_manifest_from_bytes,
)
from registry_model.testing.factories import (
    ImageFactory,
    RepositoryFactory,
    RepositoryTagFactory,
    TagManifestFactory,
)

from . import chain, push, row_counts

NAMESPACE, REPOSITORY = "devtable", "tags"


@pytest.fixture
def repo(initialized_db):
    return RepositoryFactory(namespace__name=NAMESPACE, name=REPOSITORY)


@pytest.fixture
def ref(registry_model, repo):
    return registry_model.lookup_repository(NAMESPACE, REPOSITORY)


def _now() -> int:
    return int(time.time())


# get_repo_tag and the listings


def test_get_repo_tag_returns_the_alive_tag_with_its_manifest_digest(registry_model, ref):
    built, (_, pushed) = push(registry_model, ref, chain(2))
    tag = registry_model.get_repo_tag(ref, "latest")
    assert tag == pushed
    assert (tag.name, tag.manifest_digest, tag.repository) == ("latest", built.digest, ref)


def test_get_repo_tag_of_a_tag_without_manifest_has_no_digest(registry_model, ref, repo):
    row = RepositoryTagFactory(repository=repo, name="bare")
    tag = registry_model.get_repo_tag(ref, "bare")
    assert (tag.id, tag.docker_image_id, tag.manifest_digest) == (
        row.id, row.image.docker_image_id, None)


def test_get_repo_tag_ignores_dead_hidden_and_impossible_names(registry_model, ref, repo):
    now = _now()
    RepositoryTagFactory(repository=repo, name="dead", lifetime_start_ts=now - 100,
                         lifetime_end_ts=now - 1)
    RepositoryTagFactory(repository=repo, name="hidden", hidden=True)
    assert registry_model.get_repo_tag(ref, "dead") is None
    assert registry_model.get_repo_tag(ref, "hidden") is None
    assert registry_model.get_repo_tag(ref, "absent") is None
    assert registry_model.get_repo_tag(ref, "not a tag") is None


def test_get_repo_tag_stays_in_its_repository(registry_model, ref):
    other = RepositoryFactory(namespace__name="elsewhere", name=REPOSITORY)
    RepositoryTagFactory(repository=other, name="latest")
    assert registry_model.get_repo_tag(ref, "latest") is None


def _tags(repo, names, **fields) -> dict:
    return {name: RepositoryTagFactory(repository=repo, name=name, **fields) for name in names}


def test_list_all_active_repository_tags_lists_alive_visible_tags_by_name(registry_model, ref,
                                                                         repo):
    now = _now()
    alive = _tags(repo, ["v2", "B-side", "latest", "a_1", "v10"])
    expiring = RepositoryTagFactory(repository=repo, name="expiring", lifetime_end_ts=now + 600)
    _tags(repo, ["hidden"], hidden=True)
    _tags(repo, ["dead"], lifetime_start_ts=now - 60, lifetime_end_ts=now - 1)
    manifest = TagManifestFactory(tag=alive["latest"])
    listed = registry_model.list_all_active_repository_tags(ref)
    assert all(isinstance(tag, Tag) for tag in listed)
    assert [tag.name for tag in listed] == sorted(list(alive) + ["expiring"])
    assert {tag.name: tag.manifest_digest for tag in listed}["latest"] == manifest.digest
    assert {tag.name: tag.lifetime_end_ts for tag in listed}["expiring"] == (
        expiring.lifetime_end_ts)
    assert {tag.name: tag.docker_image_id for tag in listed} == {
        **{name: row.image.docker_image_id for name, row in alive.items()},
        "expiring": expiring.image.docker_image_id}


def test_lookup_active_repository_tags_pages_by_name_with_a_cursor(registry_model, ref, repo):
    names = ["tag%02d" % i for i in range(25)]
    _tags(repo, reversed(names))
    _tags(repo, ["tag05x"], hidden=True)
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


def test_walking_the_tag_list_visits_every_alive_tag_once(registry_model, ref, repo):
    names = {"Latest", "latest", "v1.0", "v1-0", "v1_0", "V1", "0", "zz", "a.b.c"}
    _tags(repo, names)
    seen, last = [], None
    while True:
        page = registry_model.lookup_active_repository_tags(ref, last=last, limit=2)
        if not page:
            break
        seen.extend(tag.name for tag in page)
        last = page[-1].name
    assert sorted(seen) == sorted(names)
    assert seen == sorted(names)  # bytewise, as the OCI distribution spec lists tags


def test_lookup_active_repository_tags_with_limit_zero_is_empty(registry_model, ref, repo):
    _tags(repo, ["latest"])
    assert registry_model.lookup_active_repository_tags(ref, limit=0) == []


@pytest.mark.parametrize("limit", [-1, "10", 2.5])
def test_lookup_active_repository_tags_rejects_a_bad_limit(registry_model, ref, repo, limit):
    _tags(repo, ["latest"])
    with pytest.raises(errors.DataModelException):
        registry_model.lookup_active_repository_tags(ref, limit=limit)
    # The caller's transaction is still usable afterwards.
    assert registry_model.get_repo_tag(ref, "latest") is not None


# History


@pytest.fixture
def history(repo):
    """Five rows of ``latest`` and one of ``other``, 100 s apart, plus a hidden row."""
    now = _now()
    rows = []
    for k in range(5):
        start = now - 1000 + 100 * k
        rows.append(RepositoryTagFactory(repository=repo, name="latest", lifetime_start_ts=start,
                                         lifetime_end_ts=start + 100 if k < 4 else None))
    rows.append(RepositoryTagFactory(repository=repo, name="other", lifetime_start_ts=now - 50))
    RepositoryTagFactory(repository=repo, name="hidden", hidden=True, lifetime_start_ts=now)
    return rows


def test_list_repository_tag_history_pages_newest_first(registry_model, ref, history):
    newest_first = [row.id for row in reversed(history)]
    page1, more1 = registry_model.list_repository_tag_history(ref, page=1, size=4)
    page2, more2 = registry_model.list_repository_tag_history(ref, page=2, size=4)
    page3, more3 = registry_model.list_repository_tag_history(ref, page=3, size=4)
    assert ([t.id for t in page1], more1) == (newest_first[:4], True)
    assert ([t.id for t in page2], more2) == (newest_first[4:], False)
    assert (page3, more3) == ([], False)
    exact, more = registry_model.list_repository_tag_history(ref, size=6)
    assert (len(exact), more) == (6, False)
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


def test_list_repository_tag_history_carries_manifest_digests(registry_model, ref, history):
    manifest = TagManifestFactory(tag=history[1])
    rows, _ = registry_model.list_repository_tag_history(ref)
    digests = {t.id: t.manifest_digest for t in rows}
    assert digests[history[1].id] == manifest.digest
    assert digests[history[2].id] is None


@pytest.mark.parametrize("page,size", [(0, 10), (-1, 10), (1, 0), (1, -5), ("1", 10)])
def test_list_repository_tag_history_rejects_bad_pages(registry_model, ref, history, page, size):
    with pytest.raises(errors.DataModelException):
        registry_model.list_repository_tag_history(ref, page=page, size=size)
    assert registry_model.get_repo_tag(ref, "latest").id == history[4].id


# retarget_tag


def test_retarget_tag_to_a_manifest_moves_the_tag_and_copies_the_manifest(registry_model, ref):
    first_built, (first_manifest, first) = push(registry_model, ref, chain(2, seed="one"))
    _, (_, second) = push(registry_model, ref, chain(2, seed="two"))
    moved = registry_model.retarget_tag(ref, "latest", first_manifest, None, None)
    assert (moved.name, moved.docker_image_id, moved.image_id, moved.manifest_digest,
            moved.reversion) == ("latest", first.docker_image_id, first.image_id,
                                 first_built.digest, False)
    assert registry_model.get_repo_tag(ref, "latest") == moved
    restored = registry_model.get_manifest_for_tag(moved)
    assert (restored.digest, restored.manifest_bytes) == (first_built.digest, first_built.bytes)
    assert RepositoryTag.get_by_id(second.id).lifetime_end_ts == moved.lifetime_start_ts
    history, _ = registry_model.list_repository_tag_history(ref, specific_tag_name="latest")
    assert [t.id for t in history] == [moved.id, second.id, first.id]


def test_retarget_tag_as_a_reversion_is_marked_so(registry_model, ref):
    _, (manifest, _) = push(registry_model, ref, chain(1, seed="one"))
    push(registry_model, ref, chain(1, seed="two"))
    reverted = registry_model.retarget_tag(ref, "latest", manifest, None, None, is_reversion=True)
    assert reverted.reversion
    assert RepositoryTag.get_by_id(reverted.id).reversion
    assert registry_model.get_repo_tag(ref, "latest").reversion


def test_retarget_tag_can_name_a_new_tag(registry_model, ref):
    built, (manifest, tag) = push(registry_model, ref, chain(2))
    stable = registry_model.retarget_tag(ref, "stable", manifest, None, None)
    assert (stable.name, stable.image_id, stable.manifest_digest) == ("stable", tag.image_id,
                                                                      built.digest)
    assert registry_model.get_repo_tag(ref, "latest") == tag


def _legacy_chain(repo, depth=3) -> list:
    images = [ImageFactory(repository=repo)]
    for _ in range(depth - 1):
        images.append(ImageFactory(parent=images[-1]))
    return images


def test_retarget_tag_to_a_legacy_image_builds_a_signed_manifest_for_it(registry_model, ref,
                                                                        repo):
    images = _legacy_chain(repo)
    leaf = registry_model.get_legacy_image(ref, images[-1].docker_image_id)
    assert isinstance(leaf, LegacyImage)
    key = generate_signing_key()
    tag = registry_model.retarget_tag(ref, "v1", leaf, None, key)
    assert (tag.name, tag.image_id, tag.docker_image_id, tag.reversion) == (
        "v1", images[-1].id, images[-1].docker_image_id, False)
    manifest = registry_model.get_manifest_for_tag(tag)
    assert manifest.media_type == DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE
    assert tag.manifest_digest == manifest.digest
    parsed = parse_manifest_from_bytes(manifest.manifest_bytes, manifest.media_type)
    parsed.verify()
    assert parsed.digest == manifest.digest
    assert (parsed.name, parsed.tag) == ("%s/%s" % (NAMESPACE, REPOSITORY), "v1")
    assert parsed.blob_digests == [image.storage.content_checksum for image in images]
    assert [layer.v1_metadata.image_id for layer in parsed.layers] == [
        image.docker_image_id for image in images]
    assert registry_model.lookup_manifest_by_digest(ref, manifest.digest) == manifest


def test_retarget_tag_to_a_legacy_image_without_a_key_builds_an_unsigned_manifest(
        registry_model, ref, repo):
    images = _legacy_chain(repo, depth=1)
    leaf = registry_model.get_legacy_image(ref, images[0].docker_image_id)
    tag = registry_model.retarget_tag(ref, "latest", leaf, None, None, is_reversion=True)
    assert tag.reversion
    manifest = registry_model.get_manifest_for_tag(tag)
    assert manifest.media_type == DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE
    parsed = parse_manifest_from_bytes(manifest.manifest_bytes, manifest.media_type)
    assert (parsed.tag, parsed.blob_digests) == ("latest", [images[0].storage.content_checksum])


def test_retarget_tag_refuses_what_belongs_to_another_repository(registry_model, ref):
    RepositoryFactory(namespace__name="elsewhere", name="other")
    other = registry_model.lookup_repository("elsewhere", "other")
    _, (foreign_manifest, _) = push(registry_model, other, chain(1))
    foreign_image = registry_model.get_legacy_images(other)[0]
    before = row_counts()
    assert registry_model.retarget_tag(ref, "latest", foreign_manifest, None, None) is None
    assert registry_model.retarget_tag(ref, "latest", foreign_image, None, None) is None
    assert row_counts() == before


def test_retarget_tag_rejects_bad_input_and_writes_nothing(registry_model, ref):
    _, (manifest, _) = push(registry_model, ref, chain(1))
    before = row_counts()
    with pytest.raises(errors.InvalidNameException):
        registry_model.retarget_tag(ref, "bad name", manifest, None, None)
    with pytest.raises(errors.DataModelException):
        registry_model.retarget_tag(ref, "latest", "sha256:" + "0" * 64, None, None)
    assert row_counts() == before


# delete_tag and delete_tags_for_manifest


def test_delete_tag_ends_the_tag_and_keeps_it_in_the_time_machine(registry_model, ref):
    built, (manifest, tag) = push(registry_model, ref, chain(2))
    before = _now()
    deleted = registry_model.delete_tag(ref, "latest")
    assert (deleted.id, deleted.name, deleted.docker_image_id) == (tag.id, "latest",
                                                                   tag.docker_image_id)
    assert before <= deleted.lifetime_end_ts <= _now()
    assert registry_model.get_repo_tag(ref, "latest") is None
    assert registry_model.has_expired_tag(ref, "latest")
    assert registry_model.lookup_manifest_by_digest(ref, built.digest) is None
    assert registry_model.lookup_manifest_by_digest(ref, built.digest, allow_dead=True) == (
        manifest)
    assert registry_model.delete_tag(ref, "latest") is None


def test_delete_tag_of_an_absent_tag_is_none_and_writes_nothing(registry_model, ref):
    before = row_counts()
    assert registry_model.delete_tag(ref, "absent") is None
    assert row_counts() == before


def test_delete_tags_for_manifest_ends_every_alive_tag_with_its_digest(registry_model, ref):
    layers = chain(2)
    built, (manifest, latest) = push(registry_model, ref, layers)
    # A schema 1 manifest names its tag: a second tag gets the same digest by a retarget.
    stable = registry_model.retarget_tag(ref, "stable", manifest, None, None)
    _, (_, other) = push(registry_model, ref, chain(2, seed="other"), tag="other")
    RepositoryFactory(namespace__name="elsewhere", name="copy")
    elsewhere = registry_model.lookup_repository("elsewhere", "copy")
    _, (_, foreign) = push(registry_model, elsewhere, layers)
    ended = registry_model.delete_tags_for_manifest(manifest)
    assert sorted((t.id, t.name, t.manifest_digest) for t in ended) == sorted(
        [(latest.id, "latest", built.digest), (stable.id, "stable", built.digest)])
    assert all(t.lifetime_end_ts is not None and t.lifetime_end_ts <= _now() for t in ended)
    assert [t.name for t in registry_model.list_all_active_repository_tags(ref)] == ["other"]
    assert registry_model.get_repo_tag(elsewhere, "latest") == foreign
    assert registry_model.delete_tags_for_manifest(manifest) == []
    assert other.manifest_digest != built.digest


# Expiration


def test_change_repository_tag_expiration_sets_reports_and_clears_the_end(registry_model, ref):
    _, (_, tag) = push(registry_model, ref, chain(1))
    end = datetime.fromtimestamp(tag.lifetime_start_ts, tz=UTC) + timedelta(days=2)
    assert registry_model.change_repository_tag_expiration(tag, end) == (None, True)
    assert registry_model.get_repo_tag(ref, "latest").lifetime_end_ts == (
        tag.lifetime_start_ts + 2 * 86400)
    later = end + timedelta(hours=1)
    assert registry_model.change_repository_tag_expiration(tag, later) == (end, True)
    assert registry_model.change_repository_tag_expiration(tag, None) == (later, True)
    assert registry_model.get_repo_tag(ref, "latest").lifetime_end_ts is None


def test_change_repository_tag_expiration_reads_naive_datetimes_as_utc(registry_model, ref):
    _, (_, tag) = push(registry_model, ref, chain(1))
    naive = datetime.fromtimestamp(tag.lifetime_start_ts + 3600, tz=UTC).replace(tzinfo=None)
    registry_model.change_repository_tag_expiration(tag, naive)
    assert registry_model.get_repo_tag(ref, "latest").lifetime_end_ts == (
        tag.lifetime_start_ts + 3600)


def test_change_repository_tag_expiration_refuses_an_end_not_after_the_start(registry_model,
                                                                            ref):
    _, (_, tag) = push(registry_model, ref, chain(1))
    start = datetime.fromtimestamp(tag.lifetime_start_ts, tz=UTC)
    for when in (start, start - timedelta(days=1)):
        assert registry_model.change_repository_tag_expiration(tag, when) == (None, False)
    assert registry_model.get_repo_tag(ref, "latest").lifetime_end_ts is None


def test_change_repository_tag_expiration_of_a_dead_tag_changes_nothing(registry_model, ref):
    _, (_, tag) = push(registry_model, ref, chain(1))
    deleted = registry_model.delete_tag(ref, "latest")
    when = datetime.fromtimestamp(tag.lifetime_start_ts + 86400, tz=UTC)
    assert registry_model.change_repository_tag_expiration(tag, when) == (None, False)
    assert RepositoryTag.get_by_id(tag.id).lifetime_end_ts == deleted.lifetime_end_ts


def test_set_tags_expiration_for_manifest_ends_its_tags_after_their_start(registry_model, ref,
                                                                         repo):
    layers = chain(2)
    _, (manifest, latest) = push(registry_model, ref, layers)
    # A schema 1 manifest names its tag: a second tag gets the same digest by a retarget.
    stable = registry_model.retarget_tag(ref, "stable", manifest, None, None)
    _, (_, other) = push(registry_model, ref, chain(1, seed="other"), tag="other")
    registry_model.set_tags_expiration_for_manifest(manifest, 7200)
    tags = {t.name: t for t in registry_model.list_all_active_repository_tags(ref)}
    assert tags["latest"].lifetime_end_ts == latest.lifetime_start_ts + 7200
    assert tags["stable"].lifetime_end_ts == stable.lifetime_start_ts + 7200
    assert tags["other"].lifetime_end_ts is None


def test_has_expired_tag_sees_only_ended_visible_rows(registry_model, ref, repo):
    now = _now()
    RepositoryTagFactory(repository=repo, name="hidden", hidden=True,
                         lifetime_start_ts=now - 100, lifetime_end_ts=now - 1)
    RepositoryTagFactory(repository=repo, name="later", lifetime_end_ts=now + 3600)
    RepositoryTagFactory(repository=repo, name="gone", lifetime_start_ts=now - 100,
                         lifetime_end_ts=now - 1)
    assert registry_model.has_expired_tag(ref, "gone")
    assert not registry_model.has_expired_tag(ref, "hidden")
    assert not registry_model.has_expired_tag(ref, "later")
    assert not registry_model.has_expired_tag(ref, "absent")
    assert not registry_model.has_expired_tag(ref, "not a tag")


# Images a tag owns


def test_get_legacy_images_owned_by_tag_excludes_images_other_tags_reach(registry_model, ref,
                                                                        repo):
    base, middle, leaf = _legacy_chain(repo)
    on_leaf = RepositoryTagFactory(repository=repo, name="leaf", image=leaf)
    on_middle = RepositoryTagFactory(repository=repo, name="middle", image=middle)
    tags = {t.name: t for t in registry_model.list_all_active_repository_tags(ref)}
    assert [i.id for i in registry_model.get_legacy_images_owned_by_tag(tags["leaf"])] == [
        leaf.id]
    assert registry_model.get_legacy_images_owned_by_tag(tags["middle"]) == []
    on_middle.lifetime_end_ts = _now() - 1
    on_middle.save()
    owned = registry_model.get_legacy_images_owned_by_tag(tags["leaf"])
    assert sorted(i.id for i in owned) == sorted([base.id, middle.id, leaf.id])
    assert all(isinstance(i, LegacyImage) for i in owned)
    assert on_leaf.id == tags["leaf"].id


def test_images_shared_with_a_tag_on_another_branch_are_not_owned(registry_model, ref, repo):
    base, middle, leaf = _legacy_chain(repo)
    branch = ImageFactory(parent=base)
    RepositoryTagFactory(repository=repo, name="main", image=leaf)
    RepositoryTagFactory(repository=repo, name="branch", image=branch)
    RepositoryTagFactory(repository=repo, name="hidden", image=middle, hidden=True)
    tags = {t.name: t for t in registry_model.list_all_active_repository_tags(ref)}
    assert [i.id for i in registry_model.get_legacy_images_owned_by_tag(tags["main"])] == [
        leaf.id]
    assert [i.id for i in registry_model.get_legacy_images_owned_by_tag(tags["branch"])] == [
        branch.id]


def test_the_manifest_rows_of_a_retarget_match_the_tag_rows(registry_model, ref):
    _, (manifest, _) = push(registry_model, ref, chain(1))
    moved = registry_model.retarget_tag(ref, "copy", manifest, None, None)
    stored = TagManifest.get(TagManifest.tag == moved.id)
    assert (stored.digest, stored.json_data) == (manifest.digest,
                                                 manifest.manifest_bytes.decode("utf-8"))
