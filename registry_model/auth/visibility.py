"""Repository visibility: public repositories pull for anyone, private ones for their holders.

Repositories are created private; ``repository.visibility`` is the shared column the
interface already reports as :attr:`RepositoryReference.is_public`.
"""
from registry_model import errors, validation
from registry_model.model import lookup
from registry_model.model.tables import Namespace, Repository
from registry_model.transactions import transaction


def set_visibility(namespace: str, repository: str, public: bool) -> None:
    """Make ``namespace/repository`` public or private; NotFoundException when it is missing."""
    if not (validation.is_valid_namespace_name(namespace)
            and validation.is_valid_repository_name(repository)):
        raise errors.InvalidNameException("repository names are NS/REPO, each %s"
                                          % validation.NAME_RULE)
    visibility = lookup.visibility_id("public" if public else "private")
    owner = Namespace.select(Namespace.id).where(Namespace.name == namespace)
    with transaction():
        changed = (Repository.update(visibility=visibility)
                   .where((Repository.namespace.in_(owner)) & (Repository.name == repository))
                   .execute())
    if not changed:
        # MySQL counts only changed rows: an unchanged repository is not a missing one.
        exists = (Repository.select().join(Namespace)
                  .where((Namespace.name == namespace) & (Repository.name == repository))
                  .exists())
        if not exists:
            raise errors.NotFoundException("repository %s/%s not found"
                                           % (namespace, repository))
