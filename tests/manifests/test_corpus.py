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
from registry_model.manifests import (
    SUPPORTED_MEDIA_TYPES,
    ManifestException,
    ParsedManifest,
    parse_manifest_from_bytes,
)
from registry_model.manifests.config import ImageConfig
from registry_model.manifests.descriptor import Platform
from registry_model.manifests.jws import libtrust_key_id

CORPUS = Path(__file__).resolve().parent.parent / "data" / "manifests"
FULL_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
MANIFEST_FOLDERS = ("valid/schema2/", "valid/schema2-list/", "valid/oci-manifest/",
                    "valid/oci-index/")
NOT_SCHEMA1_FOLDERS = MANIFEST_FOLDERS + ("valid/config/",)

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
    # Undeclared, the document's own fields cannot make it valid either.
    with pytest.raises(ManifestException):
        parse_manifest_from_bytes(read(row), validate=validate)


@pytest.mark.parametrize("row", rows_under(*MANIFEST_FOLDERS))
@pytest.mark.parametrize("declared", [True, False], ids=["declared", "undeclared"])
def test_schema2_and_oci_manifests_parse_to_the_digest_of_their_bytes(row, declared):
    data = read(row)

    manifest = parse_manifest_from_bytes(data, row["media_type"] if declared else None)

    assert manifest.digest == row["expected_digest"]
    assert manifest.media_type == row["media_type"]
    assert manifest.bytes == data and manifest.schema_version == 2
    assert manifest.digest_for("sha512") == "sha512:" + hashlib.sha512(data).hexdigest()
    assert isinstance(manifest, ParsedManifest)
    assert manifest.is_manifest_list == row["path"].startswith(("valid/schema2-list/",
                                                                 "valid/oci-index/"))
    if manifest.is_manifest_list:
        assert manifest.child_manifests and manifest.blob_digests == ()
        assert (manifest.config, manifest.layers) == (None, ())
    else:
        stored = [manifest.config] + [layer for layer in manifest.layers
                                      if not layer.fetched_from_urls]
        assert list(manifest.blob_digests) == list(dict.fromkeys(d.digest for d in stored))
        assert manifest.layers_compressed_size == sum(layer.size for layer in manifest.layers)


@pytest.mark.parametrize("row", rows_under(*MANIFEST_FOLDERS))
def test_schema2_and_oci_manifests_are_refused_as_any_other_format(row):
    for media_type in sorted(SUPPORTED_MEDIA_TYPES - {row["media_type"], "application/json"}):
        with pytest.raises(ManifestException):
            parse_manifest_from_bytes(read(row), media_type, validate=False)


@pytest.mark.parametrize("row", rows_under("valid/config/"))
def test_configs_parse_to_the_digest_of_their_bytes(row):
    config = ImageConfig(read(row))

    assert config.digest == row["expected_digest"]
    assert config.architecture and config.os and config.diff_ids
    # Every corpus config's history describes each of its layers.
    assert None not in config.layer_history


def test_manifests_agree_with_their_configs_in_the_corpus():
    configs = {row["expected_digest"]: ImageConfig(read(row))
               for row in ROWS if row["path"].startswith("valid/config/")}
    paired = 0
    for row in ROWS:
        if not row["path"].startswith(("valid/schema2/", "valid/oci-manifest/")):
            continue
        manifest = parse_manifest_from_bytes(read(row), row["media_type"])
        config = configs.get(manifest.config.digest)
        if config is not None:
            paired += 1
            assert len(config.diff_ids) == len(manifest.layers), row["path"]
    assert paired >= 6


def test_config_labels_history_and_platform():
    spec = ImageConfig((CORPUS / "valid/config/spec-config-example.json").read_bytes())
    assert spec.labels["com.example.project.git.url"] == "https://example.com/project.git"
    assert [step.empty_layer for step in spec.history] == [False, True, False]
    arm = ImageConfig((CORPUS / "valid/config/regclient-0da9b7d7.json").read_bytes())
    assert (arm.architecture, arm.variant) == ("arm", "v6")
    assert dict(arm.labels) == {"arg_label": "arg_for_label", "version": "3"}
    unicode = ImageConfig((CORPUS / "valid/config/quay-unicode_manifest_config.json")
                          .read_bytes())
    assert unicode.author == "Sômé guy"


@pytest.mark.parametrize("row", rows_under("valid/config/"))
def test_configs_are_refused_as_manifests(row):
    with pytest.raises(ManifestException, match="not a manifest"):
        parse_manifest_from_bytes(read(row), row["media_type"])
    with pytest.raises(ManifestException):
        parse_manifest_from_bytes(read(row))


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


def test_oci_manifest_and_index_without_media_type_are_read_as_oci():
    for name in ("cimage-ociv1nomime.manifest.json", "cimage-ociv1nomime.image.index.json",
                 "ggcr-98ceaf93.json", "ggcr-test_index-index.json"):
        row = next(row for row in ROWS if row["path"].endswith("/" + name))
        assert b'"mediaType": "application/vnd.oci.image.' not in read(row)[:60]
        assert parse_manifest_from_bytes(read(row)).media_type == row["media_type"]


def test_referrers_carry_subject_and_artifact_type():
    sbom = _load("regclient-0484e93c-sbom-artifact.json")
    loop = _load("regclient-d69399e0-artifact-index.json")

    assert sbom.subject.digest == ("sha256:dfae8f425735a5e3a72e40d6609e03079995511d48157c74d5"
                                   "4801ff4430491e")
    assert sbom.subject.media_type == "application/vnd.oci.image.index.v1+json"
    assert sbom.artifact_type == "application/example.sbom"
    assert sbom.config.media_type == "application/vnd.oci.empty.v1+json"
    assert loop.artifact_type == "application/example.loop"
    assert loop.subject.digest == loop.child_manifests[0].digest


def test_artifact_type_falls_back_to_a_non_image_config_media_type():
    assert (_load("ggcr-b544f71e-helm.json").artifact_type
            == "application/vnd.cncf.helm.config.v1+json")
    assert (_load("cimage-oci1-artifact.json").artifact_type
            == "application/vnd.oci.custom.artifact.config.v1+json")
    assert _load("cimage-oci1.json").artifact_type is None
    assert _load("spec-minimal-artifact.json").artifact_type == "application/vnd.example+type"


def test_buildx_index_keeps_its_attestations_and_platforms():
    index = _load("regclient-7ceb9b6b.json")

    platforms = [(child.platform.architecture, child.platform.os)
                 for child in index.child_manifests]
    assert platforms == [("amd64", "linux"), ("arm64", "linux"), ("unknown", "unknown"),
                         ("unknown", "unknown")]
    assert index.child_manifests[2].annotations["vnd.docker.reference.type"] == "builder"
    assert dict(index.annotations) == {"org.example.version": "v1"}


def test_docker_list_variants_and_features():
    platforms = [child.platform for child in _load("cimage-schema2list.json").child_manifests]
    assert {(p.architecture, p.variant) for p in platforms} >= {("arm", "v5"), ("arm", "v6"),
                                                                 ("arm64", "v8")}
    everything = _load("cimage-v2list.everything.json").child_manifests[0]
    assert everything.platform == Platform("a", "b", "c", ("d",), "e", ("f",))
    assert everything.urls == ("https://some.example/manifest",)


def test_encrypted_zstd_and_foreign_layers():
    encrypted = _load("cimage-oci1.encrypted.json")
    assert encrypted.layers and all(layer.is_encrypted for layer in encrypted.layers)
    assert [dict(layer.annotations) for layer in encrypted.layers
            if layer.annotations] == [{"test-annotation-2": "two"}]
    assert dict(encrypted.config.annotations) == {"test-annotation-1": "one"}
    zstd = _load("cimage-ociv1.zstd.manifest.json")
    assert {layer.media_type for layer in zstd.layers} == {
        "application/vnd.oci.image.layer.v1.tar+zstd"}
    # Foreign layers without urls can only come from the registry: they stay needed.
    foreign = _load("cimage-v2s2.nondistributable.manifest.json")
    assert foreign.layers[0].is_foreign and not foreign.layers[0].urls
    assert foreign.layers[0].digest in foreign.blob_digests
    all_types = _load("cimage-schema2-all-media-types.json")
    assert [layer.is_foreign for layer in all_types.layers] == [False, False, True, True, True]


def test_everything_fixtures_read_every_field():
    manifest = _load("cimage-ociv1.everything.json")

    assert manifest.config.data == b"a" and manifest.config.urls == (
        "https://some.example/config",)
    assert dict(manifest.layers[0].annotations) == {"layer": "2"}
    assert manifest.subject.platform == Platform("a", "b", "c", ("d",), "e")
    assert manifest.subject.artifact_type == "application/our-subject"
    assert manifest.artifact_type == "application/our-artifact"
    assert dict(manifest.annotations) == {"top": "0"}
