"""Repositories: create (with or without the namespace), get, look up, list by keyset pages."""
from functools import partial

import pytest

from registry_model import errors
from registry_model.datatypes import RepositoryReference, RepositoryState
from registry_model.model.tables import DEFAULT_TAG_EXPIRATION_S
from registry_model.testing.budgets import budget
from registry_model.testing.databases import snapshot_rows

from . import measure


def test_create_repository_with_create_namespace_makes_both_within_budget(registry_model):
    ref, counted = measure(lambda: registry_model.create_repository(
        "devtable", "simple", visibility="public", description="d", create_namespace=True))
    assert counted.count <= budget("create_repository", "with create_namespace"), (
        counted.statements)
    assert isinstance(ref, RepositoryReference)
    assert (ref.namespace_name, ref.name, ref.kind, ref.is_public, ref.state) == (
        "devtable", "simple", "image", True, RepositoryState.NORMAL)
    namespace = registry_model.get_namespace("devtable")
    assert namespace.removed_tag_expiration_s == DEFAULT_TAG_EXPIRATION_S
    assert registry_model.lookup_repository("devtable", "simple") == ref


def test_create_repository_in_an_existing_namespace_within_budget(registry_model):
    registry_model.create_namespace("devtable")
    ref, counted = measure(lambda: registry_model.create_repository("devtable", "simple"))
    assert counted.count <= budget("create_repository"), counted.statements
    assert (ref.full_name, ref.is_public, ref.kind) == ("devtable/simple", False, "image")
    again = registry_model.create_repository("devtable", "other", create_namespace=True)
    assert again.namespace_name == "devtable"


def test_create_repository_without_its_namespace_raises_and_writes_nothing(registry_model):
    before = snapshot_rows()
    with pytest.raises(errors.NotFoundException):
        registry_model.create_repository("nowhere", "simple")
    assert snapshot_rows() == before


def test_create_repository_twice_raises_duplicate_even_when_marked(registry_model):
    ref = registry_model.create_repository("devtable", "simple", create_namespace=True)
    before = snapshot_rows()
    with pytest.raises(errors.DuplicateException):
        registry_model.create_repository("devtable", "simple")
    registry_model.mark_repository_for_deletion(ref)
    marked = snapshot_rows()
    with pytest.raises(errors.DuplicateException):
        registry_model.create_repository("devtable", "simple", create_namespace=True)
    assert snapshot_rows() == marked != before


@pytest.mark.parametrize("namespace,name,kwargs", [
    ("Bad Namespace", "simple", {}),
    ("devtable", "Bad/Name", {}),
    ("devtable", "x" * 256, {}),
    ("devtable", "simple", {"kind_name": "nosuchkind"}),
    ("devtable", "simple", {"visibility": "secret"}),
])
def test_create_repository_refuses_bad_input_and_writes_nothing(registry_model, namespace, name,
                                                                kwargs):
    before = snapshot_rows()
    with pytest.raises(errors.DataModelException):
        registry_model.create_repository(namespace, name, create_namespace=True, **kwargs)
    assert snapshot_rows() == before


def test_get_repository_finds_a_marked_repository_that_lookup_hides(registry_model):
    ref = registry_model.create_repository("devtable", "gone", create_namespace=True)
    registry_model.mark_repository_for_deletion(ref)
    assert registry_model.lookup_repository("devtable", "gone") is None
    found, counted = measure(lambda: registry_model.get_repository("devtable", "gone"))
    assert counted.count <= budget("get_repository"), counted.statements
    assert (found.id, found.full_name, found.state, found.kind, found.is_public) == (
        ref.id, "devtable/gone", RepositoryState.MARKED_FOR_DELETION, "image", False)
    assert registry_model.get_repository("devtable", "absent") is None
    assert registry_model.get_repository("Not Valid", "x") is None


def test_get_repository_finds_every_kind(registry_model):
    ref = registry_model.create_repository("devtable", "app", kind_name="application",
                                           create_namespace=True)
    assert registry_model.get_repository("devtable", "app") == ref
    assert registry_model.lookup_repository("devtable", "app", kind_filter="image") is None


def test_lookup_repository_returns_a_reference_within_budget(registry_model):
    created = registry_model.create_repository("devtable", "simple", create_namespace=True)
    ref, counted = measure(lambda: registry_model.lookup_repository("devtable", "simple"))
    assert counted.count <= budget("lookup_repository"), counted.statements
    assert isinstance(ref, RepositoryReference)
    assert (ref.id, ref.namespace_name, ref.name, ref.kind, ref.is_public, ref.state) == (
        created.id, "devtable", "simple", "image", False, RepositoryState.NORMAL)


def test_lookup_repository_hides_deleted_and_other_kinds(registry_model):
    ref = registry_model.create_repository("devtable", "gone", create_namespace=True)
    assert registry_model.lookup_repository("devtable", "gone", kind_filter="application") is None
    assert registry_model.lookup_repository("devtable", "gone", kind_filter="image") is not None
    registry_model.mark_repository_for_deletion(ref)
    assert registry_model.lookup_repository("devtable", "gone") is None
    assert registry_model.lookup_repository("devtable", "absent") is None


def _names(refs) -> list:
    return [ref.full_name for ref in refs]


def test_list_repositories_pages_by_keyset_in_name_order_within_budget(registry_model):
    names = ["a/x", "a/y", "b/a", "b/b", "b/c", "c/z", "ab/a"]
    for full_name in names:
        registry_model.create_repository(*full_name.split("/"), create_namespace=True)
    expected = sorted(names, key=lambda n: tuple(n.split("/")))
    pages, last = [], None
    while True:
        page, counted = measure(partial(registry_model.list_repositories, last=last, limit=3))
        assert counted.count <= budget("list_repositories"), counted.statements
        if not page:
            break
        assert len(page) <= 3
        pages.append(_names(page))
        last = page[-1].full_name
    assert pages == [expected[0:3], expected[3:6], expected[6:]]
    assert _names(registry_model.list_repositories(namespace_name="b", last="b/a",
                                                   limit=10)) == ["b/b", "b/c"]
    assert _names(registry_model.list_repositories(namespace_name="b")) == ["b/a", "b/b", "b/c"]
    assert registry_model.list_repositories(namespace_name="absent") == []
    assert all(isinstance(ref, RepositoryReference) for ref in
               registry_model.list_repositories())


def test_list_repositories_leaves_out_repositories_marked_for_deletion(registry_model):
    kept = registry_model.create_repository("devtable", "kept", create_namespace=True)
    gone = registry_model.create_repository("devtable", "gone")
    registry_model.mark_repository_for_deletion(gone)
    assert registry_model.list_repositories() == [kept]
    assert registry_model.list_repositories(last="devtable/gone") == [kept]


@pytest.mark.parametrize("limit", [0, -1, "10", 2.5, True])
def test_list_repositories_refuses_a_bad_limit(registry_model, limit):
    with pytest.raises(errors.DataModelException):
        registry_model.list_repositories(limit=limit)
