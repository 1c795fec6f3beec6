"""The OCI wing: manifests of every current format stored byte for byte, their blobs,
children and subjects, tags with millisecond lifetimes, and labels per manifest.

Its tables are in :mod:`registry_model.oci.tables`; it imports the shared modules
(:mod:`registry_model.model`, :mod:`registry_model.common`), never the pre-OCI wing.
"""
