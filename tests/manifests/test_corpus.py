"""Real manifests published by other registries, clients and specs (tests/data/manifests).

SOURCES.tsv drives every test: one row per file, with the media type the file was served as and
the digest its source expects. Each file is its own test id.
"""
import csv
import hashlib
import itertools
import re
from pathlib import Path

import pytest
from jwcrypto.jwk import JWK

from registry_model.manifests import (
    DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE as UNSIGNED,
)
from registry_model.manifests import (
    DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE as SIGNED,
)
from registry_model.manifests import ManifestException, parse_manifest_from_bytes
from registry_model.manifests.jws import libtrust_key_id

CORPUS = Path(__file__).resolve().parent.parent / "data" / "manifests"
FULL_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
NOT_SCHEMA1_FOLDERS = ("valid/schema2/", "valid/schema2-list/", "valid/oci-manifest/",
                       "valid/oci-index/", "valid/config/")

with open(CORPUS / "SOURCES.tsv", encoding="utf-8", newline="") as sources:
    ROWS = list(csv.DictReader(sources, delimiter="\t"))


def rows_under(*folders):
    """pytest params for the rows whose path starts with one of ``folders``, id = path."""
    return [pytest.param(row, id=row["path"]) for row in ROWS if row["path"].startswith(folders)]


def read(row) -> bytes:
    return (CORPUS / row["path"]).read_bytes()


def test_sources_list_every_corpus_file_once():
    listed = [row["path"] for row in ROWS]
    on_disk = sorted(str(path.relative_to(CORPUS)) for path in CORPUS.rglob("*")
                     if path.is_file() and path.name not in ("README.md", "SOURCES.tsv"))

    assert sorted(listed) == on_disk
    assert len(listed) == len(set(listed))


@pytest.mark.parametrize("row", rows_under(*NOT_SCHEMA1_FOLDERS))
def test_corpus_copy_is_byte_exact(row):
    # For these documents the expected digest is the sha256 of the file's bytes.
    assert "sha256:" + hashlib.sha256(read(row)).hexdigest() == row["expected_digest"]


@pytest.mark.parametrize("row", rows_under("valid/schema1-signed/"))
def test_signed_manifest_verifies_and_has_the_expected_digest(row):
    data = read(row)

    manifest = parse_manifest_from_bytes(data, row["media_type"], validate=True)

    assert manifest.digest == row["expected_digest"]
    assert manifest.is_signed and manifest.media_type == SIGNED
    assert manifest.bytes == data
    assert data.startswith(manifest.payload[:-2])
    assert manifest.blob_digests == [layer.digest for layer in reversed(manifest.layers_top_first)]
    assert manifest.leaf_layer.v1_metadata.image_id
    # Every non-base layer names the layer below it as its parent.
    layers = manifest.layers
    for below, layer in itertools.pairwise(layers):
        assert layer.v1_metadata.parent_image_id == below.v1_metadata.image_id


@pytest.mark.parametrize("row", rows_under("valid/schema1-signed/"))
def test_signed_manifest_reads_the_same_as_application_json(row):
    data = read(row)

    as_json = parse_manifest_from_bytes(data, "application/json")

    assert (as_json.digest, as_json.media_type) == (row["expected_digest"], SIGNED)


@pytest.mark.parametrize("row", rows_under("valid/schema1-signed/", "tampered/schema1/"))
def test_our_key_ids_match_the_ones_libtrust_wrote(row):
    manifest = parse_manifest_from_bytes(read(row), row["media_type"], validate=False)

    for signature in manifest.signatures:
        jwk = signature.header["jwk"]
        assert libtrust_key_id(JWK(**jwk)) == jwk["kid"]


@pytest.mark.parametrize("row", rows_under("valid/schema1-unsigned/"))
def test_unsigned_manifest_parses_with_the_expected_digest(row):
    manifest = parse_manifest_from_bytes(read(row), row["media_type"])

    assert not manifest.is_signed and manifest.media_type == UNSIGNED
    expected = row["expected_digest"].split()[0]
    if FULL_DIGEST.fullmatch(expected):
        assert manifest.digest == expected
    else:
        # The row gives only a prefix (its note holds the full digest).
        assert manifest.digest.startswith(expected)
        assert manifest.digest in row["note"]


@pytest.mark.parametrize("row", rows_under("tampered/schema1/"))
def test_tampered_manifest_parses_unvalidated_and_fails_validation(row):
    data = read(row)

    manifest = parse_manifest_from_bytes(data, row["media_type"], validate=False)
    assert manifest.is_signed and manifest.layers
    with pytest.raises(ManifestException):
        manifest.verify()
    with pytest.raises(ManifestException):
        parse_manifest_from_bytes(data, row["media_type"], validate=True)


@pytest.mark.parametrize("row", rows_under("invalid/"))
@pytest.mark.parametrize("validate", [True, False], ids=["validate", "no-validate"])
def test_invalid_file_raises_manifest_exception(row, validate):
    media_type = SIGNED if row["media_type"] == "-" else row["media_type"]

    with pytest.raises(ManifestException):
        parse_manifest_from_bytes(read(row), media_type, validate=validate)


@pytest.mark.parametrize("row", rows_under(*NOT_SCHEMA1_FOLDERS))
def test_schema2_and_oci_documents_are_refused_as_their_own_media_type(row):
    with pytest.raises(ManifestException, match="not supported yet|not a manifest"):
        parse_manifest_from_bytes(read(row), row["media_type"])


@pytest.mark.parametrize("row", rows_under(*NOT_SCHEMA1_FOLDERS))
def test_schema2_and_oci_documents_are_not_schema1(row):
    for media_type in (SIGNED, UNSIGNED):
        with pytest.raises(ManifestException):
            parse_manifest_from_bytes(read(row), media_type, validate=False)


def _load(name: str, validate: bool = True):
    row = next(row for row in ROWS if row["path"].endswith("/" + name))
    return parse_manifest_from_bytes(read(row), row["media_type"], validate=validate)


def test_extra_data_manifest_yields_the_signed_layers():
    good = _load("moby-good_manifest.json")
    extra = _load("moby-extra_data_manifest.json")

    assert extra.blob_digests == good.blob_digests
    assert [layer.raw_v1_metadata for layer in extra.layers] == [
        layer.raw_v1_metadata for layer in good.layers]
    # The unsigned fsLayers appended after the signed part all start with ffff.
    assert b'"blobSum": "sha256:ffff' in extra.bytes
    assert not any(digest.startswith("sha256:ffff") for digest in extra.blob_digests)


def test_extra_data_manifest_yields_the_signed_layers_without_validation_too():
    assert (_load("moby-extra_data_manifest.json", validate=False).blob_digests
            == _load("moby-good_manifest.json").blob_digests)


def test_tampered_busybox_reads_as_its_unsigned_twin_without_validation():
    # containers/image renamed mitr/buxybox to mitr/busybox in place without re-signing; read
    # unverified, its payload is byte for byte the unsigned fixture.
    tampered = _load("cimage-v2s1.manifest.json", validate=False)
    unsigned = _load("cimage-v2s1-unsigned.manifest.json")
    original = _load("cimage-v2s1.manifest.pre-spelling-fix.json")

    assert tampered.digest == unsigned.digest
    assert (tampered.name, original.name) == ("mitr/busybox", "mitr/buxybox")
    assert tampered.blob_digests == original.blob_digests


def test_real_manifest_fields():
    manifest = _load("cimage-schema1.json")

    assert (manifest.namespace_name, manifest.repo_name, manifest.tag) == (
        "rhosp12", "openstack-nova-api", "latest")
    assert manifest.architecture == "amd64"
    assert len(manifest.layers) == 6
    assert manifest.labels["com.redhat.component"] == "openstack-nova-api-docker"
    assert manifest.leaf_layer.v1_metadata.command == ("/bin/sh", "-c", "#(nop) ", "USER [nova]")


def test_unicode_survives_parsing():
    unescaped = _load("quay-manifest_unencoded_unicode.json")
    escaped = _load("quay-validated_manifest_with_unicode.json")

    assert "Sômé guy" in unescaped.leaf_layer.v1_metadata.command[-1]
    assert escaped.labels == {"maintainer": "Geé Léfleur"}
