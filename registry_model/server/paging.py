"""The ``n`` and ``last`` of the tag list and the catalog, and the Link to the next page."""
from typing import Optional
from urllib.parse import urlencode

from flask import request

from registry_model.server.errors import RegistryError

# A page without ``n`` (or with a larger one) holds at most this many entries; a Link
# header then leads on, as the spec allows.
MAX_PAGE_SIZE = 1000


def page_arguments() -> tuple:
    """``(n, last)`` from the query string; n defaults to MAX_PAGE_SIZE and is capped by it.

    A negative or non-numeric ``n`` is a bad request (PAGINATION_NUMBER_INVALID has no
    code in v1.1, so UNSUPPORTED with a detail).
    """
    text = request.args.get("n")
    last = request.args.get("last") or None
    if text is None or text == "":
        return MAX_PAGE_SIZE, last
    if not text.isascii() or not text.isdigit():
        raise RegistryError("UNSUPPORTED", {"n": text}, status=400,
                            message="n must be a non-negative integer")
    return min(int(text), MAX_PAGE_SIZE), last


def next_link(path: str, n: int, last: Optional[str]) -> dict:
    """The ``Link`` header of the page after ``last`` (none when there is no next page)."""
    if last is None:
        return {}
    return {"Link": '<%s?%s>; rel="next"' % (path, urlencode({"n": n, "last": last}))}
