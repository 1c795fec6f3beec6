"""registry_model: a relational data model for container-image registries.

``registry_model.registry_model`` is the default :class:`PreOCIModel`; bind it
to a database with :func:`registry_model.database.configure` and create the
schema with :func:`registry_model.migration.upgrade`.
"""
from registry_model.registry_pre_oci_model import PreOCIModel

registry_model = PreOCIModel()

__all__ = ["PreOCIModel", "registry_model"]
