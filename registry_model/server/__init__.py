"""A registry server on the library: the OCI Distribution API v1.1 over HTTP, in Flask.

:func:`create_app` builds the WSGI app on a data model (the interface and datatypes only)
and a blob store; ``registry-model serve`` runs it under gunicorn (:mod:`.serve`). One
module per resource, as Distribution's handlers: :mod:`.uploads`, :mod:`.blobs`,
:mod:`.manifests`, :mod:`.listings` (root, tags, catalog, referrers); the URL map in
:mod:`.routes`, the spec's error codes in :mod:`.errors`, byte streaming in
:mod:`.streaming`, the repair of an upload whose row lags its bytes in
:mod:`.upload_recovery`. Needs the ``server`` extra (Flask, gunicorn).
"""
from registry_model.server.app import create_app

__all__ = ["create_app"]
