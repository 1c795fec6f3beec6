"""The OCI wing: manifests byte for byte, their blobs and children, tags in ms, labels.

Tables are ``oci_*`` so they never clash with the pre-OCI wing's. The alive-tag
rule is the one migration 0001 gives ``repository_tag``: at most one row per
(repository, name) without an end, a partial unique index on PostgreSQL and
SQLite, a unique index over a generated column on MySQL/MariaDB. Every step is
safe to run again, because MariaDB commits each DDL statement at once.
"""
from peewee import (
    BigIntegerField,
    BlobField,
    BooleanField,
    CharField,
    ForeignKeyField,
    Model,
    MySQLDatabase,
    TextField,
)

ALIVE_TAG_INDEX = "oci_tag_alive_name"
ALIVE_TAG_MARKER_COLUMN = "alive_marker"


class LongTextField(TextField):
    field_type = "LONGTEXT"


class LongBlobField(BlobField):
    field_type = "LONGBLOB"


def _models(db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Repository(Base):
        class Meta:
            table_name = "repository"

    class MediaType(Base):
        class Meta:
            table_name = "media_type"

    class ImageStorage(Base):
        class Meta:
            table_name = "image_storage"

    class Label(Base):
        class Meta:
            table_name = "label"

    class Manifest(Base):
        repository = ForeignKeyField(Repository, index=False)
        digest = CharField()
        media_type = ForeignKeyField(MediaType)
        manifest_bytes = LongBlobField()
        config_media_type = CharField(null=True)
        artifact_type = CharField(null=True)
        subject = CharField(null=True)
        layers_compressed_size = BigIntegerField(null=True)
        layer_history = LongTextField(null=True)

        class Meta:
            table_name = "oci_manifest"
            indexes = ((("repository", "digest"), True), (("repository", "subject"), False))

    class ManifestBlob(Base):
        repository = ForeignKeyField(Repository)
        manifest = ForeignKeyField(Manifest, index=False)
        blob = ForeignKeyField(ImageStorage, index=False)

        class Meta:
            table_name = "oci_manifest_blob"
            indexes = ((("manifest", "blob"), True), (("blob", "repository"), False))

    class ManifestChild(Base):
        repository = ForeignKeyField(Repository)
        manifest = ForeignKeyField(Manifest, index=False)
        child_manifest = ForeignKeyField(Manifest, index=True, backref="parents")

        class Meta:
            table_name = "oci_manifest_child"
            indexes = ((("manifest", "child_manifest"), True),)

    class Tag(Base):
        repository = ForeignKeyField(Repository, index=False)
        name = CharField()
        manifest = ForeignKeyField(Manifest)
        lifetime_start_ms = BigIntegerField()
        lifetime_end_ms = BigIntegerField(null=True)
        hidden = BooleanField(default=False)
        reversion = BooleanField(default=False)
        immutable = BooleanField(default=False)

        class Meta:
            table_name = "oci_tag"
            indexes = ((("repository", "name"), False),
                       (("repository", "lifetime_end_ms"), False),
                       (("repository", "lifetime_start_ms", "id"), False))

    class ManifestLabel(Base):
        repository = ForeignKeyField(Repository)
        manifest = ForeignKeyField(Manifest, index=False)
        label = ForeignKeyField(Label, unique=True)

        class Meta:
            table_name = "oci_manifest_label"
            indexes = ((("manifest", "label"), True),)

    return [Manifest, ManifestBlob, ManifestChild, Tag, ManifestLabel]


def up(migrator, db):
    models = _models(db)
    if isinstance(db, MySQLDatabase):
        # Case-sensitive names everywhere, as in 0001: "Latest" and "latest" are two tags.
        for model in models:
            model._meta.table_settings = ["DEFAULT CHARSET=utf8mb4", "COLLATE=utf8mb4_bin"]
    db.create_tables(models, safe=True)

    if isinstance(db, MySQLDatabase):
        # No partial index on MySQL: a generated column that is NULL for ended rows,
        # under a unique index, lets only one row per name lack an end.
        if ALIVE_TAG_MARKER_COLUMN not in {c.name for c in db.get_columns("oci_tag")}:
            db.execute_sql(
                "ALTER TABLE oci_tag ADD COLUMN %s TINYINT "
                "AS (IF(lifetime_end_ms IS NULL, 1, NULL)) STORED" % ALIVE_TAG_MARKER_COLUMN)
        if ALIVE_TAG_INDEX not in {i.name for i in db.get_indexes("oci_tag")}:
            db.execute_sql("CREATE UNIQUE INDEX %s ON oci_tag (repository_id, name, %s)"
                           % (ALIVE_TAG_INDEX, ALIVE_TAG_MARKER_COLUMN))
    else:
        db.execute_sql("CREATE UNIQUE INDEX IF NOT EXISTS %s ON oci_tag "
                       "(repository_id, name) WHERE lifetime_end_ms IS NULL" % ALIVE_TAG_INDEX)


def down(migrator, db):
    db.drop_tables(_models(db)[::-1], safe=True)
