"""Blobs: HEAD and GET (streamed, with Range) and DELETE (refused: blobs go by collection)."""
from flask import Response, current_app, request

from registry_model.auth.permissions import DELETE
from registry_model.blobstore.base import is_blob_digest
from registry_model.server.context import find_repository, registry
from registry_model.server.errors import RegistryError
from registry_model.server.streaming import blob_response

# The app's extension holding the validity in seconds of blob redirect URLs; absent when
# blobs are served directly.
REDIRECT_EXTENSION = "registry_model.blob_redirect"


def get_blob(name: str, digest: str) -> Response:
    """HEAD/GET: the blob if it is linked to the repository; BLOB_UNKNOWN otherwise.

    On an app with storage redirects a GET (ranged or not) that passed those checks is a
    307 to a URL of the store instead: the client sends its Range there.
    """
    ref = find_repository(name)
    if not is_blob_digest(digest):
        raise RegistryError("DIGEST_INVALID", {"digest": digest})
    model, store = registry()
    if model.get_repo_blob_by_digest(ref, digest) is None:
        raise RegistryError("BLOB_UNKNOWN", {"digest": digest})
    redirect_expiry_s = current_app.extensions.get(REDIRECT_EXTENSION)
    if request.method == "GET" and redirect_expiry_s is not None:
        location = store.redirect_url(digest, redirect_expiry_s)
        if location is not None:
            return blob_redirect(location, digest)
    return blob_response(store, digest, head=request.method == "HEAD")


def blob_redirect(location: str, digest: str) -> Response:
    """307 to the blob's URL in the store, with Docker-Content-Digest as on a direct GET."""
    # no-store: the URL is a credential for its lifetime; no shared cache should keep it.
    return Response(status=307, headers={"Location": location, "Docker-Content-Digest": digest,
                                         "Cache-Control": "no-store"})


def delete_blob(name: str, digest: str) -> Response:
    """DELETE: 405 UNSUPPORTED, as the spec allows.

    A blob belongs to whatever manifests use it; it goes when the collector finds nothing
    referencing it, so deleting the manifests is how a client frees a blob.
    """
    find_repository(name, DELETE)
    raise RegistryError("UNSUPPORTED", "blobs are removed by garbage collection once no "
                        "manifest uses them; delete the manifests instead")
