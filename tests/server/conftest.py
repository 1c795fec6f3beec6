"""The server under Flask's test client, on the test database (rolled back) and a temp store."""
import hashlib
import json

import pytest

from registry_model.blobstore import FilesystemBlobStore
from registry_model.media_types import OCI_CONFIG_CONTENT_TYPE, OCI_LAYER_GZIP_CONTENT_TYPE
from registry_model.server import create_app

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(media_type: str, data: bytes, **extra) -> dict:
    return dict({"mediaType": media_type, "digest": digest_of(data), "size": len(data)}, **extra)


def image_manifest(config: bytes, layers: list, **extra) -> bytes:
    """An OCI image manifest of that config and those layers, as bytes."""
    document = dict({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                     "config": descriptor(OCI_CONFIG_CONTENT_TYPE, config),
                     "layers": [descriptor(OCI_LAYER_GZIP_CONTENT_TYPE, layer)
                                for layer in layers]}, **extra)
    return json.dumps(document, indent=3).encode()


@pytest.fixture
def store(tmp_path):
    return FilesystemBlobStore(tmp_path / "blobs", fsync=False)


@pytest.fixture
def client(oci_model, store):
    """A test client of the app on the OCI model and a filesystem store."""
    return create_app(oci_model, store).test_client()


def push_blob(client, name: str, data: bytes) -> str:
    """A monolithic POST ?digest= upload; the digest."""
    digest = digest_of(data)
    response = client.post("/v2/%s/blobs/uploads/?digest=%s" % (name, digest), data=data,
                           content_type="application/octet-stream")
    assert response.status_code == 201, response.get_json()
    return digest


CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'


def push_image(client, name: str, tag: str, layers: list, config: bytes = CONFIG,
               **extra) -> tuple:
    """Push blobs and an OCI manifest under ``tag`` (a digest pushes by digest): (bytes, digest)."""
    for blob in [config, *layers]:
        push_blob(client, name, blob)
    manifest = image_manifest(config, layers, **extra)
    response = client.put("/v2/%s/manifests/%s" % (name, tag), data=manifest,
                          content_type=OCI_MANIFEST)
    assert response.status_code == 201, response.get_json()
    return manifest, response.headers["Docker-Content-Digest"]


# --- accounts and token auth -----------------------------------------------------------

SERVICE = "registry-test"


def basic(account: str, password: str) -> dict:
    """The Authorization header of Basic credentials."""
    import base64
    encoded = base64.b64encode(("%s:%s" % (account, password)).encode()).decode()
    return {"Authorization": "Basic " + encoded}


def bearer(token: str) -> dict:
    return {"Authorization": "Bearer " + token}


@pytest.fixture
def authority(tmp_path):
    """The token authority of an auth app: a fresh key in a temp folder."""
    from registry_model.auth.tokens import TokenAuthority, load_or_create_key
    return TokenAuthority(load_or_create_key(str(tmp_path / "token-key.json")), SERVICE)


@pytest.fixture
def accounts(initialized_db, monkeypatch):
    """Accounts alice and bob (passwords alice-pw, bob-pw), bcrypt at its lowest cost."""
    from registry_model.auth import passwords
    from registry_model.auth.accounts import add_account
    monkeypatch.setattr(passwords, "ROUNDS", 4)
    for name in ("alice", "bob"):
        add_account(name, name + "-pw")
    return {"alice": "alice-pw", "bob": "bob-pw"}


@pytest.fixture
def auth_client(oci_model, store, authority, accounts):
    """A test client of the app with auth on (accounts alice and bob)."""
    return create_app(oci_model, store, auth=authority).test_client()


def token_for(client, scopes: list, credentials: dict = None) -> str:
    """A token from the app's endpoint for those scopes, with those Basic credentials."""
    from urllib.parse import urlencode
    query = urlencode([("service", SERVICE)] + [("scope", scope) for scope in scopes])
    response = client.get("/token?" + query, headers=credentials or {})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["token"]


def access_of(authority, token: str) -> dict:
    return authority.verify(token).access
