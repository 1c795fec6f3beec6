"""The database front: ``db``, ``configure``, ``RepositoryState`` and every model, in one place.

A thin front over the modules that hold them, for callers and tests that want
one import::

    from registry_model.database import configure, Repository, RepositoryTag
    configure("sqlite:///registry.db")

Connections and URIs live in :mod:`registry_model.connection`, transactions in
:mod:`registry_model.transactions`, the tables every wing shares in
:mod:`registry_model.model.tables`, and each wing's tables in that wing
(:mod:`registry_model.pre_oci.tables`, :mod:`registry_model.oci.tables`). Importing
this module installs every wing.
"""
from registry_model.auth.tables import AUTH_MODELS, Account, AccountGrant
from registry_model.connection import (
    DEFAULT_URI,
    POOL_OPTIONS,
    SQLITE_BUSY_TIMEOUT_MS,
    backend_name,
    configure,
    db,
    register_field_type,
)
from registry_model.model.tables import (
    DEFAULT_TAG_EXPIRATION_S,
    LOOKUP_MODELS,
    SHARED_MODELS,
    BaseModel,
    BlobUpload,
    ImageStorage,
    ImageStorageLocation,
    ImageStoragePlacement,
    Label,
    LabelSourceType,
    LongTextField,
    MediaType,
    Namespace,
    Repository,
    RepositoryKind,
    RepositoryState,
    UploadedBlob,
    Visibility,
)
from registry_model.oci.tables import ALIVE_TAG_INDEX as OCI_ALIVE_TAG_INDEX
from registry_model.oci.tables import (
    OCI_MODELS,
    Manifest,
    ManifestBlob,
    ManifestChild,
    ManifestLabel,
    Tag,
)
from registry_model.pre_oci.ancestors import (
    MAX_ANCESTORS_LENGTH,
    parent_id,
    parent_ids,
    parse_ancestors,
)
from registry_model.pre_oci.tables import (
    ALIVE_TAG_INDEX,
    ALIVE_TAG_MARKER_COLUMN,
    PRE_OCI_MODELS,
    AncestorsField,
    Image,
    RepositoryTag,
    TagManifest,
    TagManifestLabel,
)
from registry_model.transactions import (
    WriteConflict,
    is_transient_conflict,
    locked,
    run_with_retry,
    transaction,
)

# Every table, in an order that creates (and loads) referenced tables first.
ALL_MODELS = LOOKUP_MODELS + (Namespace, Repository, ImageStorage, ImageStoragePlacement,
                              Image, RepositoryTag, TagManifest, Label, TagManifestLabel,
                              BlobUpload, UploadedBlob) + OCI_MODELS + AUTH_MODELS
assert set(ALL_MODELS) == (set(SHARED_MODELS) | set(PRE_OCI_MODELS) | set(OCI_MODELS)
                           | set(AUTH_MODELS))

__all__ = [
    "ALIVE_TAG_INDEX", "ALIVE_TAG_MARKER_COLUMN", "ALL_MODELS", "AUTH_MODELS", "Account",
    "AccountGrant", "DEFAULT_TAG_EXPIRATION_S",
    "DEFAULT_URI", "LOOKUP_MODELS", "MAX_ANCESTORS_LENGTH", "OCI_ALIVE_TAG_INDEX", "OCI_MODELS",
    "POOL_OPTIONS", "PRE_OCI_MODELS",
    "SHARED_MODELS", "SQLITE_BUSY_TIMEOUT_MS", "AncestorsField", "BaseModel", "BlobUpload",
    "Image", "ImageStorage", "ImageStorageLocation", "ImageStoragePlacement", "Label",
    "LabelSourceType", "LongTextField", "Manifest", "ManifestBlob", "ManifestChild",
    "ManifestLabel", "MediaType", "Namespace", "Repository",
    "RepositoryKind", "RepositoryState", "RepositoryTag", "Tag", "TagManifest", "TagManifestLabel",
    "UploadedBlob", "Visibility", "WriteConflict", "backend_name", "configure", "db",
    "is_transient_conflict", "locked", "parent_id", "parent_ids", "parse_ancestors",
    "register_field_type",
    "run_with_retry", "transaction",
]
