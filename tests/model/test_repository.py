"""registry_model.model.repository: creation, lookup and state of repositories."""
import pytest

from registry_model import errors
from registry_model.database import Namespace, Repository, RepositoryState
from registry_model.datatypes import RepositoryReference
from registry_model.model import lookup
from registry_model.model import repository as repository_model
from registry_model.testing.databases import snapshot_rows
from registry_model.testing.factories import NamespaceFactory, RepositoryFactory
from registry_model.testing.queries import count_statements


def test_create_repository_stores_every_field(initialized_db):
    NamespaceFactory(name="devtable")
    created = repository_model.create_repository(
        "devtable", "simple", kind_name="application", visibility="public",
        description="a description", state=RepositoryState.READ_ONLY)
    stored = Repository.get_by_id(created.id)
    assert (stored.namespace.name, stored.name, stored.description) == (
        "devtable", "simple", "a description")
    assert stored.kind_id == lookup.kind_id("application")
    assert stored.visibility_id == lookup.visibility_id("public")
    assert stored.state is RepositoryState.READ_ONLY


def test_create_repository_defaults_to_a_private_normal_image_repository(initialized_db):
    NamespaceFactory(name="devtable")
    stored = Repository.get_by_id(repository_model.create_repository("devtable", "simple").id)
    assert stored.kind_id == lookup.kind_id("image")
    assert stored.visibility_id == lookup.visibility_id("private")
    assert stored.state is RepositoryState.NORMAL
    assert stored.description is None


def test_create_repository_allows_the_same_name_in_two_namespaces(initialized_db):
    NamespaceFactory(name="devtable")
    NamespaceFactory(name="buynlarge")
    first = repository_model.create_repository("devtable", "simple")
    second = repository_model.create_repository("buynlarge", "simple")
    assert first.id != second.id


def test_create_repository_rejects_a_duplicate(initialized_db):
    RepositoryFactory(namespace__name="devtable", name="simple")
    before = snapshot_rows()
    with pytest.raises(errors.DuplicateException):
        repository_model.create_repository("devtable", "simple")
    assert snapshot_rows() == before


def test_create_repository_needs_an_existing_namespace(initialized_db):
    before = snapshot_rows()
    with pytest.raises(errors.NotFoundException):
        repository_model.create_repository("nobody", "simple")
    assert snapshot_rows() == before


@pytest.mark.parametrize("arguments, exception", [
    ({"kind_name": "helm"}, errors.InvalidRepositoryKindException),
    ({"visibility": "secret"}, errors.UnknownLookupValueException),
    ({"name": "Simple"}, errors.InvalidNameException),
    ({"name": "simple/nested"}, errors.InvalidNameException),
    ({"namespace_name": "Dev Table"}, errors.InvalidNameException),
    ({"state": 99}, errors.DataModelException),
])
def test_create_repository_rejects_bad_input_before_writing(initialized_db, arguments,
                                                            exception):
    NamespaceFactory(name="devtable")
    before = snapshot_rows()
    with pytest.raises(exception):
        repository_model.create_repository(**{"namespace_name": "devtable", "name": "simple",
                                               **arguments})
    assert snapshot_rows() == before


def test_find_repository_finds_any_state_with_the_namespace_name(initialized_db):
    repo = RepositoryFactory(namespace__name="devtable", name="simple",
                             state=RepositoryState.MARKED_FOR_DELETION)
    with count_statements() as counted:
        found = repository_model.find_repository("devtable", "simple")
        assert found.namespace_name == "devtable"
    assert found.id == repo.id
    assert counted.count == 1


@pytest.mark.parametrize("namespace_name, name", [
    ("devtable", "absent"), ("other", "simple"), ("devtable", "SIMPLE"), ("devtable", "")])
def test_find_repository_answers_none_for_other_names(initialized_db, namespace_name, name):
    RepositoryFactory(namespace__name="devtable", name="simple")
    RepositoryFactory(namespace__name="other", name="else")
    assert repository_model.find_repository(namespace_name, name) is None


def test_lookup_visible_repository_hides_repositories_marked_for_deletion(initialized_db):
    repo = RepositoryFactory(namespace__name="devtable", name="simple")
    assert repository_model.lookup_visible_repository("devtable", "simple").id == repo.id
    for state in (RepositoryState.READ_ONLY, RepositoryState.MIRROR):
        repository_model.set_repository_state(repo, state)
        assert repository_model.lookup_visible_repository("devtable", "simple").id == repo.id
    repository_model.set_repository_state(repo, RepositoryState.MARKED_FOR_DELETION)
    assert repository_model.lookup_visible_repository("devtable", "simple") is None


def test_lookup_visible_repository_filters_by_kind(initialized_db):
    repo = RepositoryFactory(namespace__name="devtable", name="simple", kind_name="application")
    assert repository_model.lookup_visible_repository(
        "devtable", "simple", lookup.kind_id("application")).id == repo.id
    assert repository_model.lookup_visible_repository(
        "devtable", "simple", lookup.kind_id("image")) is None


def test_list_repositories_page_orders_by_namespace_then_name_and_skips_deleted(initialized_db):
    alpha = NamespaceFactory(name="alpha")
    RepositoryFactory(namespace__name="zeta", name="alpha")
    RepositoryFactory(namespace=alpha, name="zeta")
    RepositoryFactory(namespace=alpha, name="beta")
    RepositoryFactory(namespace=alpha, name="gone", state=RepositoryState.MARKED_FOR_DELETION)
    listed = [(r.namespace_name, r.name) for r in repository_model.list_repositories_page()]
    assert listed == [("alpha", "beta"), ("alpha", "zeta"), ("zeta", "alpha")]
    assert [r.name for r in repository_model.list_repositories_page("alpha")] == [
        "beta", "zeta"]
    assert repository_model.list_repositories_page("nobody") == []


def test_set_repository_state_writes_the_enum(initialized_db):
    repo = RepositoryFactory()
    returned = repository_model.set_repository_state(repo, RepositoryState.MIRROR)
    assert returned.state is RepositoryState.MIRROR
    assert Repository.get_by_id(repo.id).state is RepositoryState.MIRROR


def test_set_repository_state_accepts_the_integer_value(initialized_db):
    repo = RepositoryFactory()
    repository_model.set_repository_state(repo, int(RepositoryState.READ_ONLY))
    assert Repository.get_by_id(repo.id).state is RepositoryState.READ_ONLY


def test_set_repository_state_to_the_state_it_has_changes_nothing_and_raises_nothing(
        initialized_db):
    # An UPDATE that matches its row without changing it still finds the repository
    # (MySQL/MariaDB count matched rows only with CLIENT_FOUND_ROWS, see connection.py).
    repo = RepositoryFactory()
    for _ in range(2):
        repository_model.set_repository_state(repo, RepositoryState.MARKED_FOR_DELETION)
    assert Repository.get_by_id(repo.id).state is RepositoryState.MARKED_FOR_DELETION


def test_set_repository_state_of_a_vanished_repository_raises(initialized_db):
    repo = RepositoryFactory()
    Repository.delete().where(Repository.id == repo.id).execute()
    before = snapshot_rows()
    with pytest.raises(errors.NotFoundException):
        repository_model.set_repository_state(repo, RepositoryState.READ_ONLY)
    assert snapshot_rows() == before


def test_set_repository_state_rejects_an_unknown_state(initialized_db):
    repo = RepositoryFactory()
    before = snapshot_rows()
    with pytest.raises(errors.DataModelException):
        repository_model.set_repository_state(repo, 42)
    assert snapshot_rows() == before
    assert Repository.get_by_id(repo.id).state is RepositoryState.NORMAL


def test_create_repository_creates_its_namespace_when_asked_in_four_statements(initialized_db):
    with count_statements() as counted:
        row = repository_model.create_repository("newcomer", "simple", create_namespace=True)
    assert counted.count <= 4, counted.statements
    assert (row.namespace.name, row.name) == ("newcomer", "simple")
    stored = Repository.get_by_id(row.id)
    assert stored.id == row.id and stored.namespace.removed_tag_expiration_s == 14 * 86400


def test_create_repository_uses_a_namespace_a_concurrent_writer_created(initialized_db,
                                                                         monkeypatch):
    # Our read found no namespace; another writer committed it before our insert.
    real_create = repository_model.namespace_model.create_namespace

    def lost_race(name, *args):
        real_create(name)
        raise errors.DuplicateException("namespace %r already exists" % name)

    monkeypatch.setattr(repository_model.namespace_model, "create_namespace", lost_race)
    before = snapshot_rows()
    row = repository_model.create_repository("racer", "simple", create_namespace=True)
    after = snapshot_rows()
    assert len(after["namespace"]) == len(before["namespace"]) + 1
    assert len(after["repository"]) == len(before["repository"]) + 1
    assert row.namespace.name == "racer"


def test_create_repository_with_create_namespace_leaves_nothing_when_the_repository_exists(
        initialized_db):
    RepositoryFactory(namespace__name="devtable", name="simple")
    before = snapshot_rows()
    with pytest.raises(errors.DuplicateException):
        repository_model.create_repository("devtable", "simple", create_namespace=True)
    assert snapshot_rows() == before


def test_list_repositories_page_walks_keyset_pages_in_name_order(initialized_db):
    names = [("alpha", "beta"), ("alpha", "zeta"), ("alpha-b", "c"), ("zeta", "alpha")]
    namespaces = {name: NamespaceFactory(name=name) for name in {ns for ns, _ in names}}
    for namespace_name, name in reversed(names):
        RepositoryFactory(namespace=namespaces[namespace_name], name=name)
    RepositoryFactory(namespace=namespaces["alpha"], name="gone",
                      state=RepositoryState.MARKED_FOR_DELETION)
    seen, last = [], None
    while True:
        with count_statements() as counted:
            page = repository_model.list_repositories_page(last=last, limit=2)
        assert counted.count == 1
        seen += [(row.namespace_name, row.name) for row in page]
        if len(page) < 2:
            break
        last = "%s/%s" % (page[-1].namespace_name, page[-1].name)
    assert seen == sorted(names)
    in_alpha = repository_model.list_repositories_page("alpha", last="alpha/beta")
    assert [row.name for row in in_alpha] == ["zeta"]


@pytest.mark.parametrize("limit", [0, -1, "10", True, None])
def test_list_repositories_page_refuses_a_bad_limit(initialized_db, limit):
    with pytest.raises(errors.DataModelException):
        repository_model.list_repositories_page(limit=limit)


def test_a_repository_row_alone_builds_its_reference_with_at_most_one_query(initialized_db):
    created = RepositoryFactory(namespace__name="devtable", name="simple",
                                visibility=lookup.visibility_id("public"))
    bare = Repository.get_by_id(created.id)  # namespace not joined
    lookup.kind_name(bare.kind_id)  # the lookup cache is loaded once per process
    with count_statements() as counted:
        ref = RepositoryReference.for_repo_obj(bare)
    assert counted.count <= 1
    assert ref == RepositoryReference(created.id, "devtable", "simple", "image", True,
                                      RepositoryState.NORMAL)
    joined = (Repository.select(Repository, Namespace).join(Namespace)
              .where(Repository.id == created.id).get())
    with count_statements() as counted:
        assert RepositoryReference.for_repo_obj(joined) == ref
    assert counted.count == 0


def test_find_repository_gives_a_flat_row_in_any_state_in_one_statement(initialized_db):
    repo = RepositoryFactory(namespace__name="devtable", name="gone",
                             state=RepositoryState.MARKED_FOR_DELETION)
    with count_statements() as counted:
        row = repository_model.find_repository("devtable", "gone")
    assert counted.count == 1
    assert (row.id, row.namespace_name, row.name, row.state) == (
        repo.id, "devtable", "gone", RepositoryState.MARKED_FOR_DELETION)
    assert repository_model.find_repository("devtable", "absent") is None
    with count_statements() as counted:
        assert repository_model.find_repository("Not A Name", "x") is None
    assert counted.count == 0
