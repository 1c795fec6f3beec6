"""What every schema 2 / OCI format shares: exact-bytes digests, mediaType agreement,
schemaVersion 2, unambiguous format fields, the size limit, immutability."""
import hashlib

import pytest

from registry_model import validation
from registry_model.manifests import (
    DockerManifestList,
    DockerSchema2Manifest,
    ManifestFieldException,
    MediaTypeMismatchException,
    OCIIndex,
    OCIManifest,
    OversizedManifestException,
    ParsedManifest,
    UnknownSchemaVersionException,
)
from registry_model.manifests.errors import InvalidDigestException

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
CLASSES = (DockerSchema2Manifest, DockerManifestList, OCIManifest, OCIIndex)


def with_each(values, keep):
    """``FORMATS`` crossed with ``values``, keeping the pairs ``keep(cls, value)`` accepts."""
    return [pytest.param(*format_.values, value, id=f"{format_.id}-{value}")
            for format_ in FORMATS for value in values if keep(format_.values[0], value)]


@pytest.mark.parametrize("cls, build", FORMATS)
def test_the_digest_is_of_the_exact_bytes(cls, build):
    compact = dumps(build()).replace(b"\n", b"").replace(b"   ", b"")
    for data in (dumps(build()), compact, dumps(build()) + b"\n"):
        manifest = cls(data)

        assert manifest.bytes == data
        assert manifest.digest == "sha256:" + hashlib.sha256(data).hexdigest()
        assert manifest.digest_for("sha512") == "sha512:" + hashlib.sha512(data).hexdigest()
        assert manifest.media_type == cls.MEDIA_TYPE and manifest.schema_version == 2
        assert isinstance(manifest, ParsedManifest)


@pytest.mark.parametrize("cls, build", FORMATS)
def test_a_manifest_parsed_for_sha512_has_a_sha512_digest(cls, build):
    data = dumps(build())
    assert cls(data, "sha512").digest == "sha512:" + hashlib.sha512(data).hexdigest()
    with pytest.raises(InvalidDigestException):
        cls(data, "md5")


@pytest.mark.parametrize("cls, build, other", with_each(
    [other.MEDIA_TYPE for other in CLASSES] + ["application/json"],
    lambda cls, other: other != cls.MEDIA_TYPE))
def test_the_media_type_field_must_be_the_formats_own(cls, build, other):
    document = build()
    document["mediaType"] = other

    with pytest.raises(MediaTypeMismatchException, match="^mediaType: ") as raised:
        cls(dumps(document))
    assert raised.value.field == "mediaType"


@pytest.mark.parametrize("cls, build", FORMATS)
def test_only_oci_formats_may_leave_the_media_type_out(cls, build):
    document = build()
    del document["mediaType"]

    if cls.MEDIA_TYPE_REQUIRED:
        with pytest.raises(ManifestFieldException, match="^mediaType: is required"):
            cls(dumps(document))
    else:
        assert cls(dumps(document)).media_type == cls.MEDIA_TYPE


@pytest.mark.parametrize("cls, build", FORMATS)
@pytest.mark.parametrize("version, error", [
    (1, UnknownSchemaVersionException), (3, UnknownSchemaVersionException),
    (0, UnknownSchemaVersionException), ("2", ManifestFieldException),
    (2.0, ManifestFieldException), (True, ManifestFieldException),
    (None, ManifestFieldException)])
def test_schema_version_must_be_the_integer_2(cls, build, version, error):
    document = build()
    document["schemaVersion"] = version

    with pytest.raises(error, match="^schemaVersion: "):
        cls(dumps(document))


@pytest.mark.parametrize("cls, build", FORMATS)
def test_schema_version_is_required(cls, build):
    document = build()
    del document["schemaVersion"]

    with pytest.raises(ManifestFieldException, match="^schemaVersion: is required"):
        cls(dumps(document))


@pytest.mark.parametrize("cls, build, other_field", with_each(
    ["config", "layers", "manifests", "fsLayers", "history"],
    lambda cls, other_field: other_field not in cls.OWN_FIELDS))
def test_a_document_with_another_formats_fields_is_refused(cls, build, other_field):
    document = build()
    document[other_field] = []

    with pytest.raises(ManifestFieldException, match=f"^{other_field}: is not a field of"):
        cls(dumps(document))


@pytest.mark.parametrize("cls, build", FORMATS)
def test_documents_past_the_size_limit_are_refused(cls, build):
    data = dumps(build())
    padded = data[:-1] + b" " * (validation.MAX_MANIFEST_BYTES - len(data)) + b"}"
    assert len(cls(padded).bytes) == validation.MAX_MANIFEST_BYTES

    with pytest.raises(OversizedManifestException):
        cls(padded + b" ")


@pytest.mark.parametrize("cls, build", FORMATS)
def test_parsed_manifests_cannot_be_changed(cls, build):
    manifest = cls(dumps(build()))

    for name in ("bytes", "digest", "media_type", "config", "layers", "child_manifests",
                 "subject", "artifact_type", "annotations", "blob_digests"):
        with pytest.raises(AttributeError):
            setattr(manifest, name, None)
    with pytest.raises(TypeError):
        manifest.annotations["k"] = "v"
    assert isinstance(manifest.layers, tuple) and isinstance(manifest.child_manifests, tuple)
