"""Who is calling and what they may do: the server's side of accounts and tokens.

With auth on (:func:`create_app` given a :class:`~registry_model.auth.tokens.TokenAuthority`)
every request is one of:

- **anonymous** (no Authorization header): may pull public repositories; anything else is
  401 UNAUTHORIZED with the Bearer challenge that sends a client to the token endpoint;
- **bearer** (a token of this server): holds what the token's ``access`` claim lists,
  checked without a database statement; a token lacking the action is 401 (challenge with
  ``error="insufficient_scope"``) when its account could get a token that has it, else 403
  DENIED;
- **basic** (a name and password sent straight to ``/v2/``): holds what the account holds
  (its grants are read once per request); lacking the action is 403 DENIED.

A malformed or foreign token, a wrong password or an unknown account is 401 with the same
body. With auth off every caller may do everything (a loopback-only server).
"""
from typing import NamedTuple, Optional

from flask import current_app, g, request

from registry_model.auth import accounts, grants, permissions, scopes
from registry_model.auth.tokens import InvalidTokenException, TokenAuthority, VerifiedToken
from registry_model.server.errors import RegistryError

AUTH_EXTENSION = "registry_model.auth"
TOKEN_PATH = "/token"
ANONYMOUS, BASIC, BEARER = "anonymous", "basic", "bearer"


class Caller(NamedTuple):
    """The request's caller: its account (None when anonymous), how it came, its token."""

    account: Optional[str]
    via: str
    token: Optional[VerifiedToken] = None


def authority() -> Optional[TokenAuthority]:
    """The app's token authority; None when auth is off."""
    return current_app.extensions.get(AUTH_EXTENSION)


def unauthorized(scope: Optional[str] = None, error: Optional[str] = None) -> RegistryError:
    """401 UNAUTHORIZED with the Bearer challenge naming the token endpoint and ``scope``."""
    challenge = 'Bearer realm="%s%s",service="%s"' % (request.host_url.rstrip("/"),
                                                      TOKEN_PATH, authority().service)
    if scope is not None:
        challenge += ',scope="%s"' % scope
    if error is not None:
        challenge += ',error="%s"' % error
    return RegistryError("UNAUTHORIZED", {"scope": scope} if scope else None,
                         headers={"WWW-Authenticate": challenge})


def basic_account() -> Optional[str]:
    """The account of the request's Basic credentials; None when it has none.

    Wrong credentials (a wrong password or an unknown name, told apart by neither answer
    nor time) are 401.
    """
    credentials = request.authorization
    if credentials is None or credentials.type != "basic":
        return None
    account = accounts.authenticate(credentials.username or "", credentials.password or "")
    if account is None:
        raise unauthorized(error="invalid_credentials")
    return account


def caller() -> Caller:
    """The request's caller, worked out once per request."""
    found = g.get("registry_caller")
    if found is not None:
        return found
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if not header:
        found = Caller(None, ANONYMOUS)
    elif scheme.lower() == "bearer":
        try:
            token = authority().verify(value.strip())
        except InvalidTokenException:
            raise unauthorized(error="invalid_token") from None
        found = Caller(token.subject, BEARER, token)
    elif scheme.lower() == "basic" and request.authorization is not None:
        found = Caller(basic_account(), BASIC)
    else:
        raise unauthorized(error="invalid_request")
    g.registry_caller = found
    return found


def request_grants(account: Optional[str]) -> list:
    """The grants of ``account``, read once per request (one statement)."""
    cached = g.get("registry_grants")
    if cached is None:
        cached = g.registry_grants = grants.grants_of(account)
    return cached


def account_holds(account: Optional[str], namespace: str, repository: str,
                  action: str) -> bool:
    """True when ``account`` holds ``action`` by ownership or grant (public aside)."""
    if account is None:
        return False
    if account == namespace:  # the owner: no need to read the grants
        return True
    return action in permissions.held_actions(account, request_grants(account), namespace,
                                              repository)


def holds(namespace: str, repository: str, action: str) -> bool:
    """True when the caller may do ``action`` on the repository, public visibility aside.

    No statement for a token or an owner; one (the account's grants) otherwise.
    """
    if authority() is None:
        return True
    found = caller()
    if found.via == BEARER:
        return found.token.allows("%s/%s" % (namespace, repository), action)
    return account_holds(found.account, namespace, repository, action)


def may_list(namespace: str, repository: str, is_public: bool) -> bool:
    """True when the catalog shows the repository to the caller (it may pull it)."""
    if authority() is None or is_public:
        return True
    return account_holds(caller().account, namespace, repository, permissions.PULL)


def refusal(namespace: str, repository: str, action: str,
            also: Optional[str] = None) -> RegistryError:
    """The error for a caller lacking ``action``: 401 when a token could help, else 403.

    ``also`` is one more scope for the challenge (a mount's pull on its source, so that a
    client following the challenge gets a token that can mount).
    """
    found = caller()
    scope = scopes.challenge_scope("%s/%s" % (namespace, repository), action)
    if also is not None:
        scope = "%s %s" % (scope, also)
    if found.via == ANONYMOUS:
        return unauthorized(scope)
    if found.via == BEARER and (found.account is None or account_holds(
            found.account, namespace, repository, action)):
        return unauthorized(scope, error="insufficient_scope")
    return RegistryError("DENIED", {"scope": scope})
