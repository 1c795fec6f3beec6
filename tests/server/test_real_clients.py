"""Real clients against ``registry-model serve`` (gunicorn) on loopback: skopeo and oras.

skopeo copies images built here (registry_model.archive.oci_layout) into the server and out
again, Docker schema 2 and OCI, a two-platform index with ``--all``, and deletes and lists
tags; oras pushes an artifact with a subject that the referrers API then lists; eight
skopeo processes push images sharing layers at once, and the collector afterwards keeps
everything they reference. Each module gets one server on a scratch database.
"""
import hashlib
import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from registry_model.archive.oci_layout import make_layer_tar, write_oci_layout
from registry_model.blobstore import FilesystemBlobStore
from registry_model.testing.databases import scratch_database
from registry_model.testing.served import served_registry

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
SHARED = make_layer_tar({"etc/os-release": "ID=shared\n", "lib/base.so": b"\x7fELF" * 5000})


def config_for(arch: str, labels=None) -> dict:
    return {"architecture": arch, "os": "linux", "created": "2024-05-06T07:08:09Z",
            "config": {"Labels": labels or {"com.example.arch": arch}}}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("served")
    with scratch_database() as uri, served_registry(uri, folder / "blobs") as running:
        yield running, uri


def get_json(url: str, accept: str = None):
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read()), response.headers


def manifest_digest(folder) -> str:
    return "sha256:" + hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()


def test_skopeo_copies_an_oci_image_in_and_out_with_its_digest_unchanged(server, skopeo,
                                                                          tmp_path):
    running, _ = server
    image = write_oci_layout(tmp_path / "layout", [SHARED, make_layer_tar({"app": "oci"})],
                             config_for("amd64"), "v1")
    target = "docker://%s/acme/oci:v1" % running.host
    skopeo("copy", "--dest-tls-verify=false", "oci:%s:v1" % (tmp_path / "layout"), target)
    raw = skopeo("inspect", "--raw", "--tls-verify=false", target).encode()
    assert json.loads(raw)["mediaType"] == OCI_MANIFEST
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == image.manifest_digest
    skopeo("copy", "--src-tls-verify=false", target, "dir:%s" % (tmp_path / "out"))
    assert manifest_digest(tmp_path / "out") == image.manifest_digest
    for layer in json.loads(raw)["layers"]:
        copied = (tmp_path / "out" / layer["digest"].split(":")[1]).read_bytes()
        assert "sha256:" + hashlib.sha256(copied).hexdigest() == layer["digest"]


def test_skopeo_copies_a_docker_schema_2_image_in_and_out_unchanged(server, skopeo, tmp_path):
    running, _ = server
    write_oci_layout(tmp_path / "layout", [SHARED], config_for("arm64"), "v1")
    skopeo("copy", "--format", "v2s2", "oci:%s:v1" % (tmp_path / "layout"),
           "dir:%s" % (tmp_path / "docker"))
    pushed = manifest_digest(tmp_path / "docker")
    target = "docker://%s/acme/docker:v1" % running.host
    skopeo("copy", "--dest-tls-verify=false", "dir:%s" % (tmp_path / "docker"), target)
    inspected = json.loads(skopeo("inspect", "--tls-verify=false", target))
    assert inspected["Digest"] == pushed
    assert inspected["Architecture"] == "arm64"
    skopeo("copy", "--src-tls-verify=false", target, "dir:%s" % (tmp_path / "out"))
    assert manifest_digest(tmp_path / "out") == pushed
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["mediaType"] == (
        DOCKER_MANIFEST)


def write_two_platform_layout(folder) -> str:
    """An OCI layout whose ``multi`` is an index of an amd64 and an arm64 image; its digest."""
    children = []
    for arch in ("amd64", "arm64"):
        image = write_oci_layout(folder, [SHARED, make_layer_tar({"arch": arch})],
                                 config_for(arch), arch)
        children.append({"mediaType": OCI_MANIFEST, "digest": image.manifest_digest,
                         "size": (folder / "blobs" / "sha256"
                                  / image.manifest_digest.split(":")[1]).stat().st_size,
                         "platform": {"architecture": arch, "os": "linux"}})
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                        "manifests": children}).encode()
    digest = "sha256:" + hashlib.sha256(index).hexdigest()
    (folder / "blobs" / "sha256" / digest.split(":")[1]).write_bytes(index)
    layout = json.loads((folder / "index.json").read_text())
    layout["manifests"].append({"mediaType": OCI_INDEX, "digest": digest, "size": len(index),
                                "annotations": {"org.opencontainers.image.ref.name": "multi"}})
    (folder / "index.json").write_text(json.dumps(layout))
    return digest


def test_skopeo_copies_a_two_platform_index_with_all(server, skopeo, tmp_path):
    running, _ = server
    index_digest = write_two_platform_layout(tmp_path / "layout")
    target = "docker://%s/acme/multi:latest" % running.host
    skopeo("copy", "--all", "--dest-tls-verify=false",
           "oci:%s:multi" % (tmp_path / "layout"), target)
    raw = skopeo("inspect", "--raw", "--tls-verify=false", target).encode()
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == index_digest
    skopeo("copy", "--all", "--src-tls-verify=false", target, "oci:%s:back" % (tmp_path / "out"))
    copied = json.loads((tmp_path / "out" / "index.json").read_text())
    assert copied["manifests"][0]["digest"] == index_digest
    for arch in ("amd64", "arm64"):
        one = json.loads(skopeo("inspect", "--tls-verify=false", "--override-arch", arch,
                                target))
        assert one["Architecture"] == arch


def test_skopeo_lists_tags_and_deletes(server, skopeo, tmp_path):
    running, _ = server
    write_oci_layout(tmp_path / "layout", [SHARED], config_for("amd64"), "v1")
    for tag in ("v1", "v2", "latest"):
        skopeo("copy", "--dest-tls-verify=false", "oci:%s:v1" % (tmp_path / "layout"),
               "docker://%s/acme/tagged:%s" % (running.host, tag))
    listed = json.loads(skopeo("list-tags", "--tls-verify=false",
                               "docker://%s/acme/tagged" % running.host))
    assert sorted(listed["Tags"]) == ["latest", "v1", "v2"]
    skopeo("delete", "--tls-verify=false", "docker://%s/acme/tagged:v2" % running.host)
    # skopeo deletes the manifest by digest: every tag of it goes.
    listed = json.loads(skopeo("list-tags", "--tls-verify=false",
                               "docker://%s/acme/tagged" % running.host))
    assert listed["Tags"] == []


def test_oras_pushes_an_artifact_with_a_subject_and_referrers_list_it(server, skopeo,
                                                                      tmp_path, monkeypatch):
    import oras.client
    import oras.oci

    running, _ = server
    image = write_oci_layout(tmp_path / "layout", [SHARED], config_for("amd64"), "v1")
    subject = "%s/acme/signed:v1" % running.host
    skopeo("copy", "--dest-tls-verify=false", "oci:%s:v1" % (tmp_path / "layout"),
           "docker://" + subject)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sbom.json").write_text('{"spdxVersion": "SPDX-2.3"}')
    raw = skopeo("inspect", "--raw", "--tls-verify=false", "docker://" + subject).encode()
    client = oras.client.OrasClient(hostname=running.host, insecure=True)
    response = client.push("%s/acme/signed:sbom" % running.host, files=["sbom.json"],
                           subject=oras.oci.Subject(OCI_MANIFEST, image.manifest_digest,
                                                    len(raw)),
                           manifest_annotations={"org.example.kind": "sbom"})
    assert response.status_code == 201
    assert response.headers["OCI-Subject"] == image.manifest_digest
    index, headers = get_json("http://%s/v2/acme/signed/referrers/%s"
                              % (running.host, image.manifest_digest))
    assert headers["Content-Type"] == OCI_INDEX
    assert len(index["manifests"]) == 1
    assert index["manifests"][0]["annotations"]["org.example.kind"] == "sbom"
    assert index["manifests"][0]["digest"] == response.headers["Docker-Content-Digest"]


def test_eight_clients_push_images_sharing_layers_then_collection_keeps_them(server, skopeo,
                                                                             tmp_path):
    from registry_model.database import configure
    from registry_model.oci.model import OCIModel

    running, uri = server
    layouts = []
    for number in range(8):
        folder = tmp_path / ("layout%d" % number)
        write_oci_layout(folder, [SHARED, make_layer_tar({"n": str(number)})],
                         config_for("amd64", {"n": str(number)}), "v1")
        layouts.append(folder)

    def push(number: int) -> None:
        skopeo("copy", "--dest-tls-verify=false", "oci:%s:v1" % layouts[number],
               "docker://%s/crowd/app%d:v1" % (running.host, number % 3))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(push, range(8)))
    configure(uri)
    summary = OCIModel().collect_garbage(FilesystemBlobStore(running.storage), grace_s=0)
    assert summary is not None
    for number in range(3):
        target = "docker://%s/crowd/app%d:v1" % (running.host, number)
        skopeo("copy", "--src-tls-verify=false", target, "dir:%s" % (tmp_path / str(number)))
        manifest = json.loads((tmp_path / str(number) / "manifest.json").read_text())
        for layer in manifest["layers"]:
            data = (tmp_path / str(number) / layer["digest"].split(":")[1]).read_bytes()
            assert "sha256:" + hashlib.sha256(data).hexdigest() == layer["digest"]


def self_signed(folder):
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName(
                       [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                   .sign(key, hashes.SHA256()))
    (folder / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


def test_skopeo_pushes_over_tls(skopeo, tmp_path):
    tls = self_signed(tmp_path)
    image = write_oci_layout(tmp_path / "layout", [SHARED], config_for("amd64"), "v1")
    with scratch_database() as uri, served_registry(uri, tmp_path / "blobs", workers=1,
                                                    tls=tls) as running:
        target = "docker://%s/acme/tls:v1" % running.host
        skopeo("copy", "--dest-tls-verify=false", "oci:%s:v1" % (tmp_path / "layout"), target)
        raw = skopeo("inspect", "--raw", "--tls-verify=false", target).encode()
        with pytest.raises(OSError):  # plain HTTP gets no answer on that port
            urllib.request.urlopen("http://%s/v2/" % running.host, timeout=5)
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == image.manifest_digest
