import pytest

from registry_model import errors
from registry_model.auth import accounts
from registry_model.auth.grants import grant
from registry_model.auth.tables import Account, AccountGrant
from registry_model.testing.queries import count_statements


def test_an_added_account_logs_in_with_its_password_only(initialized_db):
    info = accounts.add_account("alice", "s3cret")
    assert info.name == "alice" and info.created > 0
    assert accounts.authenticate("alice", "s3cret") == "alice"
    assert accounts.authenticate("alice", "S3cret") is None
    assert accounts.authenticate("bob", "s3cret") is None


def test_the_stored_hash_is_bcrypt_not_the_password(initialized_db):
    accounts.add_account("alice", "s3cret")
    stored = Account.get(Account.name == "alice").password_hash
    assert stored.startswith("$2") and "s3cret" not in stored


@pytest.mark.parametrize("name", ["Alice", "a/b", "..", "", "al ice", None])
def test_bad_names_are_refused_and_nothing_is_stored(initialized_db, name):
    with pytest.raises(errors.InvalidNameException):
        accounts.add_account(name, "pw")
    assert Account.select().count() == 0


@pytest.mark.parametrize("password", ["", "x" * 73, "é" * 37, None])
def test_bad_passwords_are_refused_and_nothing_is_stored(initialized_db, password):
    with pytest.raises(errors.InvalidPasswordException):
        accounts.add_account("alice", password)
    assert Account.select().count() == 0


def test_a_second_account_of_a_name_is_a_duplicate(initialized_db):
    accounts.add_account("alice", "one")
    with pytest.raises(errors.DuplicateException):
        accounts.add_account("alice", "two")
    assert accounts.authenticate("alice", "one") == "alice"


def test_set_password_replaces_the_old_one(initialized_db):
    accounts.add_account("alice", "one")
    accounts.set_password("alice", "two")
    assert accounts.authenticate("alice", "one") is None
    assert accounts.authenticate("alice", "two") == "alice"
    with pytest.raises(errors.NotFoundException):
        accounts.set_password("bob", "two")


def test_remove_account_takes_its_grants_along(initialized_db):
    accounts.add_account("alice", "one")
    accounts.add_account("bob", "two")
    grant("alice", "pull", "bob")
    accounts.remove_account("alice")
    assert [a.name for a in accounts.list_accounts()] == ["bob"]
    assert AccountGrant.select().count() == 0
    assert accounts.authenticate("alice", "one") is None
    with pytest.raises(errors.NotFoundException):
        accounts.remove_account("alice")


def test_list_accounts_is_in_name_order(initialized_db):
    for name in ["carol", "alice", "bob"]:
        accounts.add_account(name, "pw")
    assert [a.name for a in accounts.list_accounts()] == ["alice", "bob", "carol"]


def test_authenticate_is_one_statement(initialized_db):
    accounts.add_account("alice", "pw")
    for name in ["alice", "nobody"]:
        with count_statements() as counted:
            accounts.authenticate(name, "pw")
        assert counted.count == 1, counted.statements
