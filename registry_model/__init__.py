"""registry_model: a relational data model for container-image registries.

``registry_model.registry_model`` is the default :class:`PreOCIModel` (Docker schema 1
on the pre-OCI tables) and ``registry_model.oci_model`` the :class:`OCIModel` (every
current manifest format, referrers and immutable tags, on the OCI tables); bind them
to a database with :func:`registry_model.database.configure` and create the schema
with :func:`registry_model.migration.upgrade`.
"""
from registry_model.oci.model import OCIModel
from registry_model.registry_pre_oci_model import PreOCIModel

registry_model = PreOCIModel()
oci_model = OCIModel()

__all__ = ["OCIModel", "PreOCIModel", "oci_model", "registry_model"]
