"""Namespaces: the users and organizations that own repositories."""
import logging
from typing import Optional

from peewee import IntegrityError

from registry_model import errors, validation
from registry_model.model.tables import DEFAULT_TAG_EXPIRATION_S, Namespace
from registry_model.transactions import transaction

logger = logging.getLogger(__name__)


def create_namespace(name: str,
                     removed_tag_expiration_s: int = DEFAULT_TAG_EXPIRATION_S) -> Namespace:
    """Create a namespace; DuplicateException when the name is taken.

    ``removed_tag_expiration_s`` is the time-machine window: how long ended
    tags stay restorable before garbage collection may remove them.
    """
    validation.check_namespace_name(name)
    if not isinstance(removed_tag_expiration_s, int) or removed_tag_expiration_s < 0:
        raise errors.DataModelException("removed_tag_expiration_s must be a non-negative int")
    try:
        with transaction():
            return Namespace.create(name=name, removed_tag_expiration_s=removed_tag_expiration_s)
    except IntegrityError as exc:
        raise errors.DuplicateException("namespace %r already exists" % name) from exc


def get_namespace(name: str) -> Optional[Namespace]:
    """The namespace of that name, or None (also for a name that cannot exist)."""
    if not validation.is_valid_namespace_name(name):
        return None
    return Namespace.get_or_none(Namespace.name == name)
