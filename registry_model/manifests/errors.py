"""The exceptions the manifests package raises on purpose: ManifestException and its kinds."""
from registry_model.errors import DataModelException, ManifestTooLargeException


class ManifestException(DataModelException):
    """A manifest cannot be parsed, verified or built: malformed bytes, a field of the wrong
    type, a signature that does not verify, or a media type this package does not handle."""


class ManifestFieldException(ManifestException):
    """One field of a manifest is missing, of the wrong type or malformed.

    ``field`` is its path in the document, e.g. ``layers[2].digest`` or ``mediaType``; the
    message starts with it.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class InvalidDigestException(ManifestFieldException):
    """A digest field is not ``sha256:`` + 64 or ``sha512:`` + 128 lowercase hex digits."""


class MediaTypeMismatchException(ManifestFieldException):
    """The document's ``mediaType`` disagrees with the media type it was declared (sent) as."""


class UnknownSchemaVersionException(ManifestFieldException):
    """``schemaVersion`` is an integer no known manifest format has."""


class OversizedManifestException(ManifestException, ManifestTooLargeException):
    """The manifest is longer than ``validation.MAX_MANIFEST_BYTES``; both a ManifestException
    and the model's ManifestTooLargeException, so either handler catches it."""
