"""Digests: sha256 and sha512 only, lowercase hex of the right length; errors name the field."""
import hashlib

import pytest

from registry_model.manifests.digests import check_digest, compute_digest, matches_digest
from registry_model.manifests.errors import InvalidDigestException, ManifestFieldException


@pytest.mark.parametrize("digest", ["sha256:" + "0123456789abcdef" * 4,
                                    "sha512:" + "0123456789abcdef" * 8])
def test_well_formed_digests_pass(digest):
    assert check_digest(digest, "config.digest") == digest


@pytest.mark.parametrize("digest", [
    "sha256:" + "a" * 63,                    # short
    "sha256:" + "a" * 65,                    # long
    "sha256:" + "A" * 64,                    # uppercase
    "sha256:" + "g" * 64,                    # not hex
    "sha512:" + "a" * 64,                    # sha256 length under sha512
    "SHA256:" + "a" * 64,
    "sha384:" + "a" * 96,                    # well formed per OCI grammar, but unverifiable here
    "md5:" + "a" * 32,
    "a" * 64,                                # no algorithm
    "sha256:",
    "",
    " sha256:" + "a" * 64,
    "sha256:" + "a" * 64 + "\n",
], ids=lambda value: repr(value)[:30])
def test_malformed_digests_are_refused_naming_the_field(digest):
    with pytest.raises(InvalidDigestException, match=r"^layers\[2\]\.digest: ") as raised:
        check_digest(digest, "layers[2].digest")
    assert raised.value.field == "layers[2].digest"
    assert isinstance(raised.value, ManifestFieldException)


@pytest.mark.parametrize("value", [None, 5, ["sha256:" + "a" * 64], {"sha256": "a"}])
def test_a_digest_that_is_not_a_string_is_refused(value):
    with pytest.raises(InvalidDigestException, match="^digest: is a "):
        check_digest(value, "digest")


def test_compute_digest_uses_the_algorithm_asked_for():
    data = b'{"schemaVersion": 2}'
    assert compute_digest(data) == "sha256:" + hashlib.sha256(data).hexdigest()
    assert compute_digest(data, "sha512") == "sha512:" + hashlib.sha512(data).hexdigest()
    with pytest.raises(InvalidDigestException, match="^algorithm: 'md5'"):
        compute_digest(data, "md5")


def test_matches_digest_compares_under_the_digest_algorithm():
    data = b"content"
    assert matches_digest(data, compute_digest(data, "sha512"))
    assert matches_digest(data, compute_digest(data, "sha256"))
    assert not matches_digest(data + b" ", compute_digest(data))
