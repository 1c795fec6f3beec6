"""Namespaces through the interface: create, get, and set the time-machine window.

The namespace table is shared by every schema, so these methods will serve every
implementation; they live in one mixin until the interface is split by concept.
"""
import logging
from typing import Optional

from peewee import IntegrityError

from registry_model import errors, validation
from registry_model.database import DEFAULT_TAG_EXPIRATION_S, locked, transaction
from registry_model.database import Namespace as NamespaceRow
from registry_model.datatypes import Namespace

logger = logging.getLogger(__name__)


def _check_window(removed_tag_expiration_s: object) -> None:
    if (isinstance(removed_tag_expiration_s, bool)
            or not isinstance(removed_tag_expiration_s, int) or removed_tag_expiration_s < 0):
        raise errors.InvalidExpirationException(
            "the time-machine window must be a whole number of seconds, 0 or more: %r"
            % (removed_tag_expiration_s,))


class NamespacesMixin:
    """create_namespace, get_namespace and set_namespace_tag_expiration."""

    def create_namespace(self, namespace_name: str,
                         removed_tag_expiration_s: Optional[int] = None) -> Namespace:
        """Create the namespace; DuplicateException when taken (1 statement)."""
        validation.check_namespace_name(namespace_name)
        if removed_tag_expiration_s is None:
            removed_tag_expiration_s = DEFAULT_TAG_EXPIRATION_S
        _check_window(removed_tag_expiration_s)
        try:
            with transaction():
                row = NamespaceRow.create(name=namespace_name,
                                          removed_tag_expiration_s=removed_tag_expiration_s)
        except IntegrityError as exc:
            raise errors.DuplicateException("namespace %r already exists"
                                            % namespace_name) from exc
        return Namespace.for_namespace_row(row)

    def get_namespace(self, namespace_name: str) -> Optional[Namespace]:
        """The Namespace of that name, or None (1 statement; 0 for an invalid name)."""
        if not validation.is_valid_namespace_name(namespace_name):
            return None
        row = NamespaceRow.get_or_none(NamespaceRow.name == namespace_name)
        return Namespace.for_namespace_row(row) if row is not None else None

    def set_namespace_tag_expiration(self, namespace_name: str,
                                     removed_tag_expiration_s: int) -> Namespace:
        """Set the namespace's time-machine window; NotFoundException if absent (2 statements)."""
        _check_window(removed_tag_expiration_s)
        if not validation.is_valid_namespace_name(namespace_name):
            raise errors.NotFoundException("namespace %r does not exist" % (namespace_name,))
        with transaction():
            row = locked(NamespaceRow.select().where(NamespaceRow.name == namespace_name)).first()
            if row is None:
                raise errors.NotFoundException("namespace %r does not exist" % namespace_name)
            (NamespaceRow.update(removed_tag_expiration_s=removed_tag_expiration_s)
             .where(NamespaceRow.id == row.id).execute())
        logger.info("namespace %s: time-machine window %d s (was %d s)", namespace_name,
                    removed_tag_expiration_s, row.removed_tag_expiration_s)
        row.removed_tag_expiration_s = removed_tag_expiration_s
        return Namespace.for_namespace_row(row)
