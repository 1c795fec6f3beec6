"""Tests of registry_model.manifests (no database needed), plus the manifest builders they share.

Everything but test_corpus.py runs on manifests built here: test_schema1.py parses them (fields,
digests, signatures, media types), test_builder.py builds and signs them and test_mutations.py
feeds the parser malformed variants of them. The signing keys are fixtures in conftest.py.
"""
import hashlib
import json

from registry_model.manifests import (
    DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE,
    DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE,
    DockerSchema1ManifestBuilder,
)

SIGNED = DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE
UNSIGNED = DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE
TOP_DIGEST = "sha256:" + "a" * 64
MIDDLE_DIGEST = "sha256:" + "b" * 64
BASE_DIGEST = "sha256:" + "c" * 64


def v1(image_id, parent=None, **fields):
    """A v1Compatibility string for an image id with an optional parent and extra fields."""
    data = {"id": image_id, **fields}
    if parent is not None:
        data["parent"] = parent
    return json.dumps(data)


def three_layer_builder(tag="latest"):
    """Layers added top first, as they appear in fsLayers."""
    return (
        DockerSchema1ManifestBuilder("devtable", "simple", tag)
        .add_layer(TOP_DIGEST, v1("top", "middle", created="2018-01-01T00:00:00Z",
                                  comment="the top", author="Sômé guy",
                                  container_config={"Cmd": ["/bin/sh", "-c", "echo hi"]},
                                  config={"Labels": {"com.example.tier": "web", "empty": ""}}))
        .add_layer(MIDDLE_DIGEST, v1("middle", "base", config={"Labels": {"old": "label"}}))
        .add_layer(BASE_DIGEST, v1("base"))
    )


def with_signatures(payload: bytes, entries: list) -> bytes:
    """Splice a signatures array into a 3-space-indented payload the way libtrust does."""
    body = payload.rstrip()[:-1].rstrip()
    signatures = json.dumps(entries, indent=3).replace("\n", "\n   ")
    return body + b',\n   "signatures": ' + signatures.encode() + payload[len(body):]


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def signature_entries(document: bytes) -> list:
    return json.loads(document)["signatures"]
