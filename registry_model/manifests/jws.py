"""Docker "prettyjws" signatures (libtrust JSON signatures) for schema 1 manifests.

JOSE library: jwcrypto, because it is a maintained, RFC 7515/7517/7518-complete implementation on
pyca/cryptography that imports a key straight from the JWK dict a Docker signature header carries
and signs or verifies a JSON-serialized JWS with it, which is exactly what schema 1 needs.

A signed schema 1 manifest is its payload (the manifest JSON without signatures) with a
``"signatures"`` array spliced in before the closing brace. The payload is not stored: each
signature's protected header says how to rebuild it, ``document[:formatLength] +
base64url_decode(formatTail)``, and the JWS signing input is ``protected + "." +
base64url(payload)``. The public key travels in the unprotected header (``jwk``), so a signature
proves integrity of the payload, not who signed it.

Typical use::

    key = generate_signing_key()
    document = sign_pretty(payload_bytes, key)
"""
from __future__ import annotations

import base64
import datetime
import hashlib
import json
import logging
import re
from collections import namedtuple
from typing import Any

from cryptography.hazmat.primitives import serialization
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS

from registry_model.manifests.errors import ManifestException

logger = logging.getLogger(__name__)

# libtrust signs and verifies only these; HMAC ("HS*") and "none" would let anyone forge a
# signature with a key they put in the header themselves.
SIGNING_ALGORITHMS = ("ES256", "ES384", "ES512", "RS256", "RS384", "RS512")
_EC_SIGNATURE_LENGTHS = {"ES256": 64, "ES384": 96, "ES512": 132}
_CURVE_ALGORITHMS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
_B64URL = re.compile(r"[A-Za-z0-9_-]*", re.ASCII)
_INDENT = "   "

ManifestSignature = namedtuple(
    "ManifestSignature",
    ["algorithm", "header", "protected", "protected_header", "signature", "format_length",
     "format_tail"],
)
ManifestSignature.__doc__ = """One JWS signature of a schema 1 manifest, as found in the document.

``header`` is the unprotected header (``alg`` and ``jwk``), ``protected`` the base64url text of
the protected header and ``protected_header`` its decoded JSON, ``signature`` the base64url
signature, ``format_length``/``format_tail`` the payload recipe from the protected header.
"""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load_json(text: str | bytes, what: str) -> Any:
    """Decode strict JSON (UTF-8 text, no NaN/Infinity) or raise :class:`ManifestException`.

    Every decoding failure is translated, including the RecursionError Python's decoder raises on
    very deeply nested input and the UnicodeDecodeError of bytes that are not UTF-8, so a caller
    parsing untrusted bytes sees one exception type.
    """
    try:
        if isinstance(text, (bytes, bytearray)):
            # json.loads would guess UTF-16/32 from the bytes; Docker manifests are UTF-8 only.
            text = bytes(text).decode("utf-8")
        return json.loads(text, parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise ManifestException(f"{what} is not UTF-8 text: {exc}") from exc
    except RecursionError as exc:
        raise ManifestException(f"{what} is nested too deeply") from exc
    except (ValueError, TypeError) as exc:
        raise ManifestException(f"{what} is not valid JSON: {exc}") from exc


def b64url_decode(value: object, what: str) -> bytes:
    """Decode unpadded base64url text strictly (RFC 7515 section 2) or raise ManifestException."""
    if not isinstance(value, str) or not _B64URL.fullmatch(value) or len(value) % 4 == 1:
        raise ManifestException(f"{what} is not base64url text")
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def b64url_encode(data: bytes) -> str:
    """Encode bytes as unpadded base64url text, as JOSE does."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def parse_signature(entry: object, index: int) -> ManifestSignature:
    """Check the shape of one entry of a manifest's ``signatures`` array and decode it.

    Only the structure is checked here (what is needed to rebuild the payload); whether the
    signature verifies is :func:`verify_signature`'s job.
    """
    where = f"signature {index}"
    if not isinstance(entry, dict):
        raise ManifestException(f"{where} is not a JSON object")
    header = entry.get("header")
    if not isinstance(header, dict):
        raise ManifestException(f"{where} has no header object")
    protected = entry.get("protected")
    protected_header = load_json(b64url_decode(protected, f"{where} protected header"),
                                 f"{where} protected header")
    if not isinstance(protected_header, dict):
        raise ManifestException(f"{where} protected header is not a JSON object")
    format_length = protected_header.get("formatLength")
    if type(format_length) is not int or format_length < 0:
        raise ManifestException(f"{where} protected header has no valid formatLength")
    format_tail = b64url_decode(protected_header.get("formatTail"), f"{where} formatTail")
    signature = entry.get("signature")
    b64url_decode(signature, f"{where} signature value")
    algorithm = header.get("alg") if isinstance(header.get("alg"), str) else None
    return ManifestSignature(algorithm, header, protected, protected_header, signature,
                             format_length, format_tail)


def signed_payload(document: bytes, signatures: list[ManifestSignature]) -> bytes:
    """Rebuild the signed payload from the document; every signature must name the same one."""
    payloads = set()
    for signature in signatures:
        if signature.format_length > len(document):
            raise ManifestException("formatLength points past the end of the manifest")
        payloads.add(document[: signature.format_length] + signature.format_tail)
    if len(payloads) != 1:
        raise ManifestException("the signatures disagree on the signed payload")
    return payloads.pop()


def verify_signature(signature: ManifestSignature, payload: bytes, index: int) -> None:
    """Verify one signature over ``payload`` with the JWK of its own header.

    Raises :class:`ManifestException` when the algorithm is not one libtrust uses, the header
    carries no usable key (x5c certificate chains are not supported), or the signature does not
    verify.
    """
    where = f"signature {index}"
    algorithm = signature.algorithm
    if algorithm not in SIGNING_ALGORITHMS:
        raise ManifestException(f"{where} uses unsupported algorithm {algorithm!r}")
    jwk = signature.header.get("jwk")
    if not isinstance(jwk, dict):
        if "x5c" in signature.header:
            raise ManifestException(f"{where} carries an x5c certificate chain; only signatures "
                                    "with a jwk header key are supported")
        raise ManifestException(f"{where} has no jwk header key")
    # jwcrypto re-encodes the decoded protected header to build the signing input; refusing
    # non-canonical text keeps that input identical to the bytes that were signed.
    if b64url_encode(b64url_decode(signature.protected, where)) != signature.protected:
        raise ManifestException(f"{where} protected header is not canonical base64url")
    raw_signature = b64url_decode(signature.signature, where)
    expected_length = _EC_SIGNATURE_LENGTHS.get(algorithm)
    if expected_length is not None and len(raw_signature) != expected_length:
        raise ManifestException(f"{where} has the wrong length for {algorithm}")
    try:
        key = JWK(**jwk)
        if key.get("kty") not in ("EC", "RSA"):
            raise ManifestException(f"{where} key type {key.get('kty')!r} is not EC or RSA")
        jws = JWS()
        jws.allowed_algs = list(SIGNING_ALGORITHMS)
        jws.deserialize(json.dumps({
            "payload": b64url_encode(payload),
            "protected": signature.protected,
            "header": signature.header,
            "signature": signature.signature,
        }))
        jws.verify(key, alg=algorithm)
    except ManifestException:
        raise
    except Exception as exc:  # jwcrypto and cryptography raise many types for bad keys/sigs
        raise ManifestException(f"{where} does not verify: {exc}") from exc


def generate_signing_key(key_type: str = "EC") -> JWK:
    """Generate a private key to sign manifests with: EC P-256 (ES256) or RSA 2048 (RS256)."""
    if key_type == "EC":
        return JWK.generate(kty="EC", crv="P-256")
    if key_type == "RSA":
        return JWK.generate(kty="RSA", size=2048)
    raise ManifestException(f"unknown signing key type {key_type!r}: use 'EC' or 'RSA'")


def libtrust_key_id(key: JWK) -> str:
    """The key id Docker's libtrust gives a key: the first 240 bits of the SHA-256 of its DER
    SubjectPublicKeyInfo, base32-encoded in twelve colon-separated groups of four."""
    der = key.get_op_key("verify").public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode("ascii")
    return ":".join(encoded[i: i + 4] for i in range(0, len(encoded), 4))


def _signing_algorithm(key: object) -> str:
    if not isinstance(key, JWK) or not key.has_private:
        raise ManifestException("a manifest is signed with a private jwcrypto JWK")
    if key.get("kty") == "RSA":
        return "RS256"
    if key.get("kty") == "EC" and key.get("crv") in _CURVE_ALGORITHMS:
        return _CURVE_ALGORITHMS[key.get("crv")]
    raise ManifestException("signing keys must be RSA or EC on P-256, P-384 or P-521")


def sign_pretty(payload: bytes, key: JWK) -> bytes:
    """Sign a 3-space-indented JSON object and return it in Docker's prettyjws layout.

    As libtrust does, ``formatLength`` ends at the last non-blank byte before the closing brace
    and ``formatTail`` keeps the rest, so the signatures array can be spliced in between and the
    payload rebuilt byte for byte by a verifier.
    """
    algorithm = _signing_algorithm(key)
    closing = len(payload.rstrip()) - 1
    if closing < 1 or payload[closing:closing + 1] != b"}":
        raise ManifestException("only a JSON object can be signed")
    format_length = len(payload[:closing].rstrip())
    if payload[format_length - 1:format_length] in (b"{", b","):
        raise ManifestException("cannot sign an empty JSON object or one with a trailing comma")
    format_tail = payload[format_length:]
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    protected = {"formatLength": format_length, "formatTail": b64url_encode(format_tail),
                 "time": now}
    public_jwk = key.export_public(as_dict=True)
    public_jwk["kid"] = libtrust_key_id(key)
    header = {"jwk": public_jwk, "alg": algorithm}
    jws = JWS(payload)
    jws.allowed_algs = list(SIGNING_ALGORITHMS)
    jws.add_signature(key, alg=algorithm, protected=json.dumps(protected, separators=(",", ":")),
                      header=json.dumps(header))
    flattened = json.loads(jws.serialize())
    entry = {"header": header, "signature": flattened["signature"],
             "protected": flattened["protected"]}
    signatures = json.dumps([entry], indent=3).replace("\n", "\n" + _INDENT)
    return (payload[:format_length] + (',\n' + _INDENT + '"signatures": ' + signatures).encode()
            + format_tail)
