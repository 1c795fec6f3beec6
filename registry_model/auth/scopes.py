"""Docker token scopes: ``repository:NS/REPO:pull,push``, read from a token request and
written into a challenge.

A scope whose name is not ``namespace/repository`` in the library's grammar (upper case,
``..``, an encoded slash, a third component) is dropped: it names nothing that exists, so
it is granted nothing.
"""
from typing import Iterable, List, NamedTuple, Tuple

from registry_model import validation
from registry_model.auth.permissions import ACTIONS, PULL, PUSH

ALL = "*"


class Scope(NamedTuple):
    """A request for ``actions`` on repository ``namespace/repository``."""

    namespace: str
    repository: str
    actions: Tuple[str, ...]

    @property
    def name(self) -> str:
        """``namespace/repository``."""
        return "%s/%s" % (self.namespace, self.repository)


def split_repository_name(name: str):
    """``(namespace, repository)`` of a valid ``ns/repo`` name, else None."""
    parts = name.split("/")
    if (len(parts) == 2 and validation.is_valid_namespace_name(parts[0])
            and validation.is_valid_repository_name(parts[1])):
        return parts[0], parts[1]
    return None


def parse_scopes(values: Iterable[str]) -> List[Scope]:
    """The repository scopes of ``scope`` parameters (each may hold several, space apart)."""
    scopes = []
    for value in values:
        for text in value.split():
            kind, _, rest = text.partition(":")
            name, _, actions = rest.rpartition(":")
            parsed = split_repository_name(name) if kind == "repository" else None
            if parsed is None:
                continue
            wanted = set(actions.split(","))
            if ALL in wanted:
                wanted = set(ACTIONS)
            scopes.append(Scope(parsed[0], parsed[1],
                                tuple(a for a in ACTIONS if a in wanted)))
    return scopes


def challenge_scope(name: str, action: str) -> str:
    """The scope a 401 names for ``action`` on ``name``: a push asks for pull too, as the
    clients do (they read what they write)."""
    actions = "%s,%s" % (PULL, PUSH) if action == PUSH else action
    return "repository:%s:%s" % (name, actions)
