"""Every parsed manifest, schema 1 included, answers the common protocol with the right types."""
from collections.abc import Mapping, Sequence

import pytest

from registry_model.manifests import ParsedManifest, parse_manifest_from_bytes
from registry_model.manifests.descriptor import Descriptor

from . import three_layer_builder
from .documents import (
    docker_list_document,
    dumps,
    oci_index_document,
    oci_manifest_document,
    schema2_document,
)

MEMBERS = [name for name in dir(ParsedManifest)
           if not name.startswith("_") and name != "digest_for"]


def manifests(ec_key):
    yield parse_manifest_from_bytes(three_layer_builder().build(ec_key).bytes)
    yield parse_manifest_from_bytes(three_layer_builder().build().bytes)
    for build in (schema2_document, oci_manifest_document, docker_list_document,
                  oci_index_document):
        yield parse_manifest_from_bytes(dumps(build()))


def test_the_protocol_names_the_common_properties():
    assert set(MEMBERS) == {
        "annotations", "artifact_type", "blob_digests", "bytes", "child_manifests", "config",
        "digest", "is_index", "is_manifest_list", "layers", "layers_compressed_size",
        "media_type", "schema_version", "subject"}


@pytest.mark.parametrize("index", range(6), ids=["schema1-signed", "schema1-unsigned",
                                                 "schema2", "oci-manifest", "schema2-list",
                                                 "oci-index"])
def test_every_format_answers_every_member(ec_key, index):
    manifest = list(manifests(ec_key))[index]

    assert isinstance(manifest, ParsedManifest)
    assert isinstance(manifest.bytes, bytes) and manifest.digest.startswith("sha256:")
    assert manifest.digest_for("sha256") == manifest.digest
    assert manifest.schema_version in (1, 2) and manifest.media_type.startswith("application/")
    assert manifest.config is None or isinstance(manifest.config, Descriptor)
    assert manifest.subject is None or isinstance(manifest.subject, Descriptor)
    assert isinstance(manifest.layers, Sequence)
    assert all(isinstance(digest, str) for digest in manifest.blob_digests)
    assert all(isinstance(child, Descriptor) for child in manifest.child_manifests)
    assert isinstance(manifest.annotations, Mapping)
    assert manifest.is_index == manifest.is_manifest_list == bool(manifest.child_manifests)
    assert (manifest.layers_compressed_size is None) == (
        manifest.is_manifest_list or manifest.schema_version == 1)
