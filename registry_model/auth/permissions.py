"""What a caller may do on a repository: the rule, as plain functions of names and grants.

- the owner of a namespace (the account of that name) may pull, push and delete in it;
- a ``push`` grant on a namespace or repository gives pull, push and delete there;
- a ``pull`` grant gives pull;
- a public repository gives pull to anyone, anonymous callers included.

Nothing here reads the database: callers pass the account's grants (one query, see
:func:`registry_model.auth.grants.grants_of`) and the repository's visibility.
"""
from typing import FrozenSet, Iterable, NamedTuple, Optional

PULL, PUSH, DELETE = "pull", "push", "delete"
ACTIONS = (PULL, PUSH, DELETE)
GRANTABLE = (PULL, PUSH)
_GIVES = {PULL: frozenset({PULL}), PUSH: frozenset({PULL, PUSH, DELETE})}


class Grant(NamedTuple):
    """One right of an account: ``action`` (pull or push) on ``namespace`` or, when
    ``repository`` is not None, on that repository only."""

    namespace: str
    repository: Optional[str]
    action: str

    def covers(self, namespace: str, repository: str) -> bool:
        """True when the grant applies to ``namespace/repository``."""
        return self.namespace == namespace and self.repository in (None, repository)


def held_actions(account: Optional[str], grants: Iterable[Grant], namespace: str,
                 repository: str, is_public: bool = False) -> FrozenSet[str]:
    """The actions ``account`` (None: anonymous) holds on ``namespace/repository``."""
    if account is not None and account == namespace:
        return frozenset(ACTIONS)
    held = set()
    for grant in grants:
        if grant.covers(namespace, repository):
            held |= _GIVES[grant.action]
    if is_public:
        held.add(PULL)
    return frozenset(held)
