"""Namespaces: create, get, and the time-machine window that decides when gc may collect."""
import time

import pytest

from registry_model import errors
from registry_model.blobstore import InMemoryBlobStore
from registry_model.database import DEFAULT_TAG_EXPIRATION_S
from registry_model.database import Namespace as NamespaceRow
from registry_model.datatypes import Namespace
from registry_model.testing.budgets import budget
from registry_model.testing.builders import layer_bytes
from registry_model.testing.databases import snapshot_rows

from . import measure as measured


def measure(call):
    """``(result, statement count, statements)`` of ``call()`` with a warm lookup cache."""
    result, counted = measured(call)
    return result, counted.count, counted.statements


def test_create_namespace_returns_it_with_the_default_or_given_window(registry_model):
    created, count, statements = measure(lambda: registry_model.create_namespace("acme"))
    assert count <= budget("create_namespace"), statements
    assert created == Namespace(created.id, "acme", True, DEFAULT_TAG_EXPIRATION_S)
    row = NamespaceRow.get(NamespaceRow.name == "acme")
    assert (row.id, row.removed_tag_expiration_s) == (created.id, 14 * 24 * 3600)
    quick = registry_model.create_namespace("quick", removed_tag_expiration_s=0)
    assert quick.removed_tag_expiration_s == 0
    assert NamespaceRow.get_by_id(quick.id).removed_tag_expiration_s == 0


@pytest.mark.parametrize("name, window, exception", [
    ("acme", None, errors.DuplicateException),
    ("Acme", None, errors.InvalidNameException),
    ("n" * 256, None, errors.InvalidNameException),
    ("fresh", -1, errors.InvalidExpirationException),
    ("fresh", 1.5, errors.InvalidExpirationException),
    ("fresh", True, errors.InvalidExpirationException),
    ("fresh", "60", errors.InvalidExpirationException),
])
def test_create_namespace_refuses_and_writes_nothing(registry_model, name, window, exception):
    registry_model.create_namespace("acme")
    before = snapshot_rows()
    with pytest.raises(exception):
        registry_model.create_namespace(name, removed_tag_expiration_s=window)
    assert snapshot_rows() == before


def test_get_namespace_finds_it_or_answers_none(registry_model):
    created = registry_model.create_namespace("acme", 3600)
    found, count, statements = measure(lambda: registry_model.get_namespace("acme"))
    assert count <= budget("get_namespace"), statements
    assert found == created
    assert registry_model.get_namespace("nobody") is None
    invalid, count, statements = measure(lambda: registry_model.get_namespace("Not/A/Name"))
    assert invalid is None
    assert count <= budget("get_namespace", "for an invalid name"), statements


def test_set_namespace_tag_expiration_changes_the_window(registry_model):
    created = registry_model.create_namespace("acme")
    registry_model.create_namespace("other", 7)
    changed, count, statements = measure(
        lambda: registry_model.set_namespace_tag_expiration("acme", 90 * 60))
    assert count <= budget("set_namespace_tag_expiration"), statements
    assert changed == created._replace(removed_tag_expiration_s=5400)
    assert registry_model.get_namespace("acme") == changed
    assert registry_model.get_namespace("other").removed_tag_expiration_s == 7
    assert registry_model.set_namespace_tag_expiration("acme", 0).removed_tag_expiration_s == 0


def test_set_namespace_tag_expiration_to_the_window_it_has_returns_the_namespace(registry_model):
    # MySQL/MariaDB report an UPDATE's changed rows unless asked for matched ones, as
    # PostgreSQL and SQLite report: an unchanged window must not read as a missing namespace.
    created = registry_model.create_namespace("acme", 3600)
    assert registry_model.set_namespace_tag_expiration("acme", 3600) == created
    assert registry_model.set_namespace_tag_expiration("acme", 60) == \
        registry_model.set_namespace_tag_expiration("acme", 60)
    assert registry_model.get_namespace("acme").removed_tag_expiration_s == 60


@pytest.mark.parametrize("name, window, exception", [
    ("nobody", 60, errors.NotFoundException),
    ("Not/A/Name", 60, errors.NotFoundException),
    ("acme", -60, errors.InvalidExpirationException),
    ("acme", "1h", errors.InvalidExpirationException),
])
def test_set_namespace_tag_expiration_refuses_and_writes_nothing(registry_model, name, window,
                                                                 exception):
    registry_model.create_namespace("acme")
    before = snapshot_rows()
    with pytest.raises(exception):
        registry_model.set_namespace_tag_expiration(name, window)
    assert snapshot_rows() == before


def test_a_shorter_window_makes_ended_tags_collectable(registry_model, builder, clock):
    """What the window is for: gc collects an ended tag only once it is past the window."""
    clock.at(int(time.time()))  # the deletion and the collection in the same whole second
    registry_model.create_namespace("acme")
    ref = registry_model.create_repository("acme", "app")
    builder.push_image(ref, "latest", layer_bytes(1, "window"))
    registry_model.delete_tag(ref, "latest")
    store = InMemoryBlobStore()
    assert registry_model.garbage_collect_repository(ref, store, dry_run=True).tags == 0
    registry_model.set_namespace_tag_expiration("acme", 0)
    assert registry_model.garbage_collect_repository(ref, store, dry_run=True).tags == 1
