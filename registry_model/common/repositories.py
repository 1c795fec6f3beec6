"""Repositories and namespaces, written once for every implementation of the interface.

They live in the tables every wing shares (:mod:`registry_model.model.tables`), so the
pre-OCI and OCI models answer these methods with the same statements.
"""
import logging
from typing import Optional

from registry_model import errors, validation
from registry_model.datatypes import Namespace, RepositoryReference
from registry_model.model import lookup
from registry_model.model import namespace as namespace_model
from registry_model.model import repository as repository_model
from registry_model.model.tables import DEFAULT_TAG_EXPIRATION_S
from registry_model.replicas import stale_ok

logger = logging.getLogger(__name__)


def _reference(row) -> RepositoryReference:
    """A RepositoryReference from a flat repository row with ``namespace_name``."""
    return RepositoryReference.for_repo_obj(row, row.namespace_name,
                                            lookup.kind_name(row.kind_id),
                                            lookup.is_public(row.visibility_id))


class RepositoriesMixin:
    """lookup_repository, get/create/list repositories and the namespace methods."""

    @stale_ok(confirm_miss=True)
    def lookup_repository(self, namespace_name: str, repo_name: str,
                          kind_filter: Optional[str] = None) -> Optional[RepositoryReference]:
        """The repository; None if absent, of another kind or being deleted."""
        kind_id = lookup.kind_id(kind_filter) if kind_filter is not None else None
        if not (validation.is_valid_namespace_name(namespace_name)
                and validation.is_valid_repository_name(repo_name)):
            return None
        row = repository_model.lookup_visible_repository(namespace_name, repo_name, kind_id)
        return _reference(row) if row is not None else None

    def get_repository(self, namespace_name: str,
                       repo_name: str) -> Optional[RepositoryReference]:
        """The repository in any state and of any kind, or None."""
        row = repository_model.find_repository(namespace_name, repo_name)
        return _reference(row) if row is not None else None

    def create_repository(self, namespace_name: str, repo_name: str, kind_name: str = "image",
                          visibility: str = "private", description: Optional[str] = None,
                          create_namespace: bool = False) -> RepositoryReference:
        """Create the repository (and its namespace when asked) in one transaction."""
        row = repository_model.create_repository(namespace_name, repo_name, kind_name,
                                                 visibility, description,
                                                 create_namespace=create_namespace)
        logger.info("created repository %s/%s", namespace_name, repo_name)
        return RepositoryReference.for_repo_obj(row, namespace_name, kind_name,
                                                visibility == "public")

    @stale_ok
    def list_repositories(self, namespace_name: Optional[str] = None,
                          last: Optional[str] = None, limit: int = 100) -> list:
        """A keyset page of the repositories not marked for deletion, by name."""
        return [_reference(row) for row in
                repository_model.list_repositories_page(namespace_name, last, limit)]

    def create_namespace(self, namespace_name: str,
                         removed_tag_expiration_s: Optional[int] = None) -> Namespace:
        """Create a namespace with its time-machine window."""
        window = (DEFAULT_TAG_EXPIRATION_S if removed_tag_expiration_s is None
                  else removed_tag_expiration_s)
        return Namespace.for_namespace_row(namespace_model.create_namespace(namespace_name,
                                                                            window))

    @stale_ok(confirm_miss=True)
    def get_namespace(self, namespace_name: str) -> Optional[Namespace]:
        """The namespace, or None."""
        row = namespace_model.find_namespace(namespace_name)
        return Namespace.for_namespace_row(row) if row is not None else None

    def set_namespace_tag_expiration(self, namespace_name: str,
                                     removed_tag_expiration_s: int) -> Namespace:
        """Change the namespace's time-machine window."""
        row = namespace_model.set_tag_expiration(namespace_name, removed_tag_expiration_s)
        if row is None:
            raise errors.NotFoundException("namespace %r does not exist" % namespace_name)
        return Namespace.for_namespace_row(row)
