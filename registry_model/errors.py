"""Exceptions raised by every layer of registry_model.

All of them derive from :class:`DataModelException`, so a caller can catch the
library's own failures in one place while programming errors (TypeError and
friends) still surface. A write that raises one of these has changed nothing.
"""


class DataModelException(Exception):
    """Base class of every error the data model raises on purpose."""


class DatabaseConfigurationException(DataModelException):
    """The database URI or its options cannot be used (unknown scheme, bad path, ...)."""


class DatabaseUnavailableException(DataModelException):
    """The database server could not be reached or refused the connection.

    Raised instead of the driver's error by the call that needed a connection,
    whether the first one or a reconnect after a lost connection; the next call
    tries again.
    """


class DatabaseDoesNotExistException(DatabaseUnavailableException):
    """The server answered, but the database the URI names does not exist on it.

    Create the database (``CREATE DATABASE``) or fix the URI; unlike an unreachable server,
    waiting does not help. A DatabaseUnavailableException, so code that handles that one
    handles this too.
    """


class DatabaseConnectionLostException(DatabaseUnavailableException):
    """The server dropped the connection inside a transaction, which it rolled back.

    Outside a transaction the next call reconnects by itself; inside one the
    work is lost and must be started again by the caller.
    """


class InvalidNameException(DataModelException):
    """A namespace, repository, tag or image id does not follow the naming rules."""


class InvalidExpirationException(DataModelException):
    """A time-machine window or expiration is not a whole, non-negative number of seconds."""


class InvalidDigestException(DataModelException):
    """A digest is not of the form ``algorithm:hex`` understood by the registry."""


class DuplicateException(DataModelException):
    """The row being created already exists (same namespace, repository, ...)."""


class NotFoundException(DataModelException):
    """A row the write depends on does not exist (or no longer exists)."""


class InvalidImageException(DataModelException):
    """A legacy image cannot be created as asked (e.g. its parent lives elsewhere)."""


class UnknownLookupValueException(DataModelException):
    """A name for a lookup table (kind, visibility, location, ...) is not known."""


class InvalidRepositoryKindException(UnknownLookupValueException):
    """The repository kind is not one of the kinds in the RepositoryKind table."""


class InvalidLabelKeyException(DataModelException):
    """A label key breaks the key rules (length, characters, separators)."""


class InvalidLabelValueException(DataModelException):
    """A label value is not text or holds characters no backend can store."""


class LabelValueTooLargeException(InvalidLabelValueException):
    """A label value is longer than ``validation.MAX_LABEL_VALUE_BYTES`` in UTF-8."""


class ManifestTooLargeException(DataModelException):
    """A manifest is longer than ``validation.MAX_MANIFEST_BYTES``; nothing was written."""


class InvalidMediaTypeException(UnknownLookupValueException):
    """The media type is not one of those in the MediaType table."""


class UnknownLabelSourceTypeException(UnknownLookupValueException):
    """The label source type is not one of those in the LabelSourceType table."""


class ImmutableLabelException(DataModelException):
    """The label's source type is immutable (e.g. ``manifest``): it cannot be deleted."""


class ConcurrentWriteException(DataModelException):
    """Concurrent writers kept winning the same race; the write was abandoned unapplied."""


class TagConflictException(ConcurrentWriteException):
    """Concurrent writers kept changing the same tag; the write was abandoned unapplied."""


class ManifestBlobUnknownException(NotFoundException):
    """A layer blob named by a manifest is not linked to the repository being pushed to."""


class ManifestChildUnknownException(ManifestBlobUnknownException):
    """A manifest list or index names a child manifest the repository does not hold."""


class ImmutableTagException(DataModelException):
    """The tag is immutable: it cannot be moved, deleted or expired (nothing was changed)."""


class UnsupportedOperationException(DataModelException):
    """The implementation cannot do this (the pre-OCI model has no immutable tags, say)."""


class InvalidPasswordException(DataModelException):
    """A password is empty or longer than bcrypt reads (72 UTF-8 bytes); nothing was stored."""


class StorageConfigurationException(DataModelException):
    """A blob storage cannot be used as given: an unknown URI scheme, a missing bucket, wrong
    credentials."""
