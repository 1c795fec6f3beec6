"""The app factory: a Flask app serving the OCI Distribution API on a data model and store.

::

    from registry_model import oci_model
    from registry_model.blobstore import FilesystemBlobStore
    from registry_model.server import create_app

    app = create_app(oci_model, FilesystemBlobStore("/var/lib/registry"))

A web app can mount the returned app, or register :data:`routes.blueprint` on its own
app with a :class:`~registry_model.server.context.Registry` in its extensions (and, to
redirect blob downloads, the URLs' validity under :data:`.blobs.REDIRECT_EXTENSION`).
"""
import logging
from typing import Optional

from flask import Flask

from registry_model.auth.tokens import TokenAuthority, load_or_create_key
from registry_model.blobstore import BlobStore
from registry_model.blobstore.base import DEFAULT_REDIRECT_EXPIRY_S, check_redirect_expiry
from registry_model.blobstore.uri import open_store
from registry_model.errors import StorageConfigurationException
from registry_model.interface import RegistryDataInterface
from registry_model.server.access import AUTH_EXTENSION, TOKEN_PATH
from registry_model.server.blobs import REDIRECT_EXTENSION
from registry_model.server.context import EXTENSION, Registry
from registry_model.server.errors import register_error_handlers
from registry_model.server.routes import blueprint
from registry_model.server.token import issue_token

logger = logging.getLogger(__name__)

# The service name tokens are issued for (their issuer and audience) unless told another.
DEFAULT_SERVICE = "registry-model"


def create_app(model: Optional[RegistryDataInterface] = None, store: Optional[BlobStore] = None,
               database_uri: Optional[str] = None, storage_path: Optional[str] = None,
               auth: Optional[TokenAuthority] = None, token_key_path: Optional[str] = None,
               service: str = DEFAULT_SERVICE, storage_redirect: bool = False,
               redirect_expiry_s: int = DEFAULT_REDIRECT_EXPIRY_S) -> Flask:
    """A Flask app serving the Distribution API v1.1 under ``/v2/``.

    With ``auth`` (or ``token_key_path``, the file of the token signing key, created when
    missing, and ``service``) every request is checked against the accounts
    (:mod:`.access`) and ``GET /token`` issues tokens; without, the API is open.

    ``model`` defaults to :data:`registry_model.oci_model`; ``store`` to the one
    ``storage_path`` names: a folder or a ``file://`` or ``s3://`` URI
    (:func:`registry_model.blobstore.uri.open_store`). With ``database_uri`` the library is
    bound to that database first (what each server worker process does); without it the
    caller has bound it already (tests, an embedding app).

    With ``storage_redirect`` a blob GET that passes the checks (access, the blob linked to
    the repository) answers 307 to a URL of the store valid ``redirect_expiry_s`` seconds,
    so the bytes do not pass through this process; HEAD still answers here. A store that
    cannot redirect (a folder) raises StorageConfigurationException, and an expiry outside
    1 s to 7 days ValueError.
    """
    if database_uri is not None:
        from registry_model.database import configure
        configure(database_uri)
    if model is None:
        from registry_model import oci_model as model
    if store is None:
        if storage_path is None:
            raise ValueError("create_app needs a blob store or a storage path")
        store = open_store(storage_path)
    app = Flask(__name__)
    app.extensions[EXTENSION] = Registry(model, store)
    if storage_redirect:
        app.extensions[REDIRECT_EXTENSION] = _redirect_expiry(store, redirect_expiry_s)
    register_error_handlers(app)
    if auth is None and token_key_path is not None:
        auth = TokenAuthority(load_or_create_key(token_key_path), service)
    if auth is not None:
        app.extensions[AUTH_EXTENSION] = auth
        app.add_url_rule(TOKEN_PATH, "token", issue_token, methods=["GET"])
    app.register_blueprint(blueprint)
    return app


def _redirect_expiry(store: BlobStore, expires_s: int) -> int:
    if not store.can_redirect:
        raise StorageConfigurationException(
            "%r cannot redirect blob downloads: use an s3:// storage or serve without "
            "storage redirects" % (store,))
    return check_redirect_expiry(expires_s)
