"""Blobs: HEAD and GET (streamed, with Range) and DELETE (refused: blobs go by collection)."""
from flask import Response, request

from registry_model.blobstore.base import is_blob_digest
from registry_model.server.context import find_repository, registry
from registry_model.server.errors import RegistryError
from registry_model.server.streaming import blob_response


def get_blob(name: str, digest: str) -> Response:
    """HEAD/GET: the blob if it is linked to the repository; BLOB_UNKNOWN otherwise."""
    ref = find_repository(name)
    if not is_blob_digest(digest):
        raise RegistryError("DIGEST_INVALID", {"digest": digest})
    model, store = registry()
    if model.get_repo_blob_by_digest(ref, digest) is None:
        raise RegistryError("BLOB_UNKNOWN", {"digest": digest})
    return blob_response(store, digest, head=request.method == "HEAD")


def delete_blob(name: str, digest: str) -> Response:
    """DELETE: 405 UNSUPPORTED, as the spec allows.

    A blob belongs to whatever manifests use it; it goes when the collector finds nothing
    referencing it, so deleting the manifests is how a client frees a blob.
    """
    find_repository(name)
    raise RegistryError("UNSUPPORTED", "blobs are removed by garbage collection once no "
                        "manifest uses them; delete the manifests instead")
