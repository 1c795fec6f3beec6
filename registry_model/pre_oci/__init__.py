"""Parts of PreOCIModel, one concern per module, composed in registry_pre_oci_model.py."""
