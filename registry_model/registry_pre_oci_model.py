"""Where ``PreOCIModel`` was imported from before the wings; it lives in the pre-OCI wing.

``from registry_model.registry_pre_oci_model import PreOCIModel`` keeps working:
the class is :class:`registry_model.pre_oci.model.PreOCIModel`.
"""
from registry_model.pre_oci.model import PreOCIModel

__all__ = ["PreOCIModel"]
