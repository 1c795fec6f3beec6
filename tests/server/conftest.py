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
