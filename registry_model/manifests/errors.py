"""The one exception the manifests package raises on purpose."""
from registry_model.errors import DataModelException


class ManifestException(DataModelException):
    """A manifest cannot be parsed, verified or built: malformed bytes, a field of the wrong
    type, a signature that does not verify, or a media type this package does not handle."""
