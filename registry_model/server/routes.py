"""The URL map of the Distribution API: every route and the handler serving it, in one place.

``<path:name>`` takes a repository name with its slash; the fixed segments after it
(``blobs``, ``manifests``, ``tags/list``, ``referrers``) decide the route.
"""
from flask import Blueprint

from registry_model.server import blobs, listings, manifests, uploads

blueprint = Blueprint("registry", __name__, url_prefix="/v2")

_ROUTES = [
    ("/", listings.api_root, ["GET"]),
    ("/_catalog", listings.catalog, ["GET"]),
    ("/<path:name>/tags/list", listings.list_tags, ["GET"]),
    ("/<path:name>/referrers/<digest>", listings.referrers, ["GET"]),
    ("/<path:name>/manifests/<reference>", manifests.get_manifest, ["GET", "HEAD"]),
    ("/<path:name>/manifests/<reference>", manifests.put_manifest, ["PUT"]),
    ("/<path:name>/manifests/<reference>", manifests.delete_manifest, ["DELETE"]),
    ("/<path:name>/blobs/uploads/", uploads.start_upload, ["POST"]),
    ("/<path:name>/blobs/uploads/<upload_id>", uploads.upload_chunk, ["PATCH"]),
    ("/<path:name>/blobs/uploads/<upload_id>", uploads.finish_upload, ["PUT"]),
    ("/<path:name>/blobs/uploads/<upload_id>", uploads.upload_status, ["GET"]),
    ("/<path:name>/blobs/uploads/<upload_id>", uploads.cancel_upload, ["DELETE"]),
    ("/<path:name>/blobs/<digest>", blobs.get_blob, ["GET", "HEAD"]),
    ("/<path:name>/blobs/<digest>", blobs.delete_blob, ["DELETE"]),
]

for _rule, _view, _methods in _ROUTES:
    blueprint.add_url_rule(_rule, "%s_%s" % (_view.__module__.rsplit(".", 1)[1],
                                             _view.__name__),
                           _view, methods=_methods, strict_slashes=False)
