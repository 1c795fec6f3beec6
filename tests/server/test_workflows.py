"""The Distribution spec's four workflows, with plain HTTP calls.

Pull, push, content discovery and content management, as the spec's text describes them:
status codes, Location, Range, Docker-Content-Digest, OCI-Subject, Link and the bytes.
Every test runs four times: through Flask's test client on the test database, and over
HTTP against ``registry-model serve`` (gunicorn) on a scratch database (one server and
database of each kind for the module, put back to their first rows after each test), each
open and with auth on, signed in as account ``acme`` (owner of ``acme``, granted push on
``team`` and ``zeta``): Basic credentials under the test client, the token dance of real
clients over HTTP.
"""
import base64
import contextlib
import json
import shutil
import tempfile
from pathlib import Path

import pytest

from registry_model.auth.tokens import TokenAuthority, load_or_create_key
from registry_model.blobstore import FilesystemBlobStore
from registry_model.media_types import OCI_EMPTY_CONTENT_TYPE
from registry_model.server import create_app
from registry_model.testing.databases import delete_rows_after, mark_rows, scratch_database
from registry_model.testing.served import run_command, served_registry
from tests.server.conftest import (
    OCI_INDEX,
    OCI_MANIFEST,
    descriptor,
    digest_of,
    image_manifest,
    push_blob,
    push_image,
)
from tests.server.http_client import HttpClient, TokenHttpClient

LAYER = b"layer bytes " * 1000
CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'


ACCOUNT, PASSWORD, GRANTED = "acme", "acme-password", ("team", "zeta")


def _add_account_in_process(monkeypatch) -> None:
    from registry_model.auth import grants, passwords
    from registry_model.auth.accounts import add_account
    monkeypatch.setattr(passwords, "ROUNDS", 4)
    add_account(ACCOUNT, PASSWORD)
    for namespace in GRANTED:
        grants.grant(ACCOUNT, "push", namespace)


@pytest.fixture(scope="module")
def served():
    """``served(with_account)``: one server of each kind for the module, started on first use.

    Each gives ``(running, uri, marks)``; the tests put its database back to the marks and
    empty its blob folder after them, so each test sees a fresh registry without paying for
    a new database and server (seconds each).
    """
    servers = {}
    with contextlib.ExitStack() as stack:
        def get(with_account: bool):
            if with_account not in servers:
                folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
                uri = stack.enter_context(scratch_database())
                running = stack.enter_context(served_registry(
                    uri, folder / "blobs", workers=1, auth=with_account))
                if with_account:
                    run_command(uri, "user", "add", ACCOUNT, "--password-stdin", stdin=PASSWORD)
                    for namespace in GRANTED:
                        run_command(uri, "grant", ACCOUNT, "push", namespace)
                servers[with_account] = (running, uri, mark_rows(uri))
            return servers[with_account]
        yield get


@pytest.fixture(params=["flask-test-client", "gunicorn", "flask-test-client-with-account",
                        "gunicorn-with-account"])
def endpoint(request, tmp_path):
    """``(client, store)``: the app under Flask's test client, or a served registry."""
    with_account = request.param.endswith("-with-account")
    if request.param.startswith("flask-test-client"):
        store = FilesystemBlobStore(tmp_path / "blobs", fsync=False)
        model = request.getfixturevalue("oci_model")
        authority = None
        if with_account:
            _add_account_in_process(request.getfixturevalue("monkeypatch"))
            authority = TokenAuthority(load_or_create_key(str(tmp_path / "key.json")), "test")
        client = create_app(model, store, auth=authority).test_client()
        if with_account:
            client.environ_base["HTTP_AUTHORIZATION"] = _basic(ACCOUNT, PASSWORD)
        yield client, store
        return
    running, uri, marks = request.getfixturevalue("served")(with_account)
    client = HttpClient(running.host)
    if with_account:
        client = TokenHttpClient(running.host, ACCOUNT, PASSWORD)
    try:
        yield client, FilesystemBlobStore(running.storage, fsync=False)
    finally:
        delete_rows_after(uri, marks)
        for entry in Path(running.storage).iterdir():
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def _basic(account: str, password: str) -> str:
    return "Basic " + base64.b64encode(("%s:%s" % (account, password)).encode()).decode()


@pytest.fixture
def client(endpoint):
    return endpoint[0]


@pytest.fixture
def store(endpoint):
    return endpoint[1]


def test_the_api_root_answers_200(client):
    response = client.get("/v2/")
    assert response.status_code == 200
    assert response.get_json() == {}


# --- pull ------------------------------------------------------------------------------


def test_pull_a_manifest_by_tag_and_by_digest_gives_the_exact_bytes(client):
    manifest, digest = push_image(client, "acme/app", "v1", [LAYER], CONFIG)
    assert digest == digest_of(manifest)
    for reference in ("v1", digest):
        response = client.get("/v2/acme/app/manifests/%s" % reference,
                              headers={"Accept": OCI_MANIFEST})
        assert response.status_code == 200
        assert response.data == manifest
        assert response.headers["Content-Type"] == OCI_MANIFEST
        assert response.headers["Docker-Content-Digest"] == digest
        head = client.head("/v2/acme/app/manifests/%s" % reference)
        assert head.status_code == 200
        assert head.headers["Content-Length"] == str(len(manifest))
        assert head.headers["Docker-Content-Digest"] == digest


def test_pull_refuses_a_manifest_in_no_accepted_media_type(client):
    push_image(client, "acme/app", "v1", [LAYER], CONFIG)
    response = client.get("/v2/acme/app/manifests/v1", headers={
        "Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    assert response.status_code == 404
    assert response.get_json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    wildcard = client.get("/v2/acme/app/manifests/v1", headers={"Accept": "*/*"})
    assert wildcard.status_code == 200


def test_pull_a_blob_whole_and_by_range(client):
    push_image(client, "acme/app", "v1", [LAYER], CONFIG)
    digest = digest_of(LAYER)
    response = client.get("/v2/acme/app/blobs/%s" % digest)
    assert response.status_code == 200
    assert response.data == LAYER
    assert response.headers["Docker-Content-Digest"] == digest
    head = client.head("/v2/acme/app/blobs/%s" % digest)
    assert (head.status_code, head.headers["Content-Length"]) == (200, str(len(LAYER)))
    partial = client.get("/v2/acme/app/blobs/%s" % digest, headers={"Range": "bytes=6-15"})
    assert partial.status_code == 206
    assert partial.data == LAYER[6:16]
    assert partial.headers["Content-Range"] == "bytes 6-15/%d" % len(LAYER)
    beyond = client.get("/v2/acme/app/blobs/%s" % digest,
                        headers={"Range": "bytes=%d-" % (len(LAYER) + 10)})
    assert beyond.status_code == 416


def test_pull_of_what_is_not_there_is_404_with_the_spec_code(client):
    push_image(client, "acme/app", "v1", [LAYER], CONFIG)
    missing = digest_of(b"never pushed")
    cases = [("/v2/acme/app/manifests/v2", "MANIFEST_UNKNOWN"),
             ("/v2/acme/app/manifests/%s" % missing, "MANIFEST_UNKNOWN"),
             ("/v2/acme/app/blobs/%s" % missing, "BLOB_UNKNOWN"),
             ("/v2/acme/nothing/manifests/v1", "NAME_UNKNOWN")]
    for path, code in cases:
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.get_json()["errors"][0]["code"] == code, path
    assert client.head("/v2/acme/app/blobs/%s" % missing).status_code == 404


# --- push ------------------------------------------------------------------------------


def test_push_a_blob_in_a_session_with_streamed_and_chunked_patches(client):
    data = bytes(range(256)) * 50
    start = client.post("/v2/acme/app/blobs/uploads/")
    assert start.status_code == 202
    location = start.headers["Location"]
    assert location.startswith("/v2/acme/app/blobs/uploads/")
    first = client.patch(location, data=data[:1000], headers={
        "Content-Range": "0-999", "Content-Type": "application/octet-stream"})
    assert first.status_code == 202
    assert first.headers["Range"] == "0-999"
    location = first.headers["Location"]
    status = client.get(location)
    assert (status.status_code, status.headers["Range"]) == (204, "0-999")
    out_of_order = client.patch(location, data=data[2000:3000],
                                headers={"Content-Range": "2000-2999"})
    assert out_of_order.status_code == 416
    assert out_of_order.headers["Range"] == "0-999"
    streamed = client.patch(location, data=data[1000:4000])  # no Content-Range: streamed
    assert (streamed.status_code, streamed.headers["Range"]) == (202, "0-3999")
    digest = digest_of(data)
    done = client.put("%s?digest=%s" % (location, digest), data=data[4000:],
                      headers={"Content-Range": "4000-%d" % (len(data) - 1)})
    assert done.status_code == 201
    assert done.headers["Location"] == "/v2/acme/app/blobs/%s" % digest
    assert done.headers["Docker-Content-Digest"] == digest
    assert client.get("/v2/acme/app/blobs/%s" % digest).data == data
    assert client.get(location).status_code == 404  # the session is over


def test_push_a_manifest_with_a_subject_answers_oci_subject(client):
    _, subject = push_image(client, "acme/app", "v1", [LAYER], CONFIG)
    artifact, digest = push_image(
        client, "acme/app", "sbom", [b"sbom payload"], CONFIG,
        artifactType="application/spdx+json",
        subject={"mediaType": OCI_MANIFEST, "digest": subject, "size": 1})
    response = client.put("/v2/acme/app/manifests/%s" % digest, data=artifact,
                          content_type=OCI_MANIFEST)
    assert response.status_code == 201
    assert response.headers["OCI-Subject"] == subject


def test_mount_from_another_repository_is_201_and_202_when_the_source_lacks_it(client):
    push_image(client, "acme/app", "v1", [LAYER], CONFIG)
    digest = digest_of(LAYER)
    mounted = client.post("/v2/team/copy/blobs/uploads/?mount=%s&from=acme/app" % digest)
    assert mounted.status_code == 201
    assert mounted.headers["Location"] == "/v2/team/copy/blobs/%s" % digest
    assert client.get("/v2/team/copy/blobs/%s" % digest).data == LAYER
    missing = digest_of(b"elsewhere")
    session = client.post("/v2/team/copy/blobs/uploads/?mount=%s&from=acme/app" % missing)
    assert session.status_code == 202
    assert "/blobs/uploads/" in session.headers["Location"]


def test_push_an_index_by_tag_after_its_children_by_digest(client):
    children = []
    for arch in ("amd64", "arm64"):
        config = json.dumps({"architecture": arch, "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        manifest, digest = push_image(client, "acme/multi", digest_of(
            image_manifest(config, [arch.encode() * 100])), [arch.encode() * 100], config)
        children.append(descriptor(OCI_MANIFEST, manifest,
                                   platform={"architecture": arch, "os": "linux"}))
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                        "manifests": children}).encode()
    response = client.put("/v2/acme/multi/manifests/latest", data=index,
                          content_type=OCI_INDEX)
    assert response.status_code == 201
    pulled = client.get("/v2/acme/multi/manifests/latest")
    assert (pulled.data, pulled.headers["Content-Type"]) == (index, OCI_INDEX)
    for child in children:
        assert client.get("/v2/acme/multi/manifests/%s" % child["digest"]).status_code == 200


# --- content discovery -----------------------------------------------------------------


def test_tags_list_pages_with_n_last_and_a_link(client):
    for tag in ("b", "a", "d", "c"):
        push_image(client, "acme/app", tag, [LAYER], CONFIG)
    everything = client.get("/v2/acme/app/tags/list")
    assert everything.get_json() == {"name": "acme/app", "tags": ["a", "b", "c", "d"]}
    assert "Link" not in everything.headers
    first = client.get("/v2/acme/app/tags/list?n=2")
    assert first.get_json()["tags"] == ["a", "b"]
    assert first.headers["Link"] == '</v2/acme/app/tags/list?n=2&last=b>; rel="next"'
    second = client.get("/v2/acme/app/tags/list?n=2&last=b")
    assert second.get_json()["tags"] == ["c", "d"]
    assert "Link" not in second.headers
    assert client.get("/v2/acme/app/tags/list?n=0").get_json()["tags"] == []


def test_catalog_pages_with_n_last_and_a_link(client):
    for name in ("zeta/one", "acme/two", "acme/one"):
        push_blob(client, name, b"x")
    first = client.get("/v2/_catalog?n=2")
    assert first.get_json() == {"repositories": ["acme/one", "acme/two"]}
    assert first.headers["Link"] == '</v2/_catalog?n=2&last=acme%2Ftwo>; rel="next"'
    second = client.get("/v2/_catalog?n=2&last=acme/two")
    assert second.get_json() == {"repositories": ["zeta/one"]}


def test_referrers_list_an_artifact_and_filter_by_type(client):
    _, subject = push_image(client, "acme/app", "v1", [LAYER], CONFIG)
    empty = push_blob(client, "acme/app", b"{}")
    for artifact_type in ("application/spdx+json", "application/vnd.example.sig"):
        payload = artifact_type.encode()
        push_blob(client, "acme/app", payload)
        document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "artifactType": artifact_type,
                    "config": {"mediaType": OCI_EMPTY_CONTENT_TYPE, "digest": empty, "size": 2},
                    "layers": [descriptor("application/octet-stream", payload)],
                    "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": 10},
                    "annotations": {"org.example.kind": artifact_type}}
        data = json.dumps(document).encode()
        response = client.put("/v2/acme/app/manifests/%s" % digest_of(data), data=data,
                              content_type=OCI_MANIFEST)
        assert response.status_code == 201
        assert response.headers["OCI-Subject"] == subject
    listed = client.get("/v2/acme/app/referrers/%s" % subject)
    assert listed.status_code == 200
    assert listed.headers["Content-Type"] == OCI_INDEX
    index = listed.get_json()
    assert index["mediaType"] == OCI_INDEX
    assert [entry["artifactType"] for entry in index["manifests"]] == [
        "application/spdx+json", "application/vnd.example.sig"]
    assert index["manifests"][0]["annotations"] == {"org.example.kind": "application/spdx+json"}
    filtered = client.get("/v2/acme/app/referrers/%s?artifactType=application/spdx%%2Bjson"
                          % subject)
    assert filtered.headers["OCI-Filters-Applied"] == "artifactType"
    assert [entry["artifactType"] for entry in filtered.get_json()["manifests"]] == [
        "application/spdx+json"]
    nothing = client.get("/v2/acme/app/referrers/%s" % digest_of(b"no subject"))
    assert (nothing.status_code, nothing.get_json()["manifests"]) == (200, [])


# --- content management ----------------------------------------------------------------


def test_delete_a_tag_then_the_manifest_by_digest(client):
    _, digest = push_image(client, "acme/app", "v1", [LAYER], CONFIG)
    push_image(client, "acme/app", "v2", [LAYER], CONFIG)
    assert client.delete("/v2/acme/app/manifests/v1").status_code == 202
    assert client.get("/v2/acme/app/manifests/v1").status_code == 404
    assert client.get("/v2/acme/app/tags/list").get_json()["tags"] == ["v2"]
    assert client.delete("/v2/acme/app/manifests/%s" % digest).status_code == 202
    assert client.get("/v2/acme/app/manifests/%s" % digest).status_code == 404
    assert client.get("/v2/acme/app/manifests/v2").status_code == 404
    again = client.delete("/v2/acme/app/manifests/%s" % digest)
    assert again.status_code == 404
    assert again.get_json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"


def test_delete_a_manifest_pushed_by_digest_alone(client):
    manifest = image_manifest(CONFIG, [LAYER])
    _, digest = push_image(client, "acme/app", digest_of(manifest), [LAYER], CONFIG)
    assert client.get("/v2/acme/app/manifests/%s" % digest).data == manifest
    assert client.delete("/v2/acme/app/manifests/%s" % digest).status_code == 202
    assert client.get("/v2/acme/app/manifests/%s" % digest).status_code == 404


def test_cancel_an_upload_session(client, store):
    start = client.post("/v2/acme/app/blobs/uploads/")
    location = start.headers["Location"]
    client.patch(location, data=b"abandoned")
    assert client.delete(location).status_code == 204
    assert client.get(location).get_json()["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"
    assert list(store.list_digests()) == []


def test_deleting_a_blob_is_unsupported(client):
    push_image(client, "acme/app", "v1", [LAYER], CONFIG)
    response = client.delete("/v2/acme/app/blobs/%s" % digest_of(LAYER))
    assert response.status_code == 405
    assert response.get_json()["errors"][0]["code"] == "UNSUPPORTED"
