"""Specification of parsing Docker schema 1 manifests: fields, digests, signatures, media types.

Everything here runs on manifests the tests build themselves (tests/manifests); real-world
manifests are covered by test_corpus.py, building and signing by test_builder.py and malformed
input by test_mutations.py.
"""
import ast
import base64
import json
from pathlib import Path

import pytest
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS

import registry_model.manifests
from registry_model.errors import DataModelException
from registry_model.manifests import (
    DockerSchema1ManifestBuilder,
    ManifestException,
    parse_manifest_from_bytes,
)
from registry_model.manifests.jws import b64url_encode

from . import (
    BASE_DIGEST,
    MIDDLE_DIGEST,
    SIGNED,
    TOP_DIGEST,
    UNSIGNED,
    sha256_digest,
    signature_entries,
    three_layer_builder,
    v1,
    with_signatures,
)

# --- fields --------------------------------------------------------------------------------


def test_layers_are_base_first_and_document_order_is_kept(ec_key):
    manifest = three_layer_builder().build(ec_key)

    assert [layer.digest for layer in manifest.layers] == [BASE_DIGEST, MIDDLE_DIGEST, TOP_DIGEST]
    assert [layer.digest for layer in manifest.layers_top_first] == [
        TOP_DIGEST, MIDDLE_DIGEST, BASE_DIGEST]
    assert manifest.blob_digests == [BASE_DIGEST, MIDDLE_DIGEST, TOP_DIGEST]
    assert manifest.leaf_layer.v1_metadata.image_id == "top"
    assert [layer.v1_metadata.parent_image_id for layer in manifest.layers] == [
        None, "base", "middle"]


def test_v1_metadata_fields_come_from_v1_compatibility():
    manifest = three_layer_builder().build()
    top = manifest.leaf_layer

    assert top.v1_metadata.image_id == "top"
    assert top.v1_metadata.parent_image_id == "middle"
    assert top.v1_metadata.created == "2018-01-01T00:00:00Z"
    assert top.v1_metadata.comment == "the top"
    assert top.v1_metadata.author == "Sômé guy"
    assert top.v1_metadata.command == ("/bin/sh", "-c", "echo hi")
    assert json.loads(top.raw_v1_metadata)["container_config"]["Cmd"][2] == "echo hi"
    base = manifest.layers[0].v1_metadata
    assert (base.created, base.comment, base.command, base.author, base.labels) == (
        None, None, None, None, {})


def test_raw_v1_metadata_is_the_exact_string():
    raw = '{"id":  "x" , "created":"2020-01-01T00:00:00Z"}'
    manifest = DockerSchema1ManifestBuilder("", "simple", "1").add_layer(BASE_DIGEST, raw).build()

    assert manifest.leaf_layer.raw_v1_metadata == raw


def test_labels_are_the_top_layer_config_labels():
    manifest = three_layer_builder().build()

    assert manifest.labels == {"com.example.tier": "web", "empty": ""}
    assert manifest.layers[1].v1_metadata.labels == {"old": "label"}


def test_a_string_command_is_a_one_word_command():
    manifest = (DockerSchema1ManifestBuilder("ns", "repo", "t")
                .add_layer(BASE_DIGEST, v1("x", container_config={"Cmd": "/bin/true"})).build())

    assert manifest.leaf_layer.v1_metadata.command == ("/bin/true",)


def test_name_splits_into_namespace_and_repository_at_the_first_slash():
    one = DockerSchema1ManifestBuilder("", "ubuntu", "t").add_layer(BASE_DIGEST, v1("x")).build()
    many = (DockerSchema1ManifestBuilder("org", "team/app", "t", architecture="arm64")
            .add_layer(BASE_DIGEST, v1("x")).build())

    assert (one.name, one.namespace_name, one.repo_name) == ("ubuntu", "", "ubuntu")
    assert (many.name, many.namespace_name, many.repo_name) == ("org/team/app", "org", "team/app")
    assert many.architecture == "arm64"


def test_application_json_is_read_as_schema_1(ec_key):
    signed = three_layer_builder().build(ec_key)
    unsigned = three_layer_builder().build()

    as_json_signed = parse_manifest_from_bytes(signed.bytes, "application/json")
    as_json_unsigned = parse_manifest_from_bytes(unsigned.bytes, "application/json")

    assert (as_json_signed.media_type, as_json_signed.digest) == (SIGNED, signed.digest)
    assert (as_json_unsigned.media_type, as_json_unsigned.digest) == (UNSIGNED, unsigned.digest)


def test_v1_json_media_type_still_verifies_signatures_it_carries(ec_key):
    document = bytearray(three_layer_builder().build(ec_key).bytes)
    document[document.index(b'"latest"') + 1] ^= 0x01

    with pytest.raises(ManifestException):
        parse_manifest_from_bytes(bytes(document), UNSIGNED)


# --- signatures ----------------------------------------------------------------------------


def test_flipping_any_payload_byte_fails_validation(ec_key):
    manifest = three_layer_builder().build(ec_key)
    payload_end = len(manifest.payload) - 2  # the "\n}" tail is not taken from the document

    for position in range(payload_end):
        document = bytearray(manifest.bytes)
        document[position] ^= 0x01
        with pytest.raises(ManifestException):
            parse_manifest_from_bytes(bytes(document), SIGNED, validate=True)


def test_a_flipped_payload_byte_still_parses_without_validation(ec_key):
    document = bytearray(three_layer_builder().build(ec_key).bytes)
    document[document.index(b'"latest"') + 6] ^= 0x01  # latest -> latesu

    manifest = parse_manifest_from_bytes(bytes(document), SIGNED, validate=False)

    assert manifest.tag == "latesu"
    with pytest.raises(ManifestException):
        manifest.verify()


def test_a_flipped_signature_byte_fails_validation(ec_key):
    manifest = three_layer_builder().build(ec_key)
    signature = manifest.signatures[0].signature
    forged = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]

    with pytest.raises(ManifestException):
        parse_manifest_from_bytes(manifest.bytes.replace(signature.encode(), forged.encode()),
                                  SIGNED)


def test_every_signature_must_verify_not_just_one(ec_key, rsa_key):
    payload = three_layer_builder().build().bytes
    ec_entry = signature_entries(three_layer_builder().build(ec_key).bytes)[0]
    rsa_entry = signature_entries(three_layer_builder().build(rsa_key).bytes)[0]
    both = with_signatures(payload, [ec_entry, rsa_entry])
    broken_rsa = dict(rsa_entry, signature=b64url_encode(b"\x01" * 256))

    manifest = parse_manifest_from_bytes(both, SIGNED)
    assert [s.algorithm for s in manifest.signatures] == ["ES256", "RS256"]
    assert manifest.digest == sha256_digest(payload)
    with pytest.raises(ManifestException):
        parse_manifest_from_bytes(with_signatures(payload, [ec_entry, broken_rsa]), SIGNED)


def test_signatures_must_agree_on_the_payload_even_without_validation(ec_key):
    payload = three_layer_builder().build().bytes
    entry = signature_entries(three_layer_builder().build(ec_key).bytes)[0]
    protected = json.loads(base64.urlsafe_b64decode(entry["protected"] + "=="))
    protected["formatLength"] -= 1
    other = dict(entry, protected=b64url_encode(json.dumps(protected).encode()))

    for validate in (True, False):
        with pytest.raises(ManifestException, match="disagree"):
            parse_manifest_from_bytes(with_signatures(payload, [entry, other]), SIGNED,
                                      validate=validate)


def test_unsigned_data_after_the_payload_is_ignored(ec_key):
    manifest = three_layer_builder().build(ec_key)
    extra = b',\n   "fsLayers": [{"blobSum": "sha256:' + b"f" * 64 + b'"}]\n}'
    document = manifest.bytes[:-2] + extra

    parsed = parse_manifest_from_bytes(document, SIGNED, validate=True)

    assert parsed.digest == manifest.digest
    assert parsed.blob_digests == [BASE_DIGEST, MIDDLE_DIGEST, TOP_DIGEST]


def _forged_entry(payload: bytes, key: JWK, alg: str, header: dict) -> dict:
    """A signature entry over ``payload`` made with jwcrypto directly, any algorithm allowed;
    its formatTail is the last two bytes of ``payload``."""
    protected = {"formatLength": len(payload) - 2, "formatTail": b64url_encode(payload[-2:])}
    token = JWS(payload)
    token.allowed_algs = [alg]
    token.add_signature(key, alg=alg, protected=json.dumps(protected), header=json.dumps(header))
    flat = json.loads(token.serialize())
    return {"header": header, "signature": flat["signature"], "protected": flat["protected"]}


@pytest.mark.parametrize("alg, header_key, match", [
    # With HS256 anyone could "sign" with a secret they publish in the header themselves.
    ("HS256", lambda keys: {"jwk": keys["oct"].export(as_dict=True)}, "unsupported algorithm"),
    ("ES256", lambda keys: {"x5c": ["MIIB"]}, "x5c"),
    ("ES256", lambda keys: {"jwk": keys["rsa"].export_public(as_dict=True)}, "does not verify"),
], ids=["hmac-with-header-secret", "x5c-chain-only", "key-type-not-the-algorithm"])
def test_signatures_without_a_usable_public_key_fail_only_validation(ec_key, rsa_key, alg,
                                                                      header_key, match):
    keys = {"oct": JWK.generate(kty="oct", size=256), "rsa": rsa_key}
    signing_key = keys["oct"] if alg == "HS256" else ec_key
    payload = three_layer_builder().build().bytes
    document = with_signatures(
        payload, [_forged_entry(payload, signing_key, alg, {"alg": alg, **header_key(keys)})])

    with pytest.raises(ManifestException, match=match):
        parse_manifest_from_bytes(document, SIGNED)
    assert parse_manifest_from_bytes(document, SIGNED, validate=False).digest == sha256_digest(
        payload)


def test_a_signed_payload_that_is_not_json_never_verifies(ec_key):
    document = three_layer_builder().build().bytes
    # A valid signature over the document's first bytes plus a tail that breaks the JSON.
    entry = _forged_entry(document[:-2] + b"\n]", ec_key, "ES256",
                          {"alg": "ES256", "jwk": ec_key.export_public(as_dict=True)})
    signed = with_signatures(document, [entry])

    with pytest.raises(ManifestException, match="not valid JSON"):
        parse_manifest_from_bytes(signed, SIGNED)
    unverified = parse_manifest_from_bytes(signed, SIGNED, validate=False)
    assert unverified.tag == "latest"
    with pytest.raises(ManifestException, match="unsigned bytes"):
        unverified.verify()


def test_ec_signature_of_the_wrong_length_is_refused(ec_key):
    manifest = three_layer_builder().build(ec_key)
    signature = manifest.signatures[0].signature
    padded = b64url_encode(b"\x00" + base64.urlsafe_b64decode(signature + "=="))

    with pytest.raises(ManifestException, match="wrong length"):
        parse_manifest_from_bytes(manifest.bytes.replace(signature.encode(), padded.encode()),
                                  SIGNED)


def test_signed_media_type_requires_signatures():
    document = three_layer_builder().build().bytes

    for validate in (True, False):
        with pytest.raises(ManifestException, match="signatures"):
            parse_manifest_from_bytes(document, SIGNED, validate=validate)


# --- media types and the package contract ----------------------------------------------------


@pytest.mark.parametrize("media_type", [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
])
def test_a_schema1_document_sent_as_schema_2_or_oci_is_refused(media_type):
    document = three_layer_builder().build().bytes

    with pytest.raises(ManifestException, match="^schemaVersion: is 1, not 2"):
        parse_manifest_from_bytes(document, media_type)


@pytest.mark.parametrize("media_type", [
    "text/plain", "", ["application/json"], "application/vnd.docker.container.image.v1+json",
    "APPLICATION/JSON",
])
def test_unknown_media_types_are_refused(media_type):
    with pytest.raises(ManifestException):
        parse_manifest_from_bytes(three_layer_builder().build().bytes, media_type)


def test_manifest_exception_is_a_data_model_exception():
    assert issubclass(ManifestException, DataModelException)


def test_manifests_package_does_not_import_the_database_layer():
    package = Path(registry_model.manifests.__file__).parent
    imported = set()
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                imported.add(node.module)

    # media_types and validation are plain rules and constants, free of the database too.
    forbidden = {name for name in imported if name.split(".")[0] in {"peewee", "playhouse"}
                 or (name.startswith("registry_model.")
                     and not name.startswith(("registry_model.manifests",
                                              "registry_model.errors",
                                              "registry_model.media_types",
                                              "registry_model.validation")))}
    assert forbidden == set()
    assert "registry_model.errors" in imported
