import json
import os
import stat

import pytest
from jwcrypto import jwk

from registry_model import clock
from registry_model.auth.tokens import InvalidTokenException, TokenAuthority, load_or_create_key


@pytest.fixture
def authority(tmp_path):
    return TokenAuthority(load_or_create_key(str(tmp_path / "key.json")), "registry-test")


def test_the_key_is_created_once_private_to_its_owner(tmp_path):
    path = str(tmp_path / "keys" / "token-key.json")
    key = load_or_create_key(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_key(path).thumbprint() == key.thumbprint()
    assert json.loads(open(path).read())["d"]  # the private part


def test_an_issued_token_verifies_to_its_subject_and_access(authority):
    token, _ = authority.issue("alice", {"alice/app": frozenset({"pull", "push"})})
    verified = authority.verify(token)
    assert verified.subject == "alice"
    assert verified.allows("alice/app", "push") and not verified.allows("alice/app", "delete")
    assert not verified.allows("alice/other", "pull")
    assert authority.verify(authority.issue(None, {})[0]).subject is None


def test_a_token_of_another_key_or_service_is_refused(authority):
    other_key = TokenAuthority(jwk.JWK.generate(kty="EC", crv="P-256"), "registry-test")
    other_service = TokenAuthority(authority.key, "elsewhere")
    for issuer in (other_key, other_service):
        with pytest.raises(InvalidTokenException):
            authority.verify(issuer.issue("alice", {})[0])


def test_an_expired_token_is_refused(authority, monkeypatch):
    monkeypatch.setattr(clock, "now_ts", lambda: 1_000_000)
    token, _ = authority.issue("alice", {})
    with pytest.raises(InvalidTokenException):
        authority.verify(token)


@pytest.mark.parametrize("text", ["", "abc", "a.b.c", "a.b.c.d.e", '{"payload": "x"}'])
def test_garbage_is_refused(authority, text):
    with pytest.raises(InvalidTokenException):
        authority.verify(text)
