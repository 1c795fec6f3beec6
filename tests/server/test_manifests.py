"""registry_model.server.manifests: what a pull by digest finds, under Flask's test client.

The spec's manifest workflows (push by tag and by digest, pull, delete) are proven by
test_workflows.py on every kind of server; here are the cases that need the registry's
clock moved, which only the in-process client can do.
"""
import json

from registry_model.oci.push import PushMixin
from tests.server.conftest import (
    CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    descriptor,
    digest_of,
    image_manifest,
    push_image,
)

LAYER = b"nested layer " * 100


def _index(children: list) -> bytes:
    """An OCI index of ``(media type, bytes)`` children, one platform each."""
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        descriptor(media_type, data, platform={"architecture": "arch%d" % number,
                                               "os": "linux"})
        for number, (media_type, data) in enumerate(children)]}).encode()


def _put(client, reference: str, index: bytes) -> str:
    response = client.put("/v2/acme/nested/manifests/%s" % reference, data=index,
                          content_type=OCI_INDEX)
    assert response.status_code == 201, response.get_json()
    return response.headers["Docker-Content-Digest"]


def test_an_image_in_an_index_in_a_tagged_index_is_pulled_by_digest_after_an_hour(
        client, clock):
    clock.at(1_800_000_000)
    # As `skopeo copy --all` pushes a nested index: the innermost first, each by digest.
    image, image_digest = push_image(client, "acme/nested",
                                     digest_of(image_manifest(CONFIG, [LAYER])), [LAYER])
    inner = _index([(OCI_MANIFEST, image)])
    inner_digest = _put(client, digest_of(inner), inner)
    _put(client, "latest", _index([(OCI_INDEX, inner)]))
    clock.tick(PushMixin.temporary_tag_s + 60)  # the by-digest pushes' hidden tags have ended

    for digest in (image_digest, inner_digest):
        pulled = client.get("/v2/acme/nested/manifests/%s" % digest)
        assert pulled.status_code == 200, (digest, pulled.get_json())
        assert pulled.headers["Docker-Content-Digest"] == digest

    assert client.delete("/v2/acme/nested/manifests/latest").status_code == 202
    assert client.get("/v2/acme/nested/manifests/%s" % image_digest).status_code == 404
