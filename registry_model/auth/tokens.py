"""Registry tokens: short-lived JWTs (ES256, jwcrypto) naming what their holder may do.

A token's claims are the Docker token specification's: ``iss`` and ``aud`` are the
server's service name, ``sub`` the account (empty for an anonymous caller), ``exp``,
``nbf``, ``iat`` and ``jti``, and ``access``, a list of
``{"type": "repository", "name": "ns/repo", "actions": [...]}``. Checking a token costs
a signature verification and no database statement: what it grants was decided when it
was issued, so a grant revoked or an account removed lasts until the token expires
(:data:`TOKEN_TTL_S`).

The signing key is an EC P-256 JWK in a file of its own, created (mode 0600) the first
time the server starts; it is a secret of the server, kept outside the blob store.
"""
import json
import logging
import os
import uuid
from typing import Dict, FrozenSet, NamedTuple, Optional

from jwcrypto import jwk, jwt

from registry_model import clock

logger = logging.getLogger(__name__)

ALGORITHM = "ES256"
TOKEN_TTL_S = 300
# Seconds of clock difference tolerated between workers and hosts on exp and nbf.
LEEWAY_S = 5
REPOSITORY = "repository"


class InvalidTokenException(Exception):
    """A token that is malformed, not signed by this server's key, expired, or meant for
    another service."""


class VerifiedToken(NamedTuple):
    """A checked token: its account (None when anonymous) and its actions per repository."""

    subject: Optional[str]
    access: Dict[str, FrozenSet[str]]

    def allows(self, name: str, action: str) -> bool:
        """True when the token grants ``action`` on repository ``name`` (``ns/repo``)."""
        return action in self.access.get(name, ())


def load_or_create_key(path: str) -> jwk.JWK:
    """The private key in ``path``; a new EC P-256 key written there (0600) when missing."""
    try:
        with open(path, encoding="utf-8") as source:
            return jwk.JWK.from_json(source.read())
    except FileNotFoundError:
        pass
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it meanwhile: use that one
        return load_or_create_key(path)
    with os.fdopen(descriptor, "w", encoding="utf-8") as target:
        target.write(key.export_private())
    logger.info("created the token signing key %s", path)
    return key


class TokenAuthority:
    """Issues and checks the tokens of one service with one key."""

    def __init__(self, key: jwk.JWK, service: str, ttl_s: int = TOKEN_TTL_S) -> None:
        """Tokens for ``service`` (their issuer and audience), valid ``ttl_s`` seconds."""
        self.key = key
        self.service = service
        self.ttl_s = ttl_s
        self._kid = key.thumbprint()

    def issue(self, subject: Optional[str], access: Dict[str, FrozenSet[str]]) -> tuple:
        """``(token, issued_at Unix seconds)`` granting ``access`` (name -> actions)."""
        now = clock.now_ts()
        claims = {"iss": self.service, "aud": self.service, "sub": subject or "",
                  "iat": now, "nbf": now, "exp": now + self.ttl_s, "jti": str(uuid.uuid4()),
                  "access": [{"type": REPOSITORY, "name": name, "actions": sorted(actions)}
                             for name, actions in sorted(access.items())]}
        token = jwt.JWT(header={"alg": ALGORITHM, "typ": "JWT", "kid": self._kid},
                        claims=claims)
        token.make_signed_token(self.key)
        return token.serialize(), now

    def verify(self, text: str) -> VerifiedToken:
        """The token's subject and access; InvalidTokenException for any flaw."""
        checker = jwt.JWT(algs=[ALGORITHM], expected_type="JWS", strict_serialization=True,
                          check_claims={"iss": self.service, "aud": self.service,
                                        "exp": None, "nbf": None})
        checker.leeway = LEEWAY_S
        try:
            checker.deserialize(text, self.key)
            claims = json.loads(checker.claims)
        except Exception as exc:  # jwcrypto raises a dozen types; all mean "not ours"
            raise InvalidTokenException(type(exc).__name__) from None
        return VerifiedToken(claims.get("sub") or None, _access(claims.get("access")))


def _access(entries: object) -> Dict[str, FrozenSet[str]]:
    if not isinstance(entries, list):
        raise InvalidTokenException("access is not a list")
    access = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("type") != REPOSITORY:
            continue
        name, actions = entry.get("name"), entry.get("actions")
        if isinstance(name, str) and isinstance(actions, list):
            access[name] = frozenset(a for a in actions if isinstance(a, str))
    return access
