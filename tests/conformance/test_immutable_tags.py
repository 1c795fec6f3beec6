"""Immutable tags: nothing moves, deletes or expires them, on models that have them."""
from datetime import UTC, datetime

import pytest

from registry_model import errors
from registry_model.testing.budgets import budget
from registry_model.testing.builders import layer_bytes
from registry_model.testing.databases import snapshot_rows

from . import measure

LATER = datetime(2100, 1, 1, tzinfo=UTC)


@pytest.fixture
def ref(builder):
    return builder.repository("devtable", "locked")


def test_an_immutable_tag_refuses_every_change_until_made_mutable(registry_model, builder,
                                                                  ref):
    first = builder.push_image(ref, "latest", layer_bytes(1, "first"))
    second = builder.push_image(ref, "other", layer_bytes(1, "second"))
    if not builder.supports_immutable_tags:
        before = snapshot_rows()
        with pytest.raises(errors.UnsupportedOperationException):
            registry_model.change_tag_immutability(first.tag, True)
        assert snapshot_rows() == before
        return
    locked, counted = measure(lambda: registry_model.change_tag_immutability(first.tag, True))
    assert (locked.name, locked.immutable, locked.manifest_digest) == (
        "latest", True, first.manifest.digest)
    assert counted.count <= budget("change_tag_immutability")
    before = snapshot_rows()
    for write in (lambda: builder.push_image(ref, "latest", layer_bytes(1, "second"),
                                             upload=False),
                  lambda: registry_model.retarget_tag(ref, "latest", second.manifest),
                  lambda: registry_model.delete_tag(ref, "latest"),
                  lambda: registry_model.change_repository_tag_expiration(locked, LATER),
                  lambda: registry_model.delete_tags_for_manifest(first.manifest),
                  lambda: registry_model.set_tags_expiration_for_manifest(first.manifest, 60)):
        with pytest.raises(errors.ImmutableTagException):
            write()
        assert snapshot_rows() == before
    assert registry_model.get_repo_tag(ref, "latest").immutable
    unlocked = registry_model.change_tag_immutability(locked, False)
    assert not unlocked.immutable
    assert registry_model.delete_tag(ref, "latest").name == "latest"


def test_only_an_alive_tag_without_an_end_can_become_immutable(registry_model, builder, ref):
    ending = builder.push_image(ref, "ending", layer_bytes(1, "ending")).tag
    registry_model.change_repository_tag_expiration(ending, LATER)
    ending = registry_model.get_repo_tag(ref, "ending")
    if not builder.supports_immutable_tags:
        with pytest.raises(errors.UnsupportedOperationException):
            registry_model.change_tag_immutability(ending, True)
        return
    with pytest.raises(errors.DataModelException):
        registry_model.change_tag_immutability(ending, True)
    gone = builder.push_image(ref, "gone", layer_bytes(1, "gone")).tag
    registry_model.delete_tag(ref, "gone")
    assert registry_model.change_tag_immutability(gone, True) is None
    assert not registry_model.get_repo_tag(ref, "ending").immutable
