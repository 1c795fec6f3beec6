"""Namespaces: the users and organizations that own repositories."""
import logging
from typing import Optional

from peewee import IntegrityError

from registry_model import errors, validation
from registry_model.model.tables import DEFAULT_TAG_EXPIRATION_S, Namespace
from registry_model.statements import Statement, param
from registry_model.transactions import locked, transaction

logger = logging.getLogger(__name__)


def _check_window(removed_tag_expiration_s: object) -> int:
    if (not isinstance(removed_tag_expiration_s, int) or isinstance(removed_tag_expiration_s, bool)
            or removed_tag_expiration_s < 0):
        raise errors.InvalidExpirationException(
            "the time-machine window must be a whole number of seconds, 0 or more: %r"
            % (removed_tag_expiration_s,))
    return removed_tag_expiration_s


def create_namespace(name: str,
                     removed_tag_expiration_s: int = DEFAULT_TAG_EXPIRATION_S) -> Namespace:
    """Create a namespace; DuplicateException when the name is taken. One statement.

    ``removed_tag_expiration_s`` is the time-machine window: how long ended
    tags stay restorable before garbage collection may remove them.
    """
    validation.check_namespace_name(name)
    _check_window(removed_tag_expiration_s)
    try:
        with transaction():
            return Namespace.create(name=name, removed_tag_expiration_s=removed_tag_expiration_s)
    except IntegrityError as exc:
        raise errors.DuplicateException("namespace %r already exists" % name) from exc


_NAMESPACE_ROW = Statement(lambda: (
    Namespace.select(Namespace.id, Namespace.name, Namespace.enabled,
                     Namespace.removed_tag_expiration_s)
    .where(Namespace.name == param("name"))))


def find_namespace(name: str) -> Optional[tuple]:
    """The namespace of that name as a flat row (precompiled), or None: one query, or none
    for a name that cannot exist."""
    if not validation.is_valid_namespace_name(name):
        return None
    return _NAMESPACE_ROW.first(name=name)


def create_or_get_namespace(name: str) -> Namespace:
    """Create the namespace in the caller's transaction, or the one a concurrent writer made.

    One statement, two when the name was taken meanwhile (then a locking read, which sees
    the other writer's committed row whatever the isolation level).
    """
    try:
        return create_namespace(name)
    except errors.DuplicateException:
        found = locked(Namespace.select().where(Namespace.name == name)).get_or_none()
        if found is None:
            raise
        return found


def set_tag_expiration(name: str, removed_tag_expiration_s: int) -> Optional[Namespace]:
    """Change the namespace's time-machine window; the updated row, or None when absent.

    Two statements (the update, then the row), one transaction.
    """
    _check_window(removed_tag_expiration_s)
    if not validation.is_valid_namespace_name(name):
        return None
    with transaction():
        updated = (Namespace.update(removed_tag_expiration_s=removed_tag_expiration_s)
                   .where(Namespace.name == name).execute())
        if not updated:
            return None
        return Namespace.get(Namespace.name == name)
