"""Accounts, tokens and scopes on the server (registry_model/server/access.py and token.py)."""
import os

import pytest

from registry_model.auth.grants import grant
from registry_model.auth.visibility import set_visibility
from tests.server.conftest import (
    OCI_MANIFEST,
    SERVICE,
    access_of,
    basic,
    bearer,
    digest_of,
    image_manifest,
    push_blob,
    push_image,
    token_for,
)

LAYER = b"layer bytes of alice"


def act_as(client, headers: dict):
    """Send the client's next requests with these headers (an empty dict: anonymous)."""
    client.environ_base.pop("HTTP_AUTHORIZATION", None)
    if "Authorization" in headers:
        client.environ_base["HTTP_AUTHORIZATION"] = headers["Authorization"]
    return client


def test_the_api_root_challenges_an_anonymous_caller(auth_client):
    response = auth_client.get("/v2/")
    assert response.status_code == 401
    assert response.get_json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="http://localhost/token",service="%s"' % SERVICE)


def test_the_api_root_answers_basic_credentials_and_tokens(auth_client, accounts):
    assert auth_client.get("/v2/", headers=basic("alice", "alice-pw")).status_code == 200
    token = token_for(auth_client, [], basic("alice", "alice-pw"))
    assert auth_client.get("/v2/", headers=bearer(token)).status_code == 200


def test_the_token_grants_only_the_actions_held(auth_client, authority):
    scopes = ["repository:alice/app:pull,push", "repository:bob/app:pull,push",
              "repository:alice/db:delete"]
    token = token_for(auth_client, scopes, basic("alice", "alice-pw"))
    assert access_of(authority, token) == {"alice/app": {"pull", "push"},
                                           "alice/db": {"delete"}}
    grant("bob", "pull", "alice", "app")
    token = token_for(auth_client, scopes, basic("bob", "bob-pw"))
    assert access_of(authority, token) == {"alice/app": {"pull"}, "bob/app": {"pull", "push"}}


def test_an_anonymous_token_pulls_public_repositories_only(auth_client, authority, oci_model):
    oci_model.create_repository("alice", "public", create_namespace=True)
    oci_model.create_repository("alice", "private")
    set_visibility("alice", "public", True)
    token = token_for(auth_client, ["repository:alice/public:pull,push",
                                    "repository:alice/private:pull"])
    assert access_of(authority, token) == {"alice/public": {"pull"}}


def test_the_token_endpoint_refuses_wrong_credentials_and_other_services(auth_client):
    response = auth_client.get("/token?service=%s" % SERVICE, headers=basic("alice", "nope"))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    assert auth_client.get("/token?service=other").status_code == 400


def test_an_owner_pushes_and_pulls_with_a_token(auth_client):
    token = token_for(auth_client, ["repository:alice/app:pull,push"],
                      basic("alice", "alice-pw"))
    act_as(auth_client, bearer(token))
    _, digest = push_image(auth_client, "alice/app", "v1", [LAYER])
    assert auth_client.get("/v2/alice/app/manifests/v1").status_code == 200
    assert auth_client.get("/v2/alice/app/blobs/%s" % digest_of(LAYER)).data == LAYER
    assert auth_client.get("/v2/alice/app/tags/list").get_json()["tags"] == ["v1"]
    assert auth_client.get("/v2/alice/app/referrers/%s" % digest).status_code == 200
    # delete was not in the token: the owner may get one, so the answer is 401
    response = auth_client.delete("/v2/alice/app/manifests/%s" % digest)
    assert response.status_code == 401
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


def test_basic_credentials_work_straight_on_the_api(auth_client):
    act_as(auth_client, basic("alice", "alice-pw"))
    _, digest = push_image(auth_client, "alice/app", "v1", [LAYER])
    assert auth_client.delete("/v2/alice/app/manifests/%s" % digest).status_code == 202


def test_anonymous_pulls_public_but_not_private(auth_client):
    act_as(auth_client, basic("alice", "alice-pw"))
    push_image(auth_client, "alice/open", "v1", [LAYER])
    push_image(auth_client, "alice/closed", "v1", [LAYER])
    set_visibility("alice", "open", True)
    act_as(auth_client, {})
    assert auth_client.get("/v2/alice/open/manifests/v1").status_code == 200
    refused = auth_client.get("/v2/alice/closed/manifests/v1")
    assert refused.status_code == 401
    assert 'scope="repository:alice/closed:pull"' in refused.headers["WWW-Authenticate"]
    push = auth_client.post("/v2/alice/open/blobs/uploads/")
    assert push.status_code == 401
    assert 'scope="repository:alice/open:pull,push"' in push.headers["WWW-Authenticate"]


def test_grants_let_another_account_pull_or_push(auth_client):
    act_as(auth_client, basic("alice", "alice-pw"))
    push_image(auth_client, "alice/app", "v1", [LAYER])
    act_as(auth_client, basic("bob", "bob-pw"))
    assert auth_client.get("/v2/alice/app/manifests/v1").status_code == 403
    grant("bob", "pull", "alice", "app")
    assert auth_client.get("/v2/alice/app/manifests/v1").status_code == 200
    assert auth_client.post("/v2/alice/app/blobs/uploads/").status_code == 403
    grant("bob", "push", "alice")
    push_image(auth_client, "alice/other", "v1", [LAYER])


def test_the_catalog_lists_what_the_caller_may_pull(auth_client, oci_model, monkeypatch):
    from registry_model.server import listings
    monkeypatch.setattr(listings, "CATALOG_BATCH", 2)  # several batches per page
    for namespace, name in [("alice", "a"), ("alice", "b"), ("bob", "c"), ("bob", "d"),
                            ("bob", "e"), ("carol", "f")]:
        oci_model.create_repository(namespace, name, create_namespace=True)
    set_visibility("carol", "f", True)
    grant("bob", "pull", "alice", "b")
    act_as(auth_client, basic("bob", "bob-pw"))
    assert auth_client.get("/v2/_catalog").get_json()["repositories"] == [
        "alice/b", "bob/c", "bob/d", "bob/e", "carol/f"]
    act_as(auth_client, {})
    assert auth_client.get("/v2/_catalog").get_json()["repositories"] == ["carol/f"]
    act_as(auth_client, basic("alice", "alice-pw"))
    first = auth_client.get("/v2/_catalog?n=2")
    assert first.get_json()["repositories"] == ["alice/a", "alice/b"]
    assert "last=alice%2Fb" in first.headers["Link"]
    second = auth_client.get("/v2/_catalog?n=2&last=alice/b")
    assert second.get_json()["repositories"] == ["carol/f"]
    assert "Link" not in second.headers


def test_a_mount_from_an_unreadable_repository_is_an_upload_session(auth_client):
    act_as(auth_client, basic("alice", "alice-pw"))
    push_blob(auth_client, "alice/app", LAYER)
    act_as(auth_client, basic("bob", "bob-pw"))
    digest = digest_of(LAYER)
    mount = "/v2/bob/copy/blobs/uploads/?mount=%s&from=alice/app" % digest
    assert auth_client.post(mount).status_code == 202
    assert auth_client.head("/v2/bob/copy/blobs/%s" % digest).status_code == 404
    grant("bob", "pull", "alice", "app")
    assert auth_client.post(mount).status_code == 201
    assert auth_client.head("/v2/bob/copy/blobs/%s" % digest).status_code == 200


@pytest.mark.parametrize("method, path", [
    ("get", "/v2/alice/app/tags/list"), ("get", "/v2/alice/app/manifests/v1"),
    ("get", "/v2/alice/app/referrers/sha256:" + "0" * 64), ("put", "/v2/alice/app/manifests/v1"),
    ("delete", "/v2/alice/app/manifests/v1"), ("post", "/v2/alice/app/blobs/uploads/"),
    ("delete", "/v2/alice/app/blobs/sha256:" + "0" * 64),
    ("get", "/v2/alice/app/blobs/sha256:" + "0" * 64),
    ("patch", "/v2/alice/app/blobs/uploads/3f1e7b0a-6a43-4c4e-9d0b-0b0f1a2c3d4e"),
])
def test_every_endpoint_refuses_a_caller_without_rights(auth_client, method, path):
    act_as(auth_client, basic("alice", "alice-pw"))
    push_image(auth_client, "alice/app", "v1", [LAYER])
    act_as(auth_client, basic("bob", "bob-pw"))
    response = getattr(auth_client, method)(path)
    assert response.status_code == 403
    assert response.get_json()["errors"][0]["code"] == "DENIED"


def test_a_failed_push_into_a_new_repository_creates_nothing(auth_client, store):
    from registry_model.testing.databases import snapshot_rows
    act_as(auth_client, basic("alice", "alice-pw"))
    before = snapshot_rows()
    wrong = auth_client.post("/v2/alice/new/blobs/uploads/?digest=%s" % digest_of(b"other"),
                             data=LAYER)
    assert wrong.status_code == 400
    manifest = auth_client.put("/v2/alice/new/manifests/v1", data=image_manifest(b"{}", [LAYER]),
                               content_type=OCI_MANIFEST)
    assert manifest.get_json()["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN"
    assert snapshot_rows() == before
    assert not any(files for _, _, files in os.walk(store.root))


def test_a_mounts_challenge_asks_for_pull_on_its_source_too(auth_client):
    response = auth_client.post("/v2/alice/app/blobs/uploads/?mount=%s&from=bob/base"
                                % digest_of(LAYER))
    assert response.status_code == 401
    assert ('scope="repository:alice/app:pull,push repository:bob/base:pull"'
            in response.headers["WWW-Authenticate"])
