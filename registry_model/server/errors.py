"""The Distribution API's errors: one table of codes, one exception, JSON bodies.

Every failure a handler reports is a :class:`RegistryError` naming a code of
:data:`CODES`; the app turns it into the spec's body
``{"errors": [{"code": ..., "message": ..., "detail": ...}]}`` with the code's status.
Anything else that escapes a handler becomes a JSON 500 (logged, never a traceback in
the body), and Werkzeug's own HTTP errors (an unknown route, a method a route lacks, a
body cut off) get JSON bodies too.
"""
import logging
from typing import Any, Optional

from flask import Flask, Response, jsonify
from werkzeug.exceptions import ClientDisconnected, HTTPException, RequestEntityTooLarge

from registry_model import errors

logger = logging.getLogger(__name__)

# code: (HTTP status, the spec's message)
CODES = {
    "BLOB_UNKNOWN": (404, "blob unknown to registry"),
    "BLOB_UPLOAD_INVALID": (400, "blob upload invalid"),
    "BLOB_UPLOAD_UNKNOWN": (404, "blob upload unknown to registry"),
    "DIGEST_INVALID": (400, "provided digest did not match uploaded content"),
    "MANIFEST_BLOB_UNKNOWN": (400, "manifest references a manifest or blob unknown to registry"),
    "MANIFEST_INVALID": (400, "manifest invalid"),
    "MANIFEST_UNKNOWN": (404, "manifest unknown to registry"),
    "NAME_INVALID": (400, "invalid repository name"),
    "NAME_UNKNOWN": (404, "repository name not known to registry"),
    "SIZE_INVALID": (400, "provided length did not match content length"),
    "UNAUTHORIZED": (401, "authentication required"),
    "DENIED": (403, "requested access to the resource is denied"),
    "UNSUPPORTED": (405, "the operation is unsupported"),
    "TOOMANYREQUESTS": (429, "too many requests"),
    # Not in the spec's table, but what a client must see when the database is down.
    "UNAVAILABLE": (503, "service unavailable"),
    "UNKNOWN": (500, "unknown error"),
}


class RegistryError(Exception):
    """A spec error to answer with: its ``code`` (a key of CODES), a detail, extra headers.

    ``status`` overrides the code's usual status where the spec asks for another one
    (416 for an out-of-order chunk, 413 for an oversized manifest).
    """

    def __init__(self, code: str, detail: Any = None, status: Optional[int] = None,
                 headers: Optional[dict] = None, message: Optional[str] = None) -> None:
        """An error of that code; unknown codes are a programming error (KeyError)."""
        default_status, default_message = CODES[code]
        super().__init__("%s: %s" % (code, detail if detail is not None else default_message))
        self.code = code
        self.detail = detail
        self.status = status or default_status
        self.headers = headers or {}
        self.message = message or default_message


def error_response(error: RegistryError) -> Response:
    """The spec's JSON body for ``error`` with its status and headers."""
    entry = {"code": error.code, "message": error.message}
    if error.detail is not None:
        entry["detail"] = error.detail
    response = jsonify({"errors": [entry]})
    response.status_code = error.status
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def _http_error(exc: HTTPException) -> Response:
    if isinstance(exc, ClientDisconnected):
        # The body ended before its Content-Length: the chunk was rolled back.
        return error_response(RegistryError("SIZE_INVALID", "request body cut off"))
    if isinstance(exc, RequestEntityTooLarge):
        return error_response(RegistryError("SIZE_INVALID", "request body too large",
                                            status=413))
    code = {404: "NAME_UNKNOWN", 405: "UNSUPPORTED"}.get(exc.code, None)
    if code is None:
        code = "UNSUPPORTED" if exc.code and exc.code < 500 else "UNKNOWN"
    return error_response(RegistryError(code, exc.description, status=exc.code))


# Seconds a client is asked to wait: a database that cannot be reached is a restart or a
# failover, longer than a write that lost a race.
DATABASE_RETRY_AFTER_S = 5


def _unavailable(exc: errors.DatabaseUnavailableException) -> Response:
    logger.warning("database unavailable: %s", exc)
    return error_response(RegistryError("UNAVAILABLE", "the database cannot be reached",
                                        headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)}))


def _lost_race(exc: errors.ConcurrentWriteException) -> Response:
    # Writes are retried in the model; one that kept losing is worth a retry by the client.
    logger.warning("write kept losing races: %s", exc)
    return error_response(RegistryError("UNAVAILABLE", "concurrent writes; retry",
                                        headers={"Retry-After": "1"}))


def _unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    logger.exception("unexpected error serving a request")
    return error_response(RegistryError("UNKNOWN", "internal error"))


def register_error_handlers(app: Flask) -> None:
    """Answer every error of ``app`` with a spec JSON body."""
    app.register_error_handler(RegistryError, error_response)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(errors.DatabaseUnavailableException, _unavailable)
    app.register_error_handler(errors.ConcurrentWriteException, _lost_race)
    app.register_error_handler(Exception, _unexpected)
