"""Repositories: creation, lookup by ``namespace/name`` and state changes."""
import logging
from typing import Optional

from peewee import IntegrityError

from registry_model import errors, validation
from registry_model.model import lookup
from registry_model.model.tables import Namespace, Repository, RepositoryState
from registry_model.statements import Statement, param
from registry_model.transactions import transaction

logger = logging.getLogger(__name__)


def _state(state: object) -> RepositoryState:
    try:
        return RepositoryState(state)
    except ValueError:
        raise errors.DataModelException("unknown repository state %r" % (state,)) from None


def create_repository(namespace_name: str, name: str, kind_name: str = "image",
                      visibility: str = "private", description: Optional[str] = None,
                      state: RepositoryState = RepositoryState.NORMAL) -> Repository:
    """Create ``namespace_name/name``; NotFoundException if the namespace is missing.

    DuplicateException when the repository exists already; unknown kinds and
    visibilities raise before anything is written.
    """
    validation.check_namespace_name(namespace_name)
    validation.check_repository_name(name)
    kind = lookup.kind_id(kind_name)
    visibility_id = lookup.visibility_id(visibility)
    state = _state(state)
    with transaction():
        namespace = Namespace.get_or_none(Namespace.name == namespace_name)
        if namespace is None:
            raise errors.NotFoundException("namespace %r does not exist" % namespace_name)
        try:
            with transaction():
                return Repository.create(namespace=namespace, name=name, kind=kind,
                                         visibility=visibility_id, description=description,
                                         state=state)
        except IntegrityError as exc:
            raise errors.DuplicateException(
                "repository %s/%s already exists" % (namespace_name, name)) from exc


def get_repository(namespace_name: str, name: str) -> Optional[Repository]:
    """The repository row (with its namespace joined) in any state, or None."""
    if not (validation.is_valid_namespace_name(namespace_name)
            and validation.is_valid_repository_name(name)):
        return None
    return (Repository.select(Repository, Namespace)
            .join(Namespace)
            .where(Namespace.name == namespace_name, Repository.name == name)
            .get_or_none())


def _visible_repository(of_kind: bool):
    query = (Repository.select(Repository.id, Repository.name, Repository.kind,
                               Repository.visibility, Repository.state,
                               Namespace.name.alias("namespace_name"))
             .join(Namespace)
             .where(Namespace.name == param("namespace_name"),
                    Repository.name == param("name"),
                    Repository.state != RepositoryState.MARKED_FOR_DELETION))
    return query.where(Repository.kind == param("kind_id")) if of_kind else query


_VISIBLE_REPOSITORY = Statement(_visible_repository)


def lookup_visible_repository(namespace_name: str, name: str,
                              kind_id: Optional[int] = None) -> Optional[tuple]:
    """The repository unless it is marked for deletion (or of another kind): one query.

    A flat row: id, name, kind_id, visibility_id, state and ``namespace_name``.
    """
    return _VISIBLE_REPOSITORY.first((kind_id is not None,), namespace_name=namespace_name,
                                     name=name, kind_id=kind_id)


def list_repositories(namespace_name: Optional[str] = None) -> list:
    """Every repository not marked for deletion, optionally of one namespace, by name."""
    query = (Repository.select(Repository, Namespace)
             .join(Namespace)
             .where(Repository.state != RepositoryState.MARKED_FOR_DELETION)
             .order_by(Namespace.name, Repository.name))
    if namespace_name is not None:
        query = query.where(Namespace.name == namespace_name)
    return list(query)


def set_repository_state(repository: Repository, state: RepositoryState) -> Repository:
    """Change the state of a repository (READ_ONLY, MIRROR, MARKED_FOR_DELETION, ...)."""
    state = _state(state)
    with transaction():
        updated = (Repository.update(state=state)
                   .where(Repository.id == repository.id).execute())
    if not updated:
        raise errors.NotFoundException("repository %s no longer exists" % repository.id)
    repository.state = state
    return repository
