"""The token endpoint (``GET /token``): Docker token authentication's issuer.

A client sent here by a 401 challenge asks with ``service`` and any number of ``scope``
parameters, with Basic credentials or none. The answer is a token granting, of each scope,
only the actions the caller holds (an anonymous caller: pull of public repositories); an
action not held is left out, not refused, as the specification says. Wrong credentials
are 401. ``docker login`` calls it without a scope to check a password.
"""
from datetime import UTC, datetime

from flask import Response, jsonify, request

from registry_model.auth import permissions, scopes
from registry_model.server import access
from registry_model.server.context import registry
from registry_model.server.errors import RegistryError


def _held(account, scope: scopes.Scope) -> frozenset:
    held = permissions.held_actions(account, access.request_grants(account) if account else [],
                                    scope.namespace, scope.repository)
    if permissions.PULL in scope.actions and permissions.PULL not in held:
        ref = registry().model.lookup_repository(scope.namespace, scope.repository)
        if ref is not None and ref.is_public:
            held = held | {permissions.PULL}
    return held & frozenset(scope.actions)


def issue_token() -> Response:
    """GET /token?service=...&scope=...: ``{"token", "access_token", "expires_in",
    "issued_at"}``."""
    authority = access.authority()
    service = request.args.get("service")
    if service is not None and service != authority.service:
        raise RegistryError("DENIED", {"service": service}, status=400,
                            message="unknown service")
    if request.authorization is not None and request.authorization.type != "basic":
        raise RegistryError("UNAUTHORIZED", "the token endpoint takes Basic credentials",
                            headers={"WWW-Authenticate": 'Basic realm="%s"' % authority.service})
    try:
        account = access.basic_account()
    except RegistryError as error:
        error.headers = {"WWW-Authenticate": 'Basic realm="%s"' % authority.service}
        raise
    granted = {}
    for scope in scopes.parse_scopes(request.args.getlist("scope")):
        actions = _held(account, scope)
        if actions:
            granted[scope.name] = granted.get(scope.name, frozenset()) | actions
    token, issued_at = authority.issue(account, granted)
    return jsonify({"token": token, "access_token": token, "expires_in": authority.ttl_s,
                    "issued_at": datetime.fromtimestamp(issued_at, UTC).strftime(
                        "%Y-%m-%dT%H:%M:%SZ")})
