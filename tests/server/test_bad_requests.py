"""Bad requests get the spec's error, no traceback, and leave no row and no byte behind.

Each case runs against a repository that exists already, with a snapshot of every row and
a listing of the blob store taken before; both must be unchanged after the refusal.
"""
import io
import json
import os

import pytest

from registry_model import validation
from registry_model.testing.databases import snapshot_rows
from tests.server.conftest import OCI_MANIFEST, digest_of, image_manifest, push_image

LAYER = b"a layer " * 100


def stored_files(store) -> list:
    return sorted(os.path.relpath(os.path.join(folder, name), store.root)
                  for folder, _, names in os.walk(store.root) for name in names)


@pytest.fixture
def pushed(client):
    """acme/app with tag v1, and an open upload session of 3 bytes."""
    push_image(client, "acme/app", "v1", [LAYER])
    session = client.post("/v2/acme/app/blobs/uploads/")
    location = client.patch(session.headers["Location"], data=b"abc").headers["Location"]
    return location


def refused(client, store, method: str, path: str, status: int, code: str, **kwargs):
    """Send the request; assert the spec error and that nothing changed."""
    rows, files = snapshot_rows(), stored_files(store)
    response = client.open(path, method=method, **kwargs)
    assert response.status_code == status, response.data
    body = response.get_json()
    if method != "HEAD":
        assert body["errors"][0]["code"] == code, body
        assert "Traceback" not in response.get_data(as_text=True)
    assert snapshot_rows() == rows
    assert stored_files(store) == files
    return response


BAD_NAMES = ["Acme/App", "acme", "acme/app/extra", "acme/-app", "a" * 300 + "/app"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_malformed_name_is_name_invalid(client, store, pushed, name):
    refused(client, store, "POST", "/v2/%s/blobs/uploads/" % name, 400, "NAME_INVALID")
    refused(client, store, "GET", "/v2/%s/tags/list" % name, 400, "NAME_INVALID")
    refused(client, store, "PUT", "/v2/%s/manifests/v1" % name, 400, "NAME_INVALID",
            data=image_manifest(b"{}", []), content_type=OCI_MANIFEST)


@pytest.mark.parametrize("digest", ["sha256:abc", "md5:" + "0" * 32, "sha256:" + "G" * 64,
                                    "nodigest"])
def test_a_malformed_digest_is_digest_invalid(client, store, pushed, digest):
    refused(client, store, "GET", "/v2/acme/app/blobs/%s" % digest, 400, "DIGEST_INVALID")
    refused(client, store, "POST", "/v2/acme/app/blobs/uploads/?digest=%s" % digest, 400,
            "DIGEST_INVALID", data=b"data")
    refused(client, store, "PUT", "%s?digest=%s" % (pushed, digest), 400, "DIGEST_INVALID")


@pytest.mark.parametrize("upload_id", ["not-a-uuid", "3f1e2d3c-0000-4000-8000-000000000000"])
def test_an_unknown_upload_id_is_blob_upload_unknown(client, store, pushed, upload_id):
    path = "/v2/acme/app/blobs/uploads/%s" % upload_id
    for method in ("GET", "PATCH", "PUT", "DELETE"):
        refused(client, store, method, path, 404, "BLOB_UPLOAD_UNKNOWN")


def test_a_content_length_that_disagrees_with_content_range_is_size_invalid(client, store,
                                                                           pushed):
    refused(client, store, "PATCH", pushed, 400, "SIZE_INVALID", data=b"12345",
            headers={"Content-Range": "3-12"})


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_a_chunk_out_of_order_is_416_with_the_current_range(client, store, pushed, method):
    path = pushed if method == "PATCH" else "%s?digest=%s" % (pushed, digest_of(b"abc12345"))
    response = refused(client, store, method, path, 416, "BLOB_UPLOAD_INVALID",
                       data=b"12345", headers={"Content-Range": "10-14"})
    assert response.headers["Range"] == "0-2"


# gunicorn sets wsgi.input_terminated and ends a cut-off body quietly; other servers let
# Werkzeug limit the stream, which raises when the body ends early.
SERVER_STYLES = pytest.mark.parametrize("terminated", [{}, {"wsgi.input_terminated": True}],
                                        ids=["werkzeug-limited", "server-terminated"])


@SERVER_STYLES
def test_a_body_cut_off_mid_upload_is_rolled_back(client, store, pushed, terminated):
    refused(client, store, "PATCH", pushed, 400, "SIZE_INVALID",
            input_stream=io.BytesIO(b"only five"),
            environ_overrides=dict(terminated, CONTENT_LENGTH="1000"))
    response = client.get(pushed)
    assert response.headers["Range"] == "0-2"


@SERVER_STYLES
def test_a_monolithic_upload_cut_off_keeps_nothing(client, store, pushed, terminated):
    data = b"x" * 1000
    refused(client, store, "POST", "/v2/acme/app/blobs/uploads/?digest=%s" % digest_of(data),
            400, "SIZE_INVALID", input_stream=io.BytesIO(data[:10]),
            environ_overrides=dict(terminated, CONTENT_LENGTH="1000"))


def test_a_digest_that_does_not_match_keeps_nothing(client, store, pushed):
    wrong = digest_of(b"something else")
    refused(client, store, "POST", "/v2/acme/app/blobs/uploads/?digest=%s" % wrong, 400,
            "DIGEST_INVALID", data=b"these bytes")
    rows = snapshot_rows()
    response = client.put("%s?digest=%s" % (pushed, wrong), data=b"def")
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["code"] == "DIGEST_INVALID"
    # The session and its bytes are gone: nothing is left of the upload.
    assert client.get(pushed).status_code == 404
    assert snapshot_rows() != rows  # the upload's row went
    assert not os.listdir(os.path.join(store.root, "uploads"))


def test_an_oversized_manifest_is_413(client, store, pushed):
    filler = "x" * validation.MAX_MANIFEST_BYTES
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "annotations": {"filler": filler}}).encode()
    refused(client, store, "PUT", "/v2/acme/app/manifests/big", 413, "SIZE_INVALID",
            data=body, content_type=OCI_MANIFEST)


def test_a_manifest_naming_a_missing_blob_is_manifest_blob_unknown(client, store, pushed):
    manifest = image_manifest(b'{"never": "pushed"}', [b"nor this"])
    refused(client, store, "PUT", "/v2/acme/app/manifests/v2", 400, "MANIFEST_BLOB_UNKNOWN",
            data=manifest, content_type=OCI_MANIFEST)


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"schemaVersion": 2}', b"",
                                  json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                              "config": "nope", "layers": []}).encode()])
def test_garbage_json_is_manifest_invalid(client, store, pushed, body):
    refused(client, store, "PUT", "/v2/acme/app/manifests/v2", 400, "MANIFEST_INVALID",
            data=body, content_type=OCI_MANIFEST)


def test_a_manifest_whose_digest_is_not_the_reference_is_digest_invalid(client, store, pushed):
    manifest = image_manifest(b"{}", [])
    refused(client, store, "PUT", "/v2/acme/app/manifests/%s" % digest_of(b"other"), 400,
            "DIGEST_INVALID", data=manifest, content_type=OCI_MANIFEST)


def test_a_bad_tag_name_is_manifest_invalid(client, store, pushed):
    refused(client, store, "PUT", "/v2/acme/app/manifests/-bad", 400, "MANIFEST_INVALID",
            data=image_manifest(b"{}", []), content_type=OCI_MANIFEST)


def test_an_unknown_route_and_method_get_json_errors(client, store, pushed):
    refused(client, store, "GET", "/v2/acme/app/nowhere", 404, "NAME_UNKNOWN")
    refused(client, store, "POST", "/v2/acme/app/manifests/v1", 405, "UNSUPPORTED")


@pytest.mark.parametrize("n", ["-1", "x", "1.5"])
def test_a_bad_page_size_is_refused(client, store, pushed, n):
    refused(client, store, "GET", "/v2/acme/app/tags/list?n=%s" % n, 400, "UNSUPPORTED")
