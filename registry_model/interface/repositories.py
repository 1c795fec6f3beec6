"""Repositories and the namespaces that own them.

Part of :class:`registry_model.interface.RegistryDataInterface`; see that package for what
every method shares (datatypes, budgets, transactions, replicas, stale handles).
"""
from abc import ABC, abstractmethod


class RepositoriesInterface(ABC):
    """Repositories and the namespaces that own them."""

    @abstractmethod
    def lookup_repository(self, namespace_name, repo_name, kind_filter=None):
        """The RepositoryReference of ``namespace_name/repo_name``, or None.

        None also when the repository is of another kind than ``kind_filter``
        or is marked for deletion. Budget: 1 statement.
        """

    @abstractmethod
    def get_repository(self, namespace_name, repo_name):
        """The RepositoryReference of ``namespace_name/repo_name`` in any state, or None.

        Unlike :meth:`lookup_repository`, a repository marked for deletion or of any
        kind is found too (what a collector or an operator needs). Budget: 1 statement.
        """

    @abstractmethod
    def create_repository(self, namespace_name, repo_name, kind_name="image",
                          visibility="private", description=None, create_namespace=False):
        """Create ``namespace_name/repo_name`` and return its RepositoryReference.

        NotFoundException when the namespace does not exist, unless ``create_namespace``
        (then it is created in the same transaction, with the default time-machine
        window); DuplicateException when the repository exists (in any state). Names,
        kinds and visibilities are checked before any write. Of concurrent creations of
        one namespace, both succeed. Budget: 2 statements, 4 with create_namespace.
        """

    @abstractmethod
    def list_repositories(self, namespace_name=None, last=None, limit=100):
        """Up to ``limit`` repositories not marked for deletion, after ``last``, in name order.

        Ordered by namespace name, then repository name (byte order on every backend);
        ``last`` is the ``namespace/name`` of the last one of the previous page (keyset
        paging, as the catalog's ``last``), and ``namespace_name`` keeps one namespace.
        Budget: 1 statement.
        """

    @abstractmethod
    def create_namespace(self, namespace_name, removed_tag_expiration_s=None):
        """Create the namespace and return it as a Namespace.

        ``removed_tag_expiration_s`` is its time-machine window (None: the default, 14
        days): how long an ended tag stays restorable before collection may remove it.
        InvalidNameException for a bad name, InvalidExpirationException for a negative or
        non-integer window, DuplicateException when the name is taken; nothing is written
        then. Budget: 1 statement.
        """

    @abstractmethod
    def get_namespace(self, namespace_name):
        """The Namespace of that name, or None (also for a name that cannot exist).

        Budget: 1 statement, 0 for an invalid name.
        """

    @abstractmethod
    def set_namespace_tag_expiration(self, namespace_name, removed_tag_expiration_s):
        """Set the namespace's time-machine window, in seconds; the updated Namespace.

        Ended tags older than the window become collectable at once (0: as soon as they
        end). NotFoundException when the namespace does not exist, InvalidExpirationException
        for a negative or non-integer window; nothing is written then. Budget: 2 statements.
        """
