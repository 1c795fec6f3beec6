import pytest

from registry_model import errors
from registry_model.auth import grants
from registry_model.auth.accounts import add_account
from registry_model.auth.permissions import Grant
from registry_model.auth.tables import AccountGrant


@pytest.fixture
def alice(initialized_db):
    add_account("alice", "pw")
    return "alice"


def test_grant_and_revoke_round_trip(alice):
    assert grants.grant(alice, "pull", "acme", "app")
    assert not grants.grant(alice, "pull", "acme", "app")  # already held
    assert grants.grant(alice, "push", "acme")
    assert set(grants.grants_of(alice)) == {Grant("acme", None, "push"),
                                            Grant("acme", "app", "pull")}
    assert grants.revoke(alice, "pull", "acme", "app")
    assert not grants.revoke(alice, "pull", "acme", "app")
    assert grants.grants_of(alice) == [Grant("acme", None, "push")]


@pytest.mark.parametrize("action, namespace, repository, exception", [
    ("delete", "acme", None, errors.DataModelException),
    ("pull", "Acme", None, errors.InvalidNameException),
    ("pull", "acme", "../x", errors.InvalidNameException),
])
def test_bad_grants_are_refused_and_nothing_is_stored(alice, action, namespace, repository,
                                                      exception):
    with pytest.raises(exception):
        grants.grant(alice, action, namespace, repository)
    assert AccountGrant.select().count() == 0


def test_a_grant_needs_an_account(initialized_db):
    with pytest.raises(errors.NotFoundException):
        grants.grant("nobody", "pull", "acme")
    assert grants.grants_of("nobody") == [] and grants.grants_of(None) == []
