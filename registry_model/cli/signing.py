"""Where the command line keeps the key that signs imported schema 1 manifests.

The key is a secret of the registry, not a blob: it lives outside the blob store, where
neither the collector's orphan sweep nor an object store holding the blobs sees it. By
default it is ``signing-key.json`` in the working folder, beside the default database
``registry.db`` and blob store ``blobs/`` (``$REGISTRY_MODEL_SIGNING_KEY`` or
``--signing-key`` name another file). Versions before this one kept it at
``<storage>/signing-key.json``; a key found there is moved to the default path the first
time it is needed, so that manifests imported later keep the same signer.
"""
import logging
import os
import shutil
from typing import Optional

import click

from registry_model.images import SIGNING_KEY_FILE

logger = logging.getLogger(__name__)

SIGNING_KEY_VARIABLE = "REGISTRY_MODEL_SIGNING_KEY"
DEFAULT_SIGNING_KEY = SIGNING_KEY_FILE


def is_inside(path: str, folder: str) -> bool:
    """True when ``path`` lies in ``folder`` (or is it), links resolved."""
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return os.path.commonpath([path, folder]) == folder


def check_outside_storage(key_path: str, storage: str) -> None:
    """A click error when ``key_path`` lies inside the blob store folder ``storage``."""
    if is_inside(key_path, storage):
        raise click.ClickException(
            "signing key %s lies inside the blob store %s: keep it outside (the default is "
            "./%s)" % (key_path, storage, DEFAULT_SIGNING_KEY))


def legacy_key_path(storage: str) -> str:
    """Where versions before this one kept the key: inside the blob store."""
    return os.path.join(storage, SIGNING_KEY_FILE)


def adopt_legacy_key(storage: str, key_path: str) -> Optional[str]:
    """Move a key from the blob store to ``key_path`` when none is there yet.

    Returns the old path when a key was moved (the move is logged), else None. A key at
    ``key_path`` wins: an old one beside it is left alone, with a warning.
    """
    old = legacy_key_path(storage)
    if not os.path.isfile(old):
        return None
    if os.path.exists(key_path):
        logger.warning("signing key %s is used; the old key %s in the blob store is not",
                       key_path, old)
        return None
    folder = os.path.dirname(os.path.abspath(key_path))
    os.makedirs(folder, exist_ok=True)
    shutil.move(old, key_path)  # a rename on one file system; keeps the 0600 mode
    logger.info("moved signing key %s out of the blob store to %s", old, key_path)
    return old
