"""Two ``registry-model serve`` processes sharing one database and one S3 bucket (Ceph's
gateway), as two machines would: what skopeo pushes to one it pulls from the other, clients
pushing images that share layers to both at once lose nothing, and the collector run beside
them keeps everything referenced. The second server redirects blob GETs to presigned URLs of
the gateway (``--storage-redirect``), so what skopeo pulls from it comes from the gateway."""
import hashlib
import http.client
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from registry_model.archive.oci_layout import make_layer_tar, write_oci_layout
from registry_model.testing.databases import scratch_database
from registry_model.testing.served import served_registry

SHARED = make_layer_tar({"etc/os-release": "ID=shared\n", "lib/base.so": b"\x7fELF" * 5000})
CLIENTS = 8


def config_for(number: int) -> dict:
    return {"architecture": "amd64", "os": "linux", "created": "2024-05-06T07:08:09Z",
            "config": {"Labels": {"n": str(number)}}}


@pytest.fixture
def two_servers(s3_store, tmp_path):
    storage = "s3://%s/%s?endpoint=%s" % (s3_store.bucket, s3_store._keys.root,
                                          s3_store.endpoint_url)
    with scratch_database() as uri, \
            served_registry(uri, storage, workers=1, log_dir=tmp_path) as first, \
            served_registry(uri, storage, workers=1, log_dir=tmp_path,
                            redirect_expiry_s=300) as second:
        yield first, second, uri


def blob_get(server, path: str) -> http.client.HTTPResponse:
    """A GET of the server, redirects not followed; the response, read."""
    connection = http.client.HTTPConnection(server.host, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response
    finally:
        connection.close()


def pulled_layers_are_whole(folder) -> list:
    """The pulled image's layer digests, each checked against its bytes."""
    manifest = json.loads((folder / "manifest.json").read_text())
    for layer in manifest["layers"]:
        data = (folder / layer["digest"].split(":")[1]).read_bytes()
        assert "sha256:" + hashlib.sha256(data).hexdigest() == layer["digest"]
    return [layer["digest"] for layer in manifest["layers"]]


def blobs_of(folder) -> set:
    manifest = json.loads((folder / "manifest.json").read_text())
    return {manifest["config"]["digest"]} | {layer["digest"] for layer in manifest["layers"]}


def test_what_one_server_takes_the_other_serves_and_collection_keeps_it(
        two_servers, s3_store, skopeo, tmp_path):
    from registry_model.database import configure
    from registry_model.oci.model import OCIModel

    first, second, uri = two_servers
    image = write_oci_layout(tmp_path / "layout", [SHARED, make_layer_tar({"app": "one"})],
                             config_for(0), "v1")
    skopeo("copy", "--dest-tls-verify=false", "oci:%s:v1" % (tmp_path / "layout"),
           "docker://%s/acme/app:v1" % first.host)
    raw = skopeo("inspect", "--raw", "--tls-verify=false",
                 "docker://%s/acme/app:v1" % second.host).encode()
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == image.manifest_digest
    skopeo("copy", "--src-tls-verify=false", "docker://%s/acme/app:v1" % second.host,
           "dir:%s" % (tmp_path / "pulled"))
    assert pulled_layers_are_whole(tmp_path / "pulled") == [
        layer["digest"] for layer in json.loads(raw)["layers"]]
    layer = "/v2/acme/app/blobs/%s" % json.loads(raw)["layers"][0]["digest"]
    assert blob_get(first, layer).status == 200
    redirected = blob_get(second, layer)
    assert redirected.status == 307
    assert redirected.getheader("Location").startswith(s3_store.endpoint_url + "/")
    assert blobs_of(tmp_path / "pulled") <= set(s3_store.list_digests())
    assert not os.path.exists("s3:")

    layouts = []
    for number in range(CLIENTS):
        folder = tmp_path / ("layout%d" % number)
        write_oci_layout(folder, [SHARED, make_layer_tar({"n": str(number)})],
                         config_for(number), "v1")
        layouts.append(folder)

    def push(number: int) -> None:
        server = (first, second)[number % 2]
        skopeo("copy", "--dest-tls-verify=false", "oci:%s:v1" % layouts[number],
               "docker://%s/crowd/app%d:v1" % (server.host, number))

    configure(uri)
    with ThreadPoolExecutor(CLIENTS) as pool:
        pushes = [pool.submit(push, number) for number in range(CLIENTS)]
        # A third process's collector runs meanwhile (here: this one, on the same bucket).
        OCIModel().collect_garbage(s3_store, grace_s=3600)
        for pushed in pushes:
            pushed.result()
    OCIModel().collect_garbage(s3_store, grace_s=3600)
    # Past the grace period nothing is left that no record names, and nothing named goes.
    OCIModel().sweep_orphan_blobs(s3_store, grace_period_s=60, now=int(time.time()) + 7200)
    referenced = blobs_of(tmp_path / "pulled")
    for number in range(CLIENTS):
        server = (second, first)[number % 2]  # pulled from the server it was not pushed to
        folder = tmp_path / ("pulled%d" % number)
        skopeo("copy", "--src-tls-verify=false",
               "docker://%s/crowd/app%d:v1" % (server.host, number), "dir:%s" % folder)
        assert len(pulled_layers_are_whole(folder)) == 2
        referenced |= blobs_of(folder)
    assert set(s3_store.list_digests()) == referenced
