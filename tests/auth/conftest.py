"""Accounts' tests hash with bcrypt's lowest cost: the rule is the same, the suite is fast."""
import pytest

from registry_model.auth import passwords


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    monkeypatch.setattr(passwords, "ROUNDS", 4)
