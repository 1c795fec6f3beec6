"""Resumable blob uploads and the temporary blob-to-repository links that protect new blobs."""
from peewee import (
    BigIntegerField,
    CharField,
    ForeignKeyField,
    IntegerField,
    Model,
    MySQLDatabase,
    TextField,
)


class LongTextField(TextField):
    field_type = "LONGTEXT"


def _models(db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Repository(Base):
        class Meta:
            table_name = "repository"

    class ImageStorage(Base):
        class Meta:
            table_name = "image_storage"

    class ImageStorageLocation(Base):
        class Meta:
            table_name = "image_storage_location"

    class BlobUpload(Base):
        repository = ForeignKeyField(Repository)
        uuid = CharField(unique=True)
        byte_count = BigIntegerField(default=0)
        uncompressed_byte_count = BigIntegerField(null=True)
        chunk_count = IntegerField(default=0)
        sha_state = LongTextField(null=True)
        location = ForeignKeyField(ImageStorageLocation)
        storage_metadata = LongTextField(null=True)
        created = BigIntegerField(index=True)

    class UploadedBlob(Base):
        repository = ForeignKeyField(Repository)
        blob = ForeignKeyField(ImageStorage)
        uploaded_at = BigIntegerField()
        expires_at = BigIntegerField(index=True)

        class Meta:
            indexes = ((("repository", "blob"), False),)

    return [BlobUpload, UploadedBlob]


def up(migrator, db):
    models = _models(db)
    if isinstance(db, MySQLDatabase):
        for model in models:
            model._meta.table_settings = ["DEFAULT CHARSET=utf8mb4", "COLLATE=utf8mb4_bin"]
    db.create_tables(models, safe=True)


def down(migrator, db):
    db.drop_tables(_models(db), safe=True)
