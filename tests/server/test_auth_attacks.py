"""Attacks on the server's accounts and tokens: each refused, nothing stored, nothing leaked.

Every test here fails when the check it names is taken out of registry_model/server/access.py,
registry_model/auth/tokens.py or the handlers' scope checks.
"""
import base64
import json
import os
import time

import bcrypt
import pytest
from jwcrypto import jwk, jwt

from registry_model import clock
from registry_model.auth import passwords
from registry_model.auth.accounts import add_account
from registry_model.auth.tokens import TokenAuthority
from registry_model.auth.visibility import set_visibility
from registry_model.testing.databases import snapshot_rows
from tests.server.conftest import (
    SERVICE,
    basic,
    bearer,
    digest_of,
    push_blob,
    push_image,
    token_for,
)

LAYER = b"alice's private layer"
ZERO_DIGEST = "sha256:" + "0" * 64


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _stored_blobs(store) -> list:
    return sorted(os.path.join(folder, name) for folder, _, names in os.walk(store.root)
                  for name in names)


@pytest.fixture
def alice_image(auth_client):
    """alice/secret holds a private image pushed by alice."""
    manifest, digest = push_image(_as(auth_client, basic("alice", "alice-pw")),
                                  "alice/secret", "v1", [LAYER])
    _as(auth_client, {})
    return digest


def _as(client, headers):
    client.environ_base.pop("HTTP_AUTHORIZATION", None)
    if headers:
        client.environ_base["HTTP_AUTHORIZATION"] = headers["Authorization"]
    return client


def _refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert [error["code"] for error in response.get_json()["errors"]] == [code]


def _tampered(token: str, change) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(_unb64(payload))
    change(claims)
    return ".".join([header, _b64(json.dumps(claims).encode()), signature])


# --- who is calling --------------------------------------------------------------------


def test_no_credentials_pull_nothing_private_and_push_nothing(auth_client, alice_image, store):
    before, blobs = snapshot_rows(), _stored_blobs(store)
    _refused(auth_client.get("/v2/alice/secret/manifests/v1"), 401, "UNAUTHORIZED")
    _refused(auth_client.get("/v2/alice/secret/blobs/%s" % digest_of(LAYER)), 401,
             "UNAUTHORIZED")
    _refused(auth_client.post("/v2/alice/secret/blobs/uploads/?digest=%s" % digest_of(b"x"),
                              data=b"x"), 401, "UNAUTHORIZED")
    _refused(auth_client.post("/v2/anyone/new/blobs/uploads/"), 401, "UNAUTHORIZED")
    assert snapshot_rows() == before and _stored_blobs(store) == blobs


def test_a_wrong_password_and_an_unknown_account_get_the_same_answer(auth_client):
    wrong = auth_client.get("/v2/", headers=basic("alice", "not-her-password"))
    unknown = auth_client.get("/v2/", headers=basic("mallory", "not-her-password"))
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_data() == unknown.get_data()
    assert wrong.headers["WWW-Authenticate"] == unknown.headers["WWW-Authenticate"]
    for path in ("/token?service=%s" % SERVICE, "/v2/alice/secret/manifests/v1"):
        assert (auth_client.get(path, headers=basic("alice", "x")).get_data()
                == auth_client.get(path, headers=basic("mallory", "x")).get_data())


def test_a_wrong_password_and_an_unknown_account_cost_the_same_bcrypt_work(auth_client,
                                                                           monkeypatch):
    # The same work, not a timing (timings are never asserted: the machine is shared): each
    # refusal runs exactly one bcrypt check, against a hash of the same cost.
    monkeypatch.setattr(passwords, "ROUNDS", 10)
    add_account("carol", "carol-pw")
    checked = []
    real_checkpw = bcrypt.checkpw

    def counting_checkpw(password, hashed):
        checked.append(hashed.split(b"$")[2])  # the cost factor, e.g. b"10"
        return real_checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting_checkpw)
    for name in ("carol", "mallory"):
        checked.clear()
        assert auth_client.get("/v2/", headers=basic(name, "wrong")).status_code == 401
        assert checked == [b"10"], name


# --- tokens ----------------------------------------------------------------------------


def test_a_token_for_one_repository_is_refused_on_another(auth_client, alice_image):
    token = token_for(auth_client, ["repository:bob/app:pull,push"], basic("bob", "bob-pw"))
    _refused(auth_client.get("/v2/alice/secret/manifests/v1", headers=bearer(token)), 403,
             "DENIED")
    # alice's token for one of her repositories does not open another without a new token
    token = token_for(auth_client, ["repository:alice/other:pull"], basic("alice", "alice-pw"))
    refused = auth_client.get("/v2/alice/secret/manifests/v1", headers=bearer(token))
    _refused(refused, 401, "UNAUTHORIZED")
    assert 'error="insufficient_scope"' in refused.headers["WWW-Authenticate"]


@pytest.mark.parametrize("change", [
    lambda claims: claims.update(access=[{"type": "repository", "name": "alice/secret",
                                          "actions": ["pull", "push"]}]),
    lambda claims: claims.update(exp=claims["exp"] + 86400),
    lambda claims: claims.update(aud="elsewhere"),
    lambda claims: claims.update(sub="alice"),
], ids=["scope", "expiry", "audience", "subject"])
def test_a_tampered_token_is_refused(auth_client, alice_image, change):
    token = token_for(auth_client, ["repository:bob/app:pull"], basic("bob", "bob-pw"))
    refused = auth_client.get("/v2/alice/secret/manifests/v1",
                              headers=bearer(_tampered(token, change)))
    _refused(refused, 401, "UNAUTHORIZED")
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]


def test_a_token_with_a_changed_signature_is_refused(auth_client, alice_image):
    token = token_for(auth_client, ["repository:alice/secret:pull"], basic("alice", "alice-pw"))
    header, payload, signature = token.split(".")
    raw = bytearray(_unb64(signature))
    raw[0] ^= 1
    _refused(auth_client.get("/v2/alice/secret/manifests/v1",
                             headers=bearer(".".join([header, payload, _b64(bytes(raw))]))),
             401, "UNAUTHORIZED")
    assert auth_client.get("/v2/alice/secret/manifests/v1",
                           headers=bearer(token)).status_code == 200


def _signed(key, **changes) -> str:
    """A token of this server's form and key, with some claims changed."""
    now = int(time.time())
    claims = dict({"iss": SERVICE, "aud": SERVICE, "sub": "alice", "iat": now, "nbf": now,
                   "exp": now + 300, "jti": "x", "access": [
                       {"type": "repository", "name": "alice/secret", "actions": ["pull"]}]},
                  **changes)
    token = jwt.JWT(header={"alg": "ES256"}, claims=claims)
    token.make_signed_token(key)
    return token.serialize()


@pytest.mark.parametrize("changes", [{"aud": "another-registry"},
                                     {"iss": "another-registry"},
                                     {"exp": int(time.time()) - 600},
                                     {"nbf": int(time.time()) + 600}],
                         ids=["audience", "issuer", "expired", "not-yet-valid"])
def test_a_token_signed_with_the_servers_key_but_wrong_claims_is_refused(
        auth_client, authority, alice_image, changes):
    assert auth_client.get("/v2/alice/secret/manifests/v1",
                           headers=bearer(_signed(authority.key))).status_code == 200
    _refused(auth_client.get("/v2/alice/secret/manifests/v1",
                             headers=bearer(_signed(authority.key, **changes))),
             401, "UNAUTHORIZED")


def test_an_expired_token_is_refused(auth_client, authority, alice_image, monkeypatch):
    monkeypatch.setattr(clock, "now_ts", lambda: int(time.time()) - 3600)
    token, _ = authority.issue("alice", {"alice/secret": frozenset({"pull"})})
    monkeypatch.undo()
    _refused(auth_client.get("/v2/alice/secret/manifests/v1", headers=bearer(token)), 401,
             "UNAUTHORIZED")


def test_an_unsigned_alg_none_token_is_refused(auth_client, alice_image):
    token = token_for(auth_client, ["repository:alice/secret:pull"], basic("alice", "alice-pw"))
    _, payload, _ = token.split(".")
    unsigned = "%s.%s." % (_b64(json.dumps({"alg": "none", "typ": "JWT"}).encode()), payload)
    _refused(auth_client.get("/v2/alice/secret/manifests/v1", headers=bearer(unsigned)), 401,
             "UNAUTHORIZED")


def test_a_token_of_another_servers_key_is_refused(auth_client, alice_image):
    stranger = TokenAuthority(jwk.JWK.generate(kty="EC", crv="P-256"), SERVICE)
    token, _ = stranger.issue("alice", {"alice/secret": frozenset({"pull", "push"})})
    _refused(auth_client.get("/v2/alice/secret/manifests/v1", headers=bearer(token)), 401,
             "UNAUTHORIZED")


# --- writes ----------------------------------------------------------------------------


def test_a_push_into_someone_elses_namespace_is_denied_and_creates_nothing(auth_client,
                                                                           store):
    before, blobs = snapshot_rows(), _stored_blobs(store)
    token = token_for(auth_client, ["repository:alice/app:pull,push"], basic("bob", "bob-pw"))
    for headers in (bearer(token), basic("bob", "bob-pw")):
        _as(auth_client, headers)
        _refused(auth_client.post("/v2/alice/app/blobs/uploads/?digest=%s" % digest_of(LAYER),
                                  data=LAYER), 403, "DENIED")
        _refused(auth_client.post("/v2/alice/app/blobs/uploads/"), 403, "DENIED")
        _refused(auth_client.put("/v2/alice/app/manifests/v1", data=b"{}",
                                 content_type="application/vnd.oci.image.manifest.v1+json"),
                 403, "DENIED")
    assert snapshot_rows() == before and _stored_blobs(store) == blobs


def test_a_mount_from_a_repository_the_caller_cannot_read_links_nothing(auth_client,
                                                                       alice_image):
    _as(auth_client, basic("bob", "bob-pw"))
    push_blob(auth_client, "bob/app", b"bob's own")
    response = auth_client.post("/v2/bob/app/blobs/uploads/?mount=%s&from=alice/secret"
                                % digest_of(LAYER))
    assert response.status_code == 202  # a session, as for a blob nobody has
    assert auth_client.head("/v2/bob/app/blobs/%s" % digest_of(LAYER)).status_code == 404


# --- names -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["alice/../bob/app", "bob/../alice/secret",
                                  "bob/..%2Falice/secret", "bob%2Falice/secret",
                                  "Alice/secret", "ALICE/SECRET", "alice/secret/..",
                                  "./alice/secret"])
def test_path_tricks_in_names_reach_nothing(auth_client, alice_image, store, name):
    _as(auth_client, basic("bob", "bob-pw"))
    before, blobs = snapshot_rows(), _stored_blobs(store)
    for method, path in [("get", "/v2/%s/manifests/v1" % name), ("get", "/v2/%s/tags/list" % name),
                         ("post", "/v2/%s/blobs/uploads/" % name)]:
        response = getattr(auth_client, method)(path)
        assert response.status_code in (400, 401, 403, 404), (path, response.status_code)
        assert b"v1" not in response.data and digest_of(LAYER).encode() not in response.data
    assert snapshot_rows() == before and _stored_blobs(store) == blobs


@pytest.mark.parametrize("scope", ["repository:ALICE/secret:pull", "repository:Alice/secret:pull",
                                   "repository:bob/../alice/secret:pull",
                                   "repository:alice%2Fsecret:pull",
                                   "repository:alice/secret/x:pull"])
def test_tricky_scope_names_are_granted_nothing(auth_client, authority, scope):
    token = token_for(auth_client, [scope], basic("bob", "bob-pw"))
    assert authority.verify(token).access == {}


# --- leaks -----------------------------------------------------------------------------


def test_a_refusal_tells_nothing_about_what_exists(auth_client, alice_image):
    for headers in ({}, basic("bob", "bob-pw")):
        _as(auth_client, headers)
        existing = auth_client.get("/v2/alice/secret/manifests/v1")
        missing = auth_client.get("/v2/alice/nothing/manifests/v1")
        assert existing.status_code == missing.status_code
        assert (existing.get_data().replace(b"secret", b"nothing") == missing.get_data())
        assert alice_image.encode() not in existing.get_data()


def test_no_catalog_page_or_link_holds_a_private_name(auth_client, oci_model):
    for name in ("a", "b", "c"):
        oci_model.create_repository("alice", name, create_namespace=True)
        oci_model.create_repository("bob", name, create_namespace=True)
    set_visibility("alice", "b", True)
    _as(auth_client, basic("bob", "bob-pw"))
    seen, path = [], "/v2/_catalog?n=1"
    while path:
        response = auth_client.get(path)
        seen += response.get_json()["repositories"]
        link = response.headers.get("Link", "")
        assert "alice%2Fa" not in link and "alice%2Fc" not in link
        path = link[1:link.index(">")] if link else None
    assert seen == ["alice/b", "bob/a", "bob/b", "bob/c"]
