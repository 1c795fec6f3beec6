"""What every handler needs: the data model, the blob store, and repository resolution.

The app keeps one :class:`Registry` in ``app.extensions``; handlers reach it through
:func:`registry`. A repository name in a URL is ``<namespace>/<repository>``, two
components of the library's name grammar; anything else is NAME_INVALID.
"""
from typing import NamedTuple, Optional

from flask import current_app

from registry_model import errors, validation
from registry_model.auth.permissions import PULL, PUSH
from registry_model.blobstore import BlobStore
from registry_model.datatypes import RepositoryReference
from registry_model.interface import RegistryDataInterface
from registry_model.server import access
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


def find_repository(name: str, action: str = PULL) -> RepositoryReference:
    """The repository named in the URL, for a caller that may do ``action`` on it.

    NAME_INVALID for a bad name; the caller's refusal (401 or 403) when it lacks the
    action, whether or not the repository exists, so a refusal tells nothing of what is
    stored; NAME_UNKNOWN for a caller who holds the action on a missing repository. A
    public repository pulls for anyone.
    """
    namespace, repo = split_name(name)
    allowed = access.holds(namespace, repo, action)
    ref = registry().model.lookup_repository(namespace, repo)
    if not allowed and not (action == PULL and ref is not None and ref.is_public):
        raise access.refusal(namespace, repo, action)
    if ref is None:
        raise RegistryError("NAME_UNKNOWN", {"name": name})
    return ref


def require(name: str, action: str, also: Optional[str] = None) -> None:
    """Refuse (401 or 403) a caller lacking ``action`` on the named repository, before a
    handler reads the request's body; NAME_INVALID for a bad name. ``also``: another scope
    for the challenge."""
    namespace, repo = split_name(name)
    if not access.holds(namespace, repo, action):
        raise access.refusal(namespace, repo, action, also)


def find_or_create_repository(name: str) -> RepositoryReference:
    """The repository named in the URL, created with its namespace on a first push.

    The caller must hold push there (owner or grant) before anything is read or created.
    Of two concurrent first pushes both succeed (the loser of the create finds the winner's).
    """
    require(name, PUSH)
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
