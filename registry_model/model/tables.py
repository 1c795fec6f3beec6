"""The tables every wing shares: lookup tables, namespaces, repositories, blobs, uploads, labels.

A wing (:mod:`registry_model.pre_oci`, the OCI wing) adds its own tables beside
these and declares which of its columns reference a blob
(:mod:`registry_model.model.blob_references`). The schema itself is created by
the migrations shipped in ``registry_model.migrations``, not by ``create_tables``.
"""
import uuid

from peewee import (
    BigIntegerField,
    BlobField,
    BooleanField,
    CharField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)
from playhouse.fields import IntEnumField

from registry_model.connection import db
from registry_model.datatypes import RepositoryState  # noqa: F401  (a column's values)

DEFAULT_TAG_EXPIRATION_S = 14 * 24 * 60 * 60


class LongTextField(TextField):
    """Text without the 64 KiB limit MySQL puts on TEXT (LONGTEXT there, TEXT elsewhere)."""

    field_type = "LONGTEXT"


class LongBlobField(BlobField):
    """Exact bytes without MySQL's 64 KiB BLOB limit (LONGBLOB there, BYTEA on PostgreSQL).

    Read back as ``bytes`` on every backend (drivers give memoryview or bytearray).
    """

    field_type = "LONGBLOB"
    # How precompiled statements (registry_model.statements) convert a value that is not
    # None, by backend: psycopg2 gives a memoryview (bytes() is python_value's work in one C
    # call); sqlite3 and PyMySQL give bytes already, which python_value leaves as they are.
    statement_converters = {"postgresql": bytes, "sqlite": None, "mysql": None}

    def python_value(self, value):
        return bytes(value) if value is not None else None


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


class RepositoryKind(BaseModel):
    name = CharField(unique=True)


class Visibility(BaseModel):
    name = CharField(unique=True)


class ImageStorageLocation(BaseModel):
    name = CharField(unique=True)


class MediaType(BaseModel):
    name = CharField(unique=True)


class LabelSourceType(BaseModel):
    name = CharField(unique=True)
    mutable = BooleanField(default=False)


class Namespace(BaseModel):
    name = CharField(unique=True)
    enabled = BooleanField(default=True)
    removed_tag_expiration_s = BigIntegerField(default=DEFAULT_TAG_EXPIRATION_S)


class Repository(BaseModel):
    namespace = ForeignKeyField(Namespace)
    name = CharField()
    kind = ForeignKeyField(RepositoryKind)
    visibility = ForeignKeyField(Visibility)
    state = IntEnumField(RepositoryState, default=RepositoryState.NORMAL)
    description = LongTextField(null=True)
    trust_enabled = BooleanField(default=False)

    class Meta:
        indexes = ((("namespace", "name"), True),)

    def reference_names(self) -> tuple:
        """``(namespace name, kind name, is public)``, as a RepositoryReference shows them.

        The namespace comes from the joined row (peewee loads it when it was not joined:
        one query); kind and visibility from the lookup cache, without a query.
        """
        from registry_model.model import lookup  # it reads these tables: imported late

        return (self.namespace.name, lookup.kind_name(self.kind_id),
                lookup.is_public(self.visibility_id))


class ImageStorage(BaseModel):
    uuid = CharField(unique=True, default=lambda: str(uuid.uuid4()))
    content_checksum = CharField(null=True, index=True)
    image_size = BigIntegerField(null=True)
    uncompressed_size = BigIntegerField(null=True)
    uploading = BooleanField(default=True)
    cas_path = BooleanField(default=True)


class ImageStoragePlacement(BaseModel):
    storage = ForeignKeyField(ImageStorage)
    location = ForeignKeyField(ImageStorageLocation)

    class Meta:
        indexes = ((("storage", "location"), True),)


class Label(BaseModel):
    uuid = CharField(unique=True, default=lambda: str(uuid.uuid4()))
    key = CharField(index=True)
    value = LongTextField()
    media_type = ForeignKeyField(MediaType)
    source_type = ForeignKeyField(LabelSourceType)


class BlobUpload(BaseModel):
    """A resumable upload in progress: byte count, chunks and the running sha256 state."""

    repository = ForeignKeyField(Repository)
    uuid = CharField(unique=True)
    byte_count = BigIntegerField(default=0)
    uncompressed_byte_count = BigIntegerField(null=True)
    chunk_count = IntegerField(default=0)
    sha_state = LongTextField(null=True)
    location = ForeignKeyField(ImageStorageLocation)
    storage_metadata = LongTextField(null=True)
    created = BigIntegerField(index=True)


class UploadedBlob(BaseModel):
    """A temporary link of a blob to a repository, protecting it from collection until expiry."""

    repository = ForeignKeyField(Repository)
    blob = ForeignKeyField(ImageStorage)
    uploaded_at = BigIntegerField()
    expires_at = BigIntegerField(index=True)

    class Meta:
        indexes = ((("repository", "blob"), False),)


LOOKUP_MODELS = (RepositoryKind, Visibility, ImageStorageLocation, MediaType, LabelSourceType)
SHARED_MODELS = LOOKUP_MODELS + (Namespace, Repository, ImageStorage, ImageStoragePlacement,
                                 Label, BlobUpload, UploadedBlob)
