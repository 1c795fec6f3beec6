"""What every handler needs: the data model, the blob store, and repository resolution.

The app keeps one :class:`Registry` in ``app.extensions``; handlers reach it through
:func:`registry`. A repository name in a URL is ``<namespace>/<repository>``, two
components of the library's name grammar; anything else is NAME_INVALID.
"""
from typing import NamedTuple

from flask import current_app

from registry_model import errors, validation
from registry_model.blobstore import BlobStore
from registry_model.datatypes import RepositoryReference
from registry_model.interface import RegistryDataInterface
from registry_model.server.errors import RegistryError

EXTENSION = "registry_model"


class Registry(NamedTuple):
    """The app's data model (an interface implementation) and blob store."""

    model: RegistryDataInterface
    store: BlobStore


def registry() -> Registry:
    """The Registry of the app serving the current request."""
    return current_app.extensions[EXTENSION]


def split_name(name: str) -> tuple:
    """``(namespace, repository)`` of a URL's repository name; NAME_INVALID otherwise."""
    parts = name.split("/")
    if (len(parts) != 2 or not validation.is_valid_namespace_name(parts[0])
            or not validation.is_valid_repository_name(parts[1])):
        raise RegistryError("NAME_INVALID", "repository names are <namespace>/<name>, each %s"
                            % validation.NAME_RULE)
    return parts[0], parts[1]


def find_repository(name: str) -> RepositoryReference:
    """The repository named in the URL; NAME_INVALID or NAME_UNKNOWN when there is none."""
    namespace, repo = split_name(name)
    ref = registry().model.lookup_repository(namespace, repo)
    if ref is None:
        raise RegistryError("NAME_UNKNOWN", {"name": name})
    return ref


def find_or_create_repository(name: str) -> RepositoryReference:
    """The repository named in the URL, created with its namespace on a first push.

    Accounts come later: until then every caller may push, so every push creates. Of two
    concurrent first pushes both succeed (the loser of the create finds the winner's).
    """
    namespace, repo = split_name(name)
    model = registry().model
    ref = model.lookup_repository(namespace, repo)
    if ref is not None:
        return ref
    try:
        return model.create_repository(namespace, repo, create_namespace=True)
    except errors.DuplicateException:
        ref = model.lookup_repository(namespace, repo)
        if ref is None:  # taken by a repository marked for deletion
            raise RegistryError("DENIED", "repository %s is being deleted" % name) from None
        return ref
