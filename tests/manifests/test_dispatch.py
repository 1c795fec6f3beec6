"""parse_manifest_from_bytes: the declared media type, else the document, picks the format."""
import hashlib
import json

import pytest

from registry_model import errors, validation
from registry_model.manifests import (
    SUPPORTED_MEDIA_TYPES,
    DockerManifestList,
    DockerSchema1Manifest,
    DockerSchema2Manifest,
    ManifestException,
    ManifestFieldException,
    MediaTypeMismatchException,
    OCIIndex,
    OCIManifest,
    ParsedManifest,
    UnknownSchemaVersionException,
    parse_manifest_from_bytes,
)
from registry_model.media_types import (
    DOCKER_SCHEMA2_CONFIG_CONTENT_TYPE,
    OCI_CONFIG_CONTENT_TYPE,
)

from . import SIGNED, UNSIGNED, three_layer_builder
from .documents import (
    docker_list_document,
    dumps,
    oci_index_document,
    oci_manifest_document,
    schema2_document,
)

FORMATS = [
    pytest.param(DockerSchema2Manifest, schema2_document, id="schema2"),
    pytest.param(DockerManifestList, docker_list_document, id="schema2-list"),
    pytest.param(OCIManifest, oci_manifest_document, id="oci-manifest"),
    pytest.param(OCIIndex, oci_index_document, id="oci-index"),
]


@pytest.mark.parametrize("cls, build", FORMATS)
@pytest.mark.parametrize("declared", ["own", None, "application/json"])
def test_each_format_is_read_declared_or_not(cls, build, declared):
    data = dumps(build())

    manifest = parse_manifest_from_bytes(data, cls.MEDIA_TYPE if declared == "own" else declared)

    assert type(manifest) is cls
    assert manifest.digest == "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("cls, build", FORMATS)
def test_a_document_sent_as_another_format_is_refused(cls, build):
    data = dumps(build())
    for other in FORMATS:
        other_cls = other.values[0]
        if other_cls is cls:
            continue
        with pytest.raises(MediaTypeMismatchException, match="^mediaType: "):
            parse_manifest_from_bytes(data, other_cls.MEDIA_TYPE)


@pytest.mark.parametrize("build, cls", [(oci_manifest_document, OCIManifest),
                                        (oci_index_document, OCIIndex)])
def test_oci_documents_without_media_type_are_told_apart_by_shape(build, cls):
    document = build()
    del document["mediaType"]

    assert type(parse_manifest_from_bytes(dumps(document))) is cls
    assert type(parse_manifest_from_bytes(dumps(document), cls.MEDIA_TYPE)) is cls


@pytest.mark.parametrize("build", [schema2_document, docker_list_document])
def test_docker_documents_without_media_type_are_not_guessed_as_docker(build):
    document = build()
    del document["mediaType"]

    # Undeclared it reads as OCI (a list as an index, with its platforms); declared as Docker
    # it is refused, since Docker requires the field.
    assert parse_manifest_from_bytes(dumps(document)).media_type.startswith("application/vnd.oci")
    with pytest.raises(ManifestFieldException, match="^mediaType: is required"):
        parse_manifest_from_bytes(dumps(document), build()["mediaType"])


def test_schema1_keeps_its_behaviour_declared_or_not(ec_key):
    signed = three_layer_builder().build(ec_key)
    unsigned = three_layer_builder().build()

    for manifest, declared in ((signed, SIGNED), (unsigned, UNSIGNED)):
        for media_type in (declared, None, "application/json"):
            parsed = parse_manifest_from_bytes(manifest.bytes, media_type)
            assert type(parsed) is DockerSchema1Manifest
            assert (parsed.digest, parsed.media_type) == (manifest.digest, declared)
    with pytest.raises(ManifestException, match="must carry signatures"):
        parse_manifest_from_bytes(unsigned.bytes, SIGNED)


def test_schema1_has_the_common_properties(ec_key):
    manifest = parse_manifest_from_bytes(three_layer_builder().build(ec_key).bytes, SIGNED)

    assert isinstance(manifest, ParsedManifest)
    assert (manifest.config, manifest.subject, manifest.artifact_type) == (None, None, None)
    assert (manifest.child_manifests, dict(manifest.annotations)) == ((), {})
    assert not manifest.is_manifest_list and not manifest.is_index
    assert manifest.layers_compressed_size is None
    assert manifest.digest_for("sha512") == (
        "sha512:" + hashlib.sha512(manifest.payload).hexdigest())


def test_schema1_can_be_parsed_for_a_sha512_digest(ec_key):
    built = three_layer_builder().build(ec_key)

    parsed = parse_manifest_from_bytes(built.bytes, SIGNED, digest_algorithm="sha512")

    assert parsed.digest == "sha512:" + hashlib.sha512(built.payload).hexdigest()


@pytest.mark.parametrize("media_type", [DOCKER_SCHEMA2_CONFIG_CONTENT_TYPE,
                                        OCI_CONFIG_CONTENT_TYPE])
def test_configs_are_not_manifests(media_type):
    with pytest.raises(ManifestException, match="not a manifest"):
        parse_manifest_from_bytes(b'{"architecture": "amd64"}', media_type)
    document = dict(schema2_document(), mediaType=media_type)
    with pytest.raises(ManifestFieldException, match="^mediaType: .*image config"):
        parse_manifest_from_bytes(dumps(document))


def test_unknown_media_types_are_refused():
    with pytest.raises(ManifestException, match="unknown manifest media type"):
        parse_manifest_from_bytes(dumps(oci_manifest_document()), "text/plain")
    document = dict(oci_manifest_document(), mediaType="application/vnd.example+json")
    with pytest.raises(ManifestFieldException, match="^mediaType: .*unknown"):
        parse_manifest_from_bytes(dumps(document))
    with pytest.raises(ManifestException, match="media type must be a string"):
        parse_manifest_from_bytes(dumps(oci_manifest_document()), 7)


@pytest.mark.parametrize("version", [0, 3, 99999, -1])
def test_unknown_schema_versions_are_refused_undeclared(version):
    data = json.dumps({"schemaVersion": version, "layers": []}).encode()
    with pytest.raises(UnknownSchemaVersionException, match="^schemaVersion: "):
        parse_manifest_from_bytes(data)


def test_the_size_limit_applies_to_every_format_before_parsing():
    data = b" " * (validation.MAX_MANIFEST_BYTES + 1)
    for media_type in sorted(SUPPORTED_MEDIA_TYPES) + [None]:
        with pytest.raises(errors.ManifestTooLargeException, match="at most"):
            parse_manifest_from_bytes(data, media_type)


def test_the_supported_media_types_are_the_five_manifest_formats():
    assert len(SUPPORTED_MEDIA_TYPES) == 7  # schema 1 counts three spellings
    for media_type in SUPPORTED_MEDIA_TYPES:
        assert media_type.startswith("application/")
