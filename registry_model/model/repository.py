"""Repositories: creation, lookup by ``namespace/name`` and state changes."""
import logging
from typing import Optional

from peewee import IntegrityError, Tuple

from registry_model import errors, validation
from registry_model.model import lookup
from registry_model.model import namespace as namespace_model
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
                      state: RepositoryState = RepositoryState.NORMAL,
                      create_namespace: bool = False) -> Repository:
    """Create ``namespace_name/name`` in one transaction; the row, its namespace loaded.

    NotFoundException if the namespace is missing, unless ``create_namespace`` (then it
    is created too, or found when a concurrent writer just created it). DuplicateException
    when the repository exists already; bad names, unknown kinds and visibilities raise
    before anything is written. Two statements, four with a namespace to create.
    """
    validation.check_namespace_name(namespace_name)
    validation.check_repository_name(name)
    kind = lookup.kind_id(kind_name)
    visibility_id = lookup.visibility_id(visibility)
    state = _state(state)
    with transaction():
        namespace = Namespace.get_or_none(Namespace.name == namespace_name)
        if namespace is None:
            if not create_namespace:
                raise errors.NotFoundException("namespace %r does not exist" % namespace_name)
            namespace = namespace_model.create_or_get_namespace(namespace_name)
        try:
            with transaction():
                row = Repository.create(namespace=namespace, name=name, kind=kind,
                                        visibility=visibility_id, description=description,
                                        state=state)
        except IntegrityError as exc:
            raise errors.DuplicateException(
                "repository %s/%s already exists" % (namespace_name, name)) from exc
    row.namespace = namespace
    return row


def _named_repository(visible_only: bool, of_kind: bool):
    query = (Repository.select(Repository.id, Repository.name, Repository.kind,
                               Repository.visibility, Repository.state,
                               Namespace.name.alias("namespace_name"))
             .join(Namespace)
             .where(Namespace.name == param("namespace_name"),
                    Repository.name == param("name")))
    if visible_only:
        query = query.where(Repository.state != RepositoryState.MARKED_FOR_DELETION)
    return query.where(Repository.kind == param("kind_id")) if of_kind else query


_NAMED_REPOSITORY = Statement(_named_repository)


def find_repository(namespace_name: str, name: str) -> Optional[tuple]:
    """The repository in any state and of any kind as a flat row, or None: one query.

    The row of :func:`lookup_visible_repository`, precompiled; no query for names that
    cannot exist.
    """
    if not (validation.is_valid_namespace_name(namespace_name)
            and validation.is_valid_repository_name(name)):
        return None
    return _NAMED_REPOSITORY.first((False, False), namespace_name=namespace_name, name=name)


def lookup_visible_repository(namespace_name: str, name: str,
                              kind_id: Optional[int] = None) -> Optional[tuple]:
    """The repository unless it is marked for deletion (or of another kind): one query.

    A flat row: id, name, kind_id, visibility_id, state and ``namespace_name``.
    """
    return _NAMED_REPOSITORY.first((True, kind_id is not None),
                                   namespace_name=namespace_name, name=name, kind_id=kind_id)


def _repository_page(in_namespace: bool, after: bool):
    query = (Repository.select(Repository.id, Repository.name, Repository.kind,
                               Repository.visibility, Repository.state,
                               Namespace.name.alias("namespace_name"))
             .join(Namespace)
             .where(Repository.state != RepositoryState.MARKED_FOR_DELETION)
             .order_by(Namespace.name, Repository.name)
             .limit(param("limit")))
    if in_namespace:
        query = query.where(Namespace.name == param("namespace_name"))
    if after:
        query = query.where(Tuple(Namespace.name, Repository.name)
                            > Tuple(param("last_namespace"), param("last_name")))
    return query


_REPOSITORY_PAGE = Statement(_repository_page)


def list_repositories_page(namespace_name: Optional[str] = None, last: Optional[str] = None,
                           limit: int = 100) -> list:
    """Up to ``limit`` repositories not marked for deletion after ``last``, by name: one query.

    Ordered by namespace name then repository name; ``last`` is ``namespace/name`` of the
    previous page's last repository. Flat rows as :func:`lookup_visible_repository` gives.
    DataModelException for a limit that is not a positive integer.
    """
    validation.check_count("limit", limit, 1)
    last_namespace, _, last_name = (last or "").partition("/")
    return _REPOSITORY_PAGE.rows((namespace_name is not None, last is not None),
                                 namespace_name=namespace_name, last_namespace=last_namespace,
                                 last_name=last_name, limit=limit)


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
