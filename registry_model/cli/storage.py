"""The ``--storage`` value of every command: a folder, a ``file://`` or an ``s3://`` URI.

:func:`open_store` turns it into a blob store (see :mod:`registry_model.blobstore.uri`)
and any failure to use it (an unknown scheme, a missing bucket, refused credentials, an
endpoint that does not answer) into one line on stderr, never a traceback.
"""
import os

import click

from registry_model import errors
from registry_model.blobstore import BlobStore
from registry_model.blobstore import uri as store_uri


def is_folder(storage: str) -> bool:
    """True when ``storage`` names a local folder (a path, not a URI of a remote store)."""
    return store_uri.folder_of(storage) is not None


def open_store(storage: str, must_exist: bool = False) -> BlobStore:
    """The blob store ``storage`` names; with ``must_exist`` a missing folder is an error."""
    folder = store_uri.folder_of(storage)
    if must_exist and folder is not None and not os.path.isdir(folder):
        raise click.ClickException("blob store %s does not exist" % storage)
    try:
        return store_uri.open_store(storage)
    except errors.DataModelException as exc:
        raise click.ClickException(str(exc)) from exc
