"""The API root, the tag list, the catalog and the referrers of a manifest."""
from flask import Response, jsonify, request

from registry_model import validation
from registry_model.media_types import OCI_INDEX_CONTENT_TYPE
from registry_model.server.context import find_repository, registry
from registry_model.server.errors import RegistryError
from registry_model.server.paging import next_link, page_arguments


def api_root() -> Response:
    """GET /v2/: 200 and an empty object; the API is v2 and open (no accounts yet)."""
    response = jsonify({})
    response.headers["Docker-Distribution-API-Version"] = "registry/2.0"
    return response


def _page(items: list, n: int) -> tuple:
    """``(the page, the name to continue after)``: one item more than ``n`` was asked for."""
    if len(items) > n:
        return items[:n], items[n - 1] if n else None
    return items, None


def list_tags(name: str) -> Response:
    """GET tags/list with ``n`` and ``last``: alive tags by name, a Link to the next page."""
    ref = find_repository(name)
    n, last = page_arguments()
    tags = [] if n == 0 else [tag.name for tag in registry().model.lookup_active_repository_tags(
        ref, last=last, limit=n + 1)]
    tags, after = _page(tags, n)
    response = jsonify({"name": name, "tags": tags})
    response.headers.update(next_link("/v2/%s/tags/list" % name, n, after))
    return response


def catalog() -> Response:
    """GET _catalog with ``n`` and ``last``: repository names in order, a Link onwards."""
    n, last = page_arguments()
    names = [] if n == 0 else [ref.full_name for ref in registry().model.list_repositories(
        last=last, limit=n + 1)]
    names, after = _page(names, n)
    response = jsonify({"repositories": names})
    response.headers.update(next_link("/v2/_catalog", n, after))
    return response


def referrers(name: str, digest: str) -> Response:
    """GET referrers/<digest>: an OCI index of the manifests whose subject it is.

    ``?artifactType=`` keeps one artifact type and says so in OCI-Filters-Applied.
    """
    ref = find_repository(name)
    if not validation.is_valid_digest(digest):
        raise RegistryError("DIGEST_INVALID", {"digest": digest})
    artifact_type = request.args.get("artifactType") or None
    found = registry().model.lookup_referrers(ref, digest, artifact_type=artifact_type)
    manifests = []
    for referrer in found:
        descriptor = {"mediaType": referrer.media_type, "digest": referrer.digest,
                      "size": referrer.size}
        if referrer.artifact_type is not None:
            descriptor["artifactType"] = referrer.artifact_type
        if referrer.annotations:
            descriptor["annotations"] = referrer.annotations
        manifests.append(descriptor)
    response = jsonify({"schemaVersion": 2, "mediaType": OCI_INDEX_CONTENT_TYPE,
                        "manifests": manifests})
    response.mimetype = OCI_INDEX_CONTENT_TYPE
    if artifact_type is not None:
        response.headers["OCI-Filters-Applied"] = "artifactType"
    return response
