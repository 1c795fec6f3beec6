"""Specification of Docker schema 1 manifests: building, signing, parsing and refusing.

Everything here runs on manifests the tests build themselves; real-world manifests are covered by
test_corpus.py.
"""
import ast
import base64
import hashlib
import json
from pathlib import Path

import pytest
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS

import registry_model.manifests
from registry_model.errors import DataModelException
from registry_model.manifests import (
    DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE,
    DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE,
    DockerSchema1ManifestBuilder,
    ManifestException,
    generate_signing_key,
    parse_manifest_from_bytes,
)
from registry_model.manifests.jws import b64url_encode, libtrust_key_id

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


@pytest.fixture(scope="module")
def ec_key():
    return generate_signing_key("EC")


@pytest.fixture(scope="module")
def rsa_key():
    return generate_signing_key("RSA")


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


def unsigned_document() -> bytes:
    content = json.loads(three_layer_builder().build().bytes)
    return json.dumps(content, indent=3).encode()


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


# --- malformed input -----------------------------------------------------------------------


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
def test_every_truncation_of_a_manifest_is_refused(ec_key, signed):
    document = three_layer_builder().build(ec_key if signed else None).bytes

    for length in range(len(document)):
        for validate in (True, False):
            with pytest.raises(ManifestException):
                parse_manifest_from_bytes(document[:length], SIGNED if signed else UNSIGNED,
                                          validate=validate)


@pytest.mark.parametrize("document", [
    b'{"schemaVersion": 1, "name": "a\xff", "tag": "t"}',
    b"\xef\xbb\xbf" + unsigned_document(),  # UTF-8 byte order mark
    unsigned_document().decode().encode("utf-16"),
    unsigned_document().decode().encode("utf-32-le"),
    b"\x80\x81\x82",
], ids=["invalid-byte", "utf8-bom", "utf16", "utf32", "binary"])
def test_bytes_that_are_not_utf8_json_are_refused(document):
    for media_type in (SIGNED, UNSIGNED):
        with pytest.raises(ManifestException):
            parse_manifest_from_bytes(document, media_type)


@pytest.mark.parametrize("where", ["document", "value", "v1Compatibility", "protected"])
def test_deeply_nested_json_is_a_manifest_exception_not_a_recursion_error(where, ec_key):
    deep = "[" * 100000 + "]" * 100000
    if where == "document":
        document = deep.encode()
    elif where == "value":
        document = b'{"schemaVersion": 1, "x": ' + deep.encode() + b"}"
    elif where == "v1Compatibility":
        document = json.dumps({"schemaVersion": 1, "name": "a/b", "tag": "c",
                               "fsLayers": [{"blobSum": BASE_DIGEST}],
                               "history": [{"v1Compatibility": deep}]}).encode()
    else:
        payload = three_layer_builder().build().bytes
        entry = signature_entries(three_layer_builder().build(ec_key).bytes)[0]
        document = with_signatures(payload, [dict(entry, protected=b64url_encode(deep.encode()))])

    for validate in (True, False):
        with pytest.raises(ManifestException):
            parse_manifest_from_bytes(document, UNSIGNED if where != "protected" else SIGNED,
                                      validate=validate)


def test_nan_and_infinity_are_not_json():
    for constant in (b"NaN", b"Infinity", b"-Infinity"):
        document = unsigned_document().replace(b'"schemaVersion": 1', b'"schemaVersion": '
                                               + constant)
        with pytest.raises(ManifestException):
            parse_manifest_from_bytes(document, UNSIGNED)


def _history(v1_compatibility) -> dict:
    return {"history": [{"v1Compatibility": v1_compatibility}] * 3}


def _signature(header=None, **protected) -> dict:
    entry = {"header": {"alg": "ES256"} if header is None else header, "signature": "AA",
             "protected": b64url_encode(json.dumps(protected).encode())}
    return {"signatures": [entry]}


WRONG_FIELDS = {
    "top-level-array": [1],
    "schema-version-string": {"schemaVersion": "1"},
    "schema-version-bool": {"schemaVersion": True},
    "schema-version-float": {"schemaVersion": 1.0},
    "schema-version-2": {"schemaVersion": 2},
    "schema-version-missing": {"schemaVersion": None},
    "name-number": {"name": 5},
    "name-empty": {"name": ""},
    "tag-missing": {"tag": None},
    "tag-list": {"tag": ["latest"]},
    "architecture-number": {"architecture": 64},
    "fslayers-object": {"fsLayers": {"blobSum": BASE_DIGEST}},
    "fslayers-empty": {"fsLayers": [], "history": []},
    "fslayers-strings": {"fsLayers": [BASE_DIGEST] * 3},
    "blobsum-number": {"fsLayers": [{"blobSum": 5}] * 3},
    "blobsum-not-digest": {"fsLayers": [{"blobSum": "abc"}] * 3},
    "history-shorter": {"history": [{"v1Compatibility": v1("x")}]},
    "history-string": {"history": "x"},
    "v1-object-not-string": _history({"id": "x"}),
    "v1-not-json": _history("{id"),
    "v1-array": _history("[]"),
    "v1-id-number": _history('{"id": 5}'),
    "v1-id-missing": _history("{}"),
    "v1-parent-number": _history(v1("x", 5)),
    "v1-created-number": _history(v1("x", created=1)),
    "v1-container-config-list": _history(v1("x", container_config=[])),
    "v1-cmd-number": _history(v1("x", container_config={"Cmd": 5})),
    "v1-cmd-mixed": _history(v1("x", container_config={"Cmd": ["a", 1]})),
    "v1-labels-number-value": _history(v1("x", config={"Labels": {"a": 1}})),
    "v1-labels-list": _history(v1("x", config={"Labels": ["a"]})),
    "signatures-number": {"signatures": 1},
    "signatures-string": {"signatures": "sig"},
    "signature-number": {"signatures": [1]},
    "signature-header-list": _signature([], formatLength=10, formatTail="Cn0"),
    "signature-protected-number": {"signatures": [{"header": {}, "protected": 5,
                                                   "signature": "AA"}]},
    "signature-protected-not-b64": {"signatures": [{"header": {}, "protected": "e30=!",
                                                    "signature": "AA"}]},
    "signature-protected-not-json": {"signatures": [{"header": {}, "protected": "bm9wZQ",
                                                     "signature": "AA"}]},
    "signature-value-missing": {"signatures": [{"header": {}, "protected": "e30"}]},
    "format-length-string": _signature(formatLength="10", formatTail="Cn0"),
    "format-length-negative": _signature(formatLength=-1, formatTail="Cn0"),
    "format-length-bool": _signature(formatLength=True, formatTail="Cn0"),
    "format-length-past-end": _signature(formatLength=10**6, formatTail="Cn0"),
    "format-tail-missing": _signature(formatLength=10),
    "format-tail-not-b64": _signature(formatLength=10, formatTail="Cn0="),
}


@pytest.mark.parametrize("changes", list(WRONG_FIELDS.values()), ids=list(WRONG_FIELDS))
def test_fields_of_the_wrong_type_are_refused(changes):
    if isinstance(changes, list):
        document = json.dumps(changes).encode()
    else:
        content = json.loads(three_layer_builder().build().bytes)
        content.update(changes)
        content = {key: value for key, value in content.items() if value is not None}
        document = json.dumps(content, indent=3).encode()

    for media_type in (SIGNED, UNSIGNED):
        for validate in (True, False):
            with pytest.raises(ManifestException):
                parse_manifest_from_bytes(document, media_type, validate=validate)


@pytest.mark.parametrize("manifest_bytes", ["{}", None, 5, ["a"]])
def test_manifest_bytes_must_be_bytes(manifest_bytes):
    with pytest.raises(ManifestException):
        parse_manifest_from_bytes(manifest_bytes, UNSIGNED)


# --- media types and the package contract ----------------------------------------------------


@pytest.mark.parametrize("media_type", [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
])
def test_schema_2_and_oci_media_types_are_not_supported_yet(media_type):
    document = three_layer_builder().build().bytes

    with pytest.raises(ManifestException, match="not supported yet"):
        parse_manifest_from_bytes(document, media_type)


@pytest.mark.parametrize("media_type", [
    "text/plain", "", None, ["application/json"], "application/vnd.docker.container.image.v1+json",
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

    forbidden = {name for name in imported if name.split(".")[0] in {"peewee", "playhouse"}
                 or (name.startswith("registry_model.")
                     and not name.startswith(("registry_model.manifests",
                                              "registry_model.errors")))}
    assert forbidden == set()
    assert "registry_model.errors" in imported
