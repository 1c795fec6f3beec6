"""Specification of DockerSchema1ManifestBuilder and signing: what is built parses back the same.

Covers the prettyjws layout Docker writes, digests that exclude signatures, signing keys, and the
input the builder refuses.
"""
import base64
import json

import pytest
from jwcrypto.jwk import JWK

from registry_model.manifests import (
    DockerSchema1ManifestBuilder,
    ManifestException,
    generate_signing_key,
    parse_manifest_from_bytes,
)
from registry_model.manifests.jws import libtrust_key_id

from . import (
    SIGNED,
    TOP_DIGEST,
    UNSIGNED,
    sha256_digest,
    signature_entries,
    three_layer_builder,
    v1,
)

# --- building and round trips -------------------------------------------------------------


@pytest.mark.parametrize("key_fixture, algorithm", [("ec_key", "ES256"), ("rsa_key", "RS256")])
def test_signed_build_parses_back_verified_with_the_same_digest(request, key_fixture, algorithm):
    key = request.getfixturevalue(key_fixture)
    built = three_layer_builder().build(key)

    parsed = parse_manifest_from_bytes(built.bytes, SIGNED, validate=True)

    assert parsed.is_signed and parsed.media_type == SIGNED
    assert parsed.digest == built.digest
    assert parsed.bytes == built.bytes
    assert [s.algorithm for s in parsed.signatures] == [algorithm]
    assert (parsed.namespace_name, parsed.repo_name, parsed.tag) == ("devtable", "simple", "latest")


def test_unsigned_build_is_v1_json_whose_digest_covers_all_bytes():
    built = three_layer_builder().build()

    parsed = parse_manifest_from_bytes(built.bytes, UNSIGNED)

    assert not parsed.is_signed and parsed.signatures == []
    assert parsed.media_type == UNSIGNED
    assert parsed.payload == parsed.bytes
    assert parsed.digest == sha256_digest(built.bytes)


def test_digest_of_signed_manifest_excludes_signatures(ec_key, rsa_key):
    unsigned = three_layer_builder().build()
    by_ec = three_layer_builder().build(ec_key)
    by_rsa = three_layer_builder().build(rsa_key)

    assert by_ec.bytes != by_rsa.bytes
    assert by_ec.digest == by_rsa.digest == unsigned.digest
    assert by_ec.payload == unsigned.bytes
    assert by_ec.digest != sha256_digest(by_ec.bytes)


def test_signed_build_uses_docker_prettyjws_layout(ec_key):
    built = three_layer_builder().build(ec_key)
    document = json.loads(built.bytes)
    [entry] = document["signatures"]
    protected = json.loads(base64.urlsafe_b64decode(entry["protected"] + "=="))

    assert built.bytes.startswith(b'{\n   "schemaVersion": 1,\n   "name": "devtable/simple",')
    assert b'\n   ],\n   "signatures": [\n      {\n         "header": {' in built.bytes
    assert built.bytes.endswith(b"\n   ]\n}")
    assert set(protected) == {"formatLength", "formatTail", "time"}
    assert built.bytes[: protected["formatLength"]] + b"\n}" == built.payload
    assert protected["formatTail"] == "Cn0"  # base64url of "\n}"
    assert entry["header"]["alg"] == "ES256"


def test_signature_header_carries_only_the_public_key(ec_key, rsa_key):
    for key in (ec_key, rsa_key):
        jwk = signature_entries(three_layer_builder().build(key).bytes)[0]["header"]["jwk"]

        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk)
        assert jwk["kid"] == libtrust_key_id(key)


def test_generate_signing_key_makes_private_ec_or_rsa_keys(ec_key, rsa_key):
    assert (ec_key.get("kty"), ec_key.get("crv"), ec_key.has_private) == ("EC", "P-256", True)
    assert (rsa_key.get("kty"), rsa_key.has_private) == ("RSA", True)
    with pytest.raises(ManifestException):
        generate_signing_key("oct")


def test_build_refuses_keys_that_cannot_sign(ec_key):
    public_only = JWK(**ec_key.export_public(as_dict=True))
    symmetric = JWK.generate(kty="oct", size=256)

    for key in (public_only, symmetric, "not a key"):
        with pytest.raises(ManifestException):
            three_layer_builder().build(key)


@pytest.mark.parametrize("blob_digest, metadata", [
    ("not-a-digest", v1("x")),
    (None, v1("x")),
    (TOP_DIGEST, "{}"),
    (TOP_DIGEST, None),
    (TOP_DIGEST, "not json"),
    (b"sha256:bytes", v1("x")),
])
def test_build_refuses_bad_layer_input(ec_key, blob_digest, metadata):
    builder = DockerSchema1ManifestBuilder("devtable", "simple", "latest")
    builder.add_layer(blob_digest, metadata)

    with pytest.raises(ManifestException):
        builder.build(ec_key)
    with pytest.raises(ManifestException):
        builder.build()


def test_build_without_layers_is_refused():
    with pytest.raises(ManifestException):
        DockerSchema1ManifestBuilder("devtable", "simple", "latest").build()
