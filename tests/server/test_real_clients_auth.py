"""Real clients signing in to ``registry-model serve --auth on``: skopeo and oras.

skopeo (``--creds``) follows the server's 401 challenge to its token endpoint and pushes
and pulls with tokens; oras logs in and sends its credentials to ``/v2/`` (Basic); an
anonymous pull of a public repository works and of a private one is refused, and a push
into another account's namespace is denied. One server per module, on a scratch database
of the backend under test; one more on the S3 gateway redirects blob GETs, and skopeo pulls
through the redirects with its token (the gateway refuses a request that brings it along).
"""
import hashlib
import json

import pytest

from registry_model.archive.oci_layout import make_layer_tar, write_oci_layout
from registry_model.testing.databases import scratch_database
from registry_model.testing.served import run_command, served_registry
from tests.server.conftest import basic
from tests.server.http_client import HttpClient, TokenHttpClient

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
LAYER = make_layer_tar({"etc/motd": "signed in\n"})
CONFIG = {"architecture": "amd64", "os": "linux", "config": {}}
ALICE, BOB = ("alice", "alice-secret"), ("bob", "bob-secret")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("served-auth")
    with scratch_database() as uri, served_registry(uri, folder / "blobs", auth=True) as running:
        for name, password in (ALICE, BOB):
            run_command(uri, "user", "add", name, "--password-stdin", stdin=password + "\n")
        yield running, uri


def _layout(tmp_path):
    return write_oci_layout(tmp_path / "layout", [LAYER], CONFIG, "v1")


def _refused(skopeo, *args) -> str:
    with pytest.raises(AssertionError) as failed:
        skopeo(*args)
    return str(failed.value).lower()


def test_skopeo_pushes_and_pulls_with_credentials(server, skopeo, tmp_path):
    running, _ = server
    image = _layout(tmp_path)
    target = "docker://%s/alice/app:v1" % running.host
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "alice:alice-secret",
           "oci:%s:v1" % (tmp_path / "layout"), target)
    raw = skopeo("inspect", "--raw", "--tls-verify=false", "--creds", "alice:alice-secret",
                 target).encode()
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == image.manifest_digest
    skopeo("copy", "--src-tls-verify=false", "--src-creds", "alice:alice-secret", target,
           "dir:%s" % (tmp_path / "out"))
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["mediaType"] == (
        OCI_MANIFEST)
    assert "unauthorized" in _refused(skopeo, "inspect", "--raw", "--tls-verify=false",
                                      "--creds", "alice:wrong", target)


def test_anonymous_pulls_a_public_repository_but_not_a_private_one(server, skopeo, tmp_path):
    running, uri = server
    _layout(tmp_path)
    for name in ("open", "closed"):
        skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "alice:alice-secret",
               "oci:%s:v1" % (tmp_path / "layout"), "docker://%s/alice/%s:v1"
               % (running.host, name))
    run_command(uri, "visibility", "alice/open", "public")
    skopeo("inspect", "--raw", "--tls-verify=false", "--no-creds",
           "docker://%s/alice/open:v1" % running.host)
    refused = _refused(skopeo, "inspect", "--raw", "--tls-verify=false", "--no-creds",
                       "docker://%s/alice/closed:v1" % running.host)
    assert "unauthorized" in refused or "authentication required" in refused
    assert "denied" in _refused(skopeo, "inspect", "--raw", "--tls-verify=false", "--creds",
                                "bob:bob-secret", "docker://%s/alice/closed:v1" % running.host)


def test_a_push_into_another_accounts_namespace_is_denied_until_granted(server, skopeo,
                                                                       tmp_path):
    running, uri = server
    _layout(tmp_path)
    args = ["copy", "--dest-tls-verify=false", "--dest-creds", "bob:bob-secret",
            "oci:%s:v1" % (tmp_path / "layout"), "docker://%s/alice/bobs:v1" % running.host]
    assert "403 (forbidden)" in _refused(skopeo, *args)
    catalog = TokenHttpClient(running.host, *ALICE).get("/v2/_catalog").get_json()
    assert "alice/bobs" not in catalog["repositories"]
    run_command(uri, "grant", "bob", "push", "alice/bobs")
    skopeo(*args)


def test_oras_logs_in_and_pushes_an_artifact_that_referrers_list(server, skopeo, tmp_path,
                                                                 monkeypatch):
    import oras.client
    import oras.oci

    running, _ = server
    image = _layout(tmp_path)
    subject = "docker://%s/alice/signed:v1" % running.host
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "alice:alice-secret",
           "oci:%s:v1" % (tmp_path / "layout"), subject)
    raw = skopeo("inspect", "--raw", "--tls-verify=false", "--creds", "alice:alice-secret",
                 subject).encode()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sbom.json").write_text('{"spdxVersion": "SPDX-2.3"}')
    # oras-py's token backend keeps its first token and renews it only on a 403, while the
    # server answers a token lacking a scope with 401 as Distribution does (what docker and
    # containerd renew on); its Basic backend sends the login to /v2/ directly.
    client = oras.client.OrasClient(hostname=running.host, insecure=True, auth_backend="basic")
    client.login(username=ALICE[0], password=ALICE[1], hostname=running.host,
                 config_path=str(tmp_path / "docker-config.json"))
    response = client.push("%s/alice/signed:sbom" % running.host, files=["sbom.json"],
                           subject=oras.oci.Subject(OCI_MANIFEST, image.manifest_digest,
                                                    len(raw)))
    assert response.status_code == 201
    referrers = TokenHttpClient(running.host, *ALICE).get(
        "/v2/alice/signed/referrers/%s" % image.manifest_digest).get_json()
    assert [entry["digest"] for entry in referrers["manifests"]] == [
        response.headers["Docker-Content-Digest"]]
    anonymous = HttpClient(running.host)
    assert anonymous.get("/v2/alice/signed/referrers/%s"
                         % image.manifest_digest).status_code == 401


def test_skopeo_pulls_with_a_token_through_storage_redirects(s3_store, skopeo, tmp_path):
    storage = "s3://%s/%s?endpoint=%s" % (s3_store.bucket, s3_store._keys.root,
                                          s3_store.endpoint_url)
    image = _layout(tmp_path)
    with scratch_database() as uri, served_registry(uri, storage, workers=1, auth=True,
                                                    log_dir=tmp_path,
                                                    redirect_expiry_s=60) as running:
        run_command(uri, "user", "add", ALICE[0], "--password-stdin", stdin=ALICE[1] + "\n")
        target = "docker://%s/alice/app:v1" % running.host
        creds = "%s:%s" % ALICE
        skopeo("copy", "--dest-tls-verify=false", "--dest-creds", creds,
               "oci:%s:v1" % (tmp_path / "layout"), target)
        skopeo("copy", "--src-tls-verify=false", "--src-creds", creds, target,
               "dir:%s" % (tmp_path / "out"))
        layer = image.layer_digests[0]
        answer = HttpClient(running.host).get("/v2/alice/app/blobs/%s" % layer,
                                              headers=basic(*ALICE))
    assert answer.status_code == 307
    copied = (tmp_path / "out" / layer.split(":")[1]).read_bytes()
    assert "sha256:" + hashlib.sha256(copied).hexdigest() == layer
