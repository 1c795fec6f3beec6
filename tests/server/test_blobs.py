"""Blob GETs with storage redirects, on Ceph's RADOS Gateway: a 307 to a presigned URL only
after the checks a direct GET makes, HEAD answered directly, and no statement added.

Direct blob GETs (streamed, ranged) are proven by test_workflows.py and the real clients;
skopeo through a redirecting server by test_two_servers.py.
"""
import urllib.error
import urllib.request

import pytest

from registry_model.auth.permissions import PULL
from registry_model.auth.visibility import set_visibility
from registry_model.errors import StorageConfigurationException
from registry_model.server import create_app
from registry_model.testing.queries import count_statements
from tests.server.conftest import basic, bearer, digest_of, push_blob, push_image, token_for
from tests.server.test_auth_budgets import STATEMENTS

LAYER = b"redirected layer " * 1000
OTHER = b"a layer of another repository"
EXPIRY_S = 90


@pytest.fixture
def redirecting(oci_model, s3_store, authority, accounts):
    """A test client of an auth app redirecting blob GETs, alice/app holding LAYER and
    alice/other holding OTHER."""
    client = create_app(oci_model, s3_store, auth=authority, storage_redirect=True,
                        redirect_expiry_s=EXPIRY_S).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = basic("alice", "alice-pw")["Authorization"]
    push_image(client, "alice/app", "v1", [LAYER])
    push_blob(client, "alice/other", OTHER)
    del client.environ_base["HTTP_AUTHORIZATION"]
    return client


def alice() -> dict:
    return basic("alice", "alice-pw")


def fetch(url: str, headers: dict = None) -> tuple:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}),
                                timeout=10) as response:
        return response.status, response.read()


def test_a_get_redirects_to_a_url_giving_the_blob_and_its_ranges(redirecting, s3_store):
    digest = digest_of(LAYER)
    response = redirecting.get("/v2/alice/app/blobs/%s" % digest, headers=alice())
    assert response.status_code == 307
    assert response.headers["Docker-Content-Digest"] == digest
    assert response.headers["Cache-Control"] == "no-store"
    location = response.headers["Location"]
    assert location.startswith(s3_store.endpoint_url + "/")
    assert "X-Amz-Expires=%d&" % EXPIRY_S in location
    assert fetch(location) == (200, LAYER)
    # A ranged GET is redirected too; the client sends its Range on to the store.
    ranged = redirecting.get("/v2/alice/app/blobs/%s" % digest,
                             headers=dict(alice(), Range="bytes=100-199"))
    assert ranged.status_code == 307
    assert fetch(ranged.headers["Location"], {"Range": "bytes=100-199"}) == (206, LAYER[100:200])


def test_a_head_is_answered_directly(redirecting):
    digest = digest_of(LAYER)
    response = redirecting.head("/v2/alice/app/blobs/%s" % digest, headers=alice())
    assert response.status_code == 200
    assert "Location" not in response.headers
    assert response.headers["Docker-Content-Digest"] == digest
    assert response.content_length == len(LAYER)


@pytest.mark.parametrize("repository, blob, credentials, status", [
    ("alice/app", LAYER, None, 401),                        # anonymous, private repository
    ("alice/app", LAYER, ("bob", "bob-pw"), 403),           # no grant
    ("alice/app", OTHER, ("alice", "alice-pw"), 404),       # a blob of alice/other
    ("alice/app", b"never pushed", ("alice", "alice-pw"), 404),
    ("alice/none", LAYER, ("alice", "alice-pw"), 404),      # no such repository
])
def test_no_url_for_a_caller_who_may_not_read_or_a_blob_not_in_the_repository(
        redirecting, repository, blob, credentials, status):
    headers = basic(*credentials) if credentials else {}
    response = redirecting.get("/v2/%s/blobs/%s" % (repository, digest_of(blob)),
                               headers=headers)
    assert response.status_code == status
    assert "Location" not in response.headers
    assert "X-Amz" not in response.get_data(as_text=True)


def test_a_token_lacking_pull_gets_no_url_and_one_holding_it_does(redirecting):
    path = "/v2/alice/app/blobs/%s" % digest_of(LAYER)
    foreign = token_for(redirecting, ["repository:alice/other:pull"], alice())
    refused = redirecting.get(path, headers=bearer(foreign))
    assert (refused.status_code, "Location" in refused.headers) == (401, False)
    token = token_for(redirecting, ["repository:alice/app:%s" % PULL], alice())
    assert redirecting.get(path, headers=bearer(token)).status_code == 307


def test_a_public_repository_redirects_anonymous_pulls(redirecting):
    set_visibility("alice", "app", True)
    response = redirecting.get("/v2/alice/app/blobs/%s" % digest_of(LAYER))
    assert response.status_code == 307
    assert fetch(response.headers["Location"]) == (200, LAYER)


def test_a_redirect_sends_the_statements_of_a_direct_get(redirecting):
    path = "/v2/alice/app/blobs/%s" % digest_of(LAYER)
    token = token_for(redirecting, ["repository:alice/app:pull"], alice())
    with count_statements() as counted:
        assert redirecting.get(path, headers=bearer(token)).status_code == 307
    assert counted.count == STATEMENTS[("GET", "/v2/alice/app/blobs/{layer}")], (
        counted.statements)


def test_a_store_that_cannot_redirect_is_refused_at_creation(oci_model, store):
    with pytest.raises(StorageConfigurationException, match="cannot redirect"):
        create_app(oci_model, store, storage_redirect=True)
    assert create_app(oci_model, store).test_client().get("/v2/").status_code == 200


@pytest.mark.parametrize("expires_s", [0, 7 * 24 * 3600 + 1, "60"])
def test_an_expiry_outside_one_second_to_seven_days_is_refused(oci_model, s3_store, expires_s):
    with pytest.raises(ValueError):
        create_app(oci_model, s3_store, storage_redirect=True, redirect_expiry_s=expires_s)
