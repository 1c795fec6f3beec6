"""Content digests of manifests and blobs: the algorithms registries verify, and their checks.

A digest is ``algorithm:encoded``. The OCI image-spec registers ``sha256`` (the default
everywhere) and ``sha512``; both encode the hash in lowercase hex, so a digest of either is
exactly ``sha256:`` + 64 or ``sha512:`` + 128 characters of ``[0-9a-f]``. Digests of any other
algorithm cannot be verified here and are refused rather than stored unverified.
"""
from __future__ import annotations

import hashlib
import re

from registry_model.manifests.errors import InvalidDigestException

DEFAULT_DIGEST_ALGORITHM = "sha256"
DIGEST_HEX_LENGTHS = {"sha256": 64, "sha512": 128}
_DIGEST = {
    algorithm: re.compile(rf"{algorithm}:[0-9a-f]{{{length}}}", re.ASCII)
    for algorithm, length in DIGEST_HEX_LENGTHS.items()
}


def check_digest(value: object, field: str) -> str:
    """Return ``value`` when it is a well-formed sha256 or sha512 digest, else raise
    :class:`InvalidDigestException` naming ``field``."""
    if not isinstance(value, str):
        raise InvalidDigestException(field, f"is a {type(value).__name__}, not a digest string")
    algorithm = value.split(":", 1)[0]
    pattern = _DIGEST.get(algorithm)
    if pattern is None:
        raise InvalidDigestException(
            field, f"{value[:80]!r} does not use sha256 or sha512 (algorithm:hex)")
    if not pattern.fullmatch(value):
        raise InvalidDigestException(
            field, f"{value[:150]!r} is not {algorithm}: followed by "
            f"{DIGEST_HEX_LENGTHS[algorithm]} lowercase hex digits")
    return value


def digest_algorithm(digest: str) -> str:
    """The algorithm part of a checked digest, e.g. ``sha512``."""
    return digest.split(":", 1)[0]


def compute_digest(data: bytes, algorithm: str = DEFAULT_DIGEST_ALGORITHM) -> str:
    """``algorithm:hex`` of ``data`` for ``sha256`` or ``sha512``.

    Raises :class:`InvalidDigestException` (field ``algorithm``) for any other algorithm.
    """
    if algorithm not in DIGEST_HEX_LENGTHS:
        raise InvalidDigestException("algorithm", f"{algorithm!r} is not sha256 or sha512")
    return f"{algorithm}:" + hashlib.new(algorithm, data).hexdigest()


def matches_digest(data: bytes, digest: str) -> bool:
    """True when ``digest`` (sha256 or sha512, well formed) is the digest of ``data``."""
    return compute_digest(data, digest_algorithm(check_digest(digest, "digest"))) == digest
