"""Password hashes: bcrypt, and the same work for an unknown account as for a known one.

Checking a login costs one bcrypt verification whether or not the account exists (a
dummy hash stands in for a missing one), so the time of a refusal does not tell an
attacker which account names exist.
"""
import functools

import bcrypt

# bcrypt's cost factor: 2**12 rounds, about a quarter second per check on a server core.
ROUNDS = 12
# bcrypt reads at most 72 bytes of a password; longer ones are refused, not truncated.
MAX_PASSWORD_BYTES = 72


def hash_password(password: str, rounds: int = None) -> str:
    """The bcrypt hash of ``password`` (text of at most 72 UTF-8 bytes), as ASCII text."""
    encoded = password.encode("utf-8")
    return bcrypt.hashpw(encoded, bcrypt.gensalt(rounds or ROUNDS)).decode("ascii")


def check_password(password: str, password_hash: str) -> bool:
    """True when ``password`` matches the bcrypt ``password_hash``."""
    encoded = password.encode("utf-8")
    if len(encoded) > MAX_PASSWORD_BYTES:
        return False
    try:
        return bcrypt.checkpw(encoded, password_hash.encode("ascii"))
    except ValueError:  # not a bcrypt hash
        return False


@functools.lru_cache(maxsize=4)
def _dummy_hash(rounds: int) -> str:
    return hash_password("no account has this password", rounds)


def burn_check(password: str) -> bool:
    """What checking a password against a missing account costs: one bcrypt check; False."""
    check_password(password, _dummy_hash(ROUNDS))
    return False
