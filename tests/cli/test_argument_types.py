"""The click types of the commands' arguments (registry_model/cli/argument_types.py)."""
import re

import click
import pytest

from registry_model.cli.argument_types import (
    DigestType,
    ManifestReferenceType,
    NamespaceNameType,
    RepositoryNameType,
    TagNameType,
    TagReferenceType,
)

DIGEST = "sha256:" + "0" * 64


@pytest.mark.parametrize("param_type, given, converted", [
    (RepositoryNameType(), "acme/hello", ("acme", "hello")),
    (TagReferenceType(), "acme/hello:v1.0", ("acme", "hello", "v1.0")),
    (TagReferenceType(tag_optional=True), "acme/hello", ("acme", "hello", None)),
    (TagReferenceType(tag_optional=True), "acme/hello:latest", ("acme", "hello", "latest")),
    (ManifestReferenceType(), "acme/hello:latest", ("acme", "hello", "latest", None)),
    (ManifestReferenceType(), "acme/hello@" + DIGEST, ("acme", "hello", None, DIGEST)),
    (TagNameType(), "v1.0-rc_1", "v1.0-rc_1"),
    (DigestType(), DIGEST, DIGEST),
    (NamespaceNameType(), "acme", "acme"),
])
def test_valid_arguments_are_converted(param_type, given, converted):
    assert param_type.convert(given, None, None) == converted


@pytest.mark.parametrize("param_type", [RepositoryNameType(), TagReferenceType(),
                                        ManifestReferenceType()])
def test_a_converted_tuple_passes_through(param_type):
    assert param_type.convert(("acme", "hello"), None, None) == ("acme", "hello")


@pytest.mark.parametrize("param_type, given, fragment", [
    (RepositoryNameType(), "hello", "not a repository of the form namespace/name"),
    (RepositoryNameType(), "Acme/hello", "not a repository"),
    (TagReferenceType(), "acme/hello", "namespace/name:tag"),
    (TagReferenceType(tag_optional=True), "acme/hello:.bad", "namespace/name[:tag]"),
    (ManifestReferenceType(), "acme/hello@sha256:abc", "namespace/name@algorithm:hex"),
    (ManifestReferenceType(), "acme/hello:-x", "namespace/name:tag"),
    (TagNameType(), "-latest", "is not a tag name"),
    (DigestType(), "sha256:xyz", "is not a digest"),
    (NamespaceNameType(), "a/b", "is not a namespace name"),
])
def test_bad_arguments_fail_with_the_rule(param_type, given, fragment):
    with pytest.raises(click.BadParameter, match=re.escape(fragment)):
        param_type.convert(given, None, None)
