"""Datatypes a caller keeps after their row is collected never act on another row.

SQLite gives the highest freed id to the next new row, so a Manifest, LegacyImage, Blob or Tag
kept across a collection can carry the id of a newer, unrelated row (the state machine test
found a retag landing on the wrong manifest that way). Every method taking one checks it
against the row: a Manifest by its digest and tag row, a LegacyImage by its V1 id, a Blob
by its digest, a Tag by its name and start. On PostgreSQL and MariaDB ids are not reused;
the stale handles below are then made by giving a live row's id to another row's datatype.
"""
import pytest

from registry_model import errors
from registry_model.blobstore import InMemoryBlobStore
from registry_model.clock import now_ts
from registry_model.database import backend_name
from registry_model.testing.builders import layer_bytes
from registry_model.testing.databases import snapshot_rows as row_counts


@pytest.fixture
def ref(builder):
    builder.namespace("stale", 0)
    return builder.repository("stale", "handles")


def _push(builder, ref, seed: str, count: int = 2) -> tuple:
    """Push ``seed`` as a tag of that name: ``(Manifest, Tag)``."""
    return tuple(builder.push_image(ref, seed, layer_bytes(count, seed))[:2])


@pytest.fixture
def pushed(builder, ref):
    """Two tags, ``gone`` and ``kept``; returns their (Manifest, Tag) pairs."""
    return _push(builder, ref, "gone"), _push(builder, ref, "kept")


def _stale(current, handle, *fields):
    """``current`` (a live row's datatype) dressed as ``handle`` in those fields."""
    return current._replace(**{name: getattr(handle, name) for name in fields})


def test_a_collected_manifest_whose_id_sqlite_reuses_is_not_retargeted_to(registry_model,
                                                                          builder, ref):
    old_manifest, old_tag = _push(builder, ref, "old")
    registry_model.delete_tag(ref, "old")
    registry_model.garbage_collect_repository(ref, InMemoryBlobStore(), now=now_ts() + 1)
    new_manifest, new_tag = _push(builder, ref, "new", 1)
    reused = (new_manifest.id, new_tag.id) == (old_manifest.id, old_tag.id)
    assert reused == (backend_name() == "sqlite")

    assert registry_model.retarget_tag(ref, "again", old_manifest) is None
    assert registry_model.delete_tags_for_manifest(old_manifest) == []
    with pytest.raises(errors.NotFoundException):
        registry_model.create_manifest_label(old_manifest, "com.example.k", "v", "api")
    assert registry_model.change_repository_tag_expiration(old_tag, None) == (None, False)
    assert registry_model.get_repo_tag(ref, "new").lifetime_end_ts is None
    assert registry_model.get_repo_tag(ref, "again") is None


def test_manifest_methods_refuse_a_manifest_naming_another_row(registry_model, ref, pushed):
    (gone_manifest, _), (kept_manifest, _) = pushed
    label = registry_model.create_manifest_label(kept_manifest, "com.example.k", "v", "api")
    stale = _stale(kept_manifest, gone_manifest, "digest", "tag_id")
    before = row_counts()

    assert registry_model.retarget_tag(ref, "elsewhere", stale) is None
    assert registry_model.delete_tags_for_manifest(stale) == []
    registry_model.set_tags_expiration_for_manifest(stale, 0)
    with pytest.raises(errors.NotFoundException):
        registry_model.create_manifest_label(stale, "com.example.k", "v", "api")
    assert registry_model.list_manifest_labels(stale) == []
    assert registry_model.get_manifest_label(stale, label.uuid) is None
    assert registry_model.delete_manifest_label(stale, label.uuid) is None

    assert row_counts() == before
    assert registry_model.get_repo_tag(ref, "kept").lifetime_end_ts is None
    assert registry_model.list_manifest_labels(kept_manifest) == [label]
    # The same checks pass a manifest whose row is its own.
    assert registry_model.retarget_tag(ref, "elsewhere", kept_manifest) is not None


def test_a_legacy_image_naming_another_image_is_not_retargeted_to(registry_model, builder, ref,
                                                                  pushed):
    (_, gone_tag), (_, kept_tag) = pushed
    kept = registry_model.get_legacy_image(ref, kept_tag.docker_image_id)
    stale = kept._replace(docker_image_id=gone_tag.docker_image_id)
    assert registry_model.retarget_tag(ref, "elsewhere", stale) is None
    moved = registry_model.retarget_tag(ref, "elsewhere", kept)
    assert (moved.image_id, moved.docker_image_id) == (builder.tag_image_id(kept),
                                                       kept.docker_image_id)


def test_a_blob_naming_another_record_is_not_mounted(registry_model, builder, ref):
    first, second = builder.upload_all(ref, layer_bytes(2, "blobs")).values()
    target = builder.repository("stale-target", "target")

    assert not registry_model.mount_blob_into_repository(
        _stale(second, first, "digest"), target, 60)
    assert registry_model.get_repo_blob_by_digest(target, second.digest) is None
    assert registry_model.mount_blob_into_repository(second, target, 60)


def test_a_tag_naming_another_row_keeps_that_row_s_expiration(registry_model, ref, pushed):
    (_, gone_tag), (_, kept_tag) = pushed
    for fields in (("name",), ("lifetime_start_ts",)):
        stale = _stale(kept_tag, gone_tag._replace(lifetime_start_ts=0), *fields)
        assert registry_model.change_repository_tag_expiration(stale, None) == (None, False)
    assert registry_model.get_repo_tag(ref, "kept").lifetime_end_ts is None
    assert registry_model.change_repository_tag_expiration(kept_tag, None) == (None, True)
