"""What auth costs in statements: nothing for a request carrying a valid token.

A token is checked by its signature alone (registry_model/auth/tokens.py); the request then
runs the interface calls it runs on an open server. The README's table "Statements per
request" is :data:`STATEMENTS`; a Basic request adds the account lookup and its grants.
"""
import pytest

from registry_model.auth.grants import grant
from registry_model.server import create_app
from registry_model.testing.queries import count_statements
from tests.server.conftest import basic, bearer, digest_of, push_image, token_for

LAYER = b"budgeted layer"
ZERO = "sha256:" + "0" * 64

# (method, path): statements with a valid token (the same as on an open server).
STATEMENTS = {
    ("GET", "/v2/alice/app/manifests/v1"): 3,
    ("HEAD", "/v2/alice/app/manifests/v1"): 3,
    ("GET", "/v2/alice/app/manifests/{manifest}"): 2,
    ("GET", "/v2/alice/app/blobs/{layer}"): 2,
    ("HEAD", "/v2/alice/app/blobs/{layer}"): 2,
    ("GET", "/v2/alice/app/tags/list"): 2,
    ("GET", "/v2/alice/app/referrers/{manifest}"): 2,
}


def _fill(path: str, manifest: str) -> str:
    return path.format(manifest=manifest, layer=digest_of(LAYER))


def _counted(client, method: str, path: str, headers: dict) -> int:
    with count_statements() as counted:
        response = client.open(path, method=method, headers=headers)
    assert response.status_code == 200, (path, response.get_data(as_text=True))
    return counted.count


@pytest.fixture
def pushed(auth_client):
    auth_client.environ_base["HTTP_AUTHORIZATION"] = basic("alice", "alice-pw")["Authorization"]
    _, manifest = push_image(auth_client, "alice/app", "v1", [LAYER])
    del auth_client.environ_base["HTTP_AUTHORIZATION"]
    return manifest


@pytest.mark.parametrize("method, path", sorted(STATEMENTS))
def test_a_token_adds_no_statement_to_a_pull(auth_client, oci_model, store, pushed, method,
                                             path):
    open_client = create_app(oci_model, store).test_client()
    token = token_for(auth_client, ["repository:alice/app:pull"], basic("alice", "alice-pw"))
    path = _fill(path, pushed)
    with_token = _counted(auth_client, method, path, bearer(token))
    assert with_token == _counted(open_client, method, path, {})
    assert with_token == STATEMENTS[(method, _unfilled(path, pushed))]


def _unfilled(path: str, manifest: str) -> str:
    return path.replace(manifest, "{manifest}").replace(digest_of(LAYER), "{layer}")


def test_basic_credentials_add_the_account_and_its_grants(auth_client, pushed):
    path = "/v2/alice/app/manifests/v1"
    token = token_for(auth_client, ["repository:alice/app:pull"], basic("alice", "alice-pw"))
    with_token = _counted(auth_client, "GET", path, bearer(token))
    # The owner: one more, the password lookup. Another account: its grants too.
    assert _counted(auth_client, "GET", path, basic("alice", "alice-pw")) == with_token + 1
    grant("bob", "pull", "alice", "app")
    assert _counted(auth_client, "GET", path, basic("bob", "bob-pw")) == with_token + 2


def test_the_token_endpoint_reads_the_account_its_grants_and_visibility(auth_client):
    query = ("/token?service=registry-test&scope=repository:alice/app:pull,push"
             "&scope=repository:bob/app:pull&scope=repository:carol/app:pull")
    with count_statements() as counted:
        assert auth_client.get(query, headers=basic("alice", "alice-pw")).status_code == 200
    assert counted.count == 2 + 2, counted.statements  # bob/app and carol/app: visibility
    with count_statements() as counted:
        assert auth_client.get(query).status_code == 200
    assert counted.count == 3, counted.statements
