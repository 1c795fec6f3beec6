"""registry_model.model.namespace: creating and finding namespaces."""
import pytest

from registry_model import errors
from registry_model.database import DEFAULT_TAG_EXPIRATION_S, Namespace
from registry_model.model import namespace as namespace_model
from registry_model.testing.databases import snapshot_rows
from registry_model.testing.factories import NamespaceFactory
from registry_model.testing.queries import count_statements


def test_create_namespace_stores_name_and_default_time_machine_window(initialized_db):
    created = namespace_model.create_namespace("devtable")
    stored = Namespace.get_by_id(created.id)
    assert (stored.name, stored.enabled, stored.removed_tag_expiration_s) == (
        "devtable", True, DEFAULT_TAG_EXPIRATION_S)
    assert DEFAULT_TAG_EXPIRATION_S == 14 * 24 * 60 * 60


def test_create_namespace_keeps_a_custom_time_machine_window(initialized_db):
    created = namespace_model.create_namespace("buynlarge", removed_tag_expiration_s=0)
    assert Namespace.get_by_id(created.id).removed_tag_expiration_s == 0


def test_create_namespace_rejects_a_taken_name(initialized_db):
    NamespaceFactory(name="devtable")
    before = snapshot_rows()
    with pytest.raises(errors.DuplicateException):
        namespace_model.create_namespace("devtable")
    assert snapshot_rows() == before


@pytest.mark.parametrize("name", ["", "DevTable", "dev table", "-devtable", "devtable-",
                                  "a" * 256, None, 42])
def test_create_namespace_rejects_invalid_names(initialized_db, name):
    before = snapshot_rows()
    with pytest.raises(errors.InvalidNameException):
        namespace_model.create_namespace(name)
    assert snapshot_rows() == before


@pytest.mark.parametrize("window", [-1, 1.5, "14d", None])
def test_create_namespace_rejects_a_bad_time_machine_window(initialized_db, window):
    before = snapshot_rows()
    with pytest.raises(errors.DataModelException):
        namespace_model.create_namespace("devtable", removed_tag_expiration_s=window)
    assert snapshot_rows() == before


def test_find_namespace_finds_by_exact_name(initialized_db):
    namespace = NamespaceFactory(name="devtable")
    NamespaceFactory(name="devtable2")
    assert namespace_model.find_namespace("devtable").id == namespace.id


@pytest.mark.parametrize("name", ["absent", "DEVTABLE", "dev%", "", None])
def test_find_namespace_answers_none_for_missing_or_impossible_names(initialized_db, name):
    NamespaceFactory(name="devtable")
    assert namespace_model.find_namespace(name) is None


def test_set_tag_expiration_changes_only_that_namespace(initialized_db):
    NamespaceFactory(name="devtable")
    other = NamespaceFactory(name="buynlarge", removed_tag_expiration_s=60)
    updated = namespace_model.set_tag_expiration("devtable", 0)
    assert (updated.name, updated.removed_tag_expiration_s) == ("devtable", 0)
    assert Namespace.get(Namespace.name == "devtable").removed_tag_expiration_s == 0
    assert Namespace.get_by_id(other.id).removed_tag_expiration_s == 60


def test_set_tag_expiration_of_a_missing_namespace_is_none(initialized_db):
    assert namespace_model.set_tag_expiration("nobody", 60) is None
    assert namespace_model.set_tag_expiration("Not A Name", 60) is None


@pytest.mark.parametrize("window", [-1, 1.5, "60", True, None])
def test_set_tag_expiration_refuses_a_bad_window_before_writing(initialized_db, window):
    NamespaceFactory(name="devtable")
    before = snapshot_rows()
    with pytest.raises(errors.DataModelException):
        namespace_model.set_tag_expiration("devtable", window)
    assert snapshot_rows() == before


def test_find_namespace_gives_a_flat_row_in_one_statement(initialized_db):
    created = NamespaceFactory(name="devtable", removed_tag_expiration_s=60)
    with count_statements() as counted:
        row = namespace_model.find_namespace("devtable")
    assert counted.count == 1
    assert (row.id, row.name, row.enabled, row.removed_tag_expiration_s) == (
        created.id, "devtable", True, 60)
    assert namespace_model.find_namespace("nobody") is None
    with count_statements() as counted:
        assert namespace_model.find_namespace("Not A Name") is None
    assert counted.count == 0
