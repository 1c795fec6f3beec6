"""The pre-OCI schema, its lookup rows and the database-enforced alive-tag rule.

Every step is safe to run again (IF NOT EXISTS, INSERT-or-ignore), because
MariaDB commits each DDL statement at once: an upgrade interrupted there is
finished by running it again.
"""
import uuid

from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    Field,
    ForeignKeyField,
    IntegerField,
    Model,
    MySQLDatabase,
    TextField,
)

ALIVE_TAG_INDEX = "repository_tag_alive_name"
ALIVE_TAG_MARKER_COLUMN = "alive_marker"

REPOSITORY_KINDS = ["image", "application"]
VISIBILITIES = ["public", "private"]
LOCATIONS = ["local"]
MEDIA_TYPES = [
    "text/plain",
    "application/json",
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.container.image.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.config.v1+json",
]
LABEL_SOURCE_TYPES = [("manifest", False), ("api", True), ("internal", True)]


class LongTextField(TextField):
    field_type = "LONGTEXT"


class AncestorsField(Field):
    field_type = "ANCESTORS"


def _models(db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class RepositoryKind(Base):
        name = CharField(unique=True)

    class Visibility(Base):
        name = CharField(unique=True)

    class ImageStorageLocation(Base):
        name = CharField(unique=True)

    class MediaType(Base):
        name = CharField(unique=True)

    class LabelSourceType(Base):
        name = CharField(unique=True)
        mutable = BooleanField(default=False)

    class Namespace(Base):
        name = CharField(unique=True)
        enabled = BooleanField(default=True)
        removed_tag_expiration_s = BigIntegerField(default=14 * 24 * 60 * 60)

    class Repository(Base):
        namespace = ForeignKeyField(Namespace)
        name = CharField()
        kind = ForeignKeyField(RepositoryKind)
        visibility = ForeignKeyField(Visibility)
        state = IntegerField(default=0)
        description = LongTextField(null=True)
        trust_enabled = BooleanField(default=False)

        class Meta:
            indexes = ((("namespace", "name"), True),)

    class ImageStorage(Base):
        uuid = CharField(unique=True, default=lambda: str(uuid.uuid4()))
        content_checksum = CharField(null=True, index=True)
        image_size = BigIntegerField(null=True)
        uncompressed_size = BigIntegerField(null=True)
        uploading = BooleanField(default=True)
        cas_path = BooleanField(default=True)

    class ImageStoragePlacement(Base):
        storage = ForeignKeyField(ImageStorage)
        location = ForeignKeyField(ImageStorageLocation)

        class Meta:
            indexes = ((("storage", "location"), True),)

    class Image(Base):
        repository = ForeignKeyField(Repository)
        docker_image_id = CharField(index=True)
        ancestors = AncestorsField(index=True, default="/")
        storage = ForeignKeyField(ImageStorage)
        created = DateTimeField(null=True)
        comment = LongTextField(null=True)
        command = LongTextField(null=True)
        aggregate_size = BigIntegerField(null=True)
        v1_json_metadata = LongTextField(null=True)
        v1_checksum = CharField(null=True)

        class Meta:
            indexes = ((("repository", "docker_image_id"), True),)

    class RepositoryTag(Base):
        repository = ForeignKeyField(Repository)
        name = CharField()
        image = ForeignKeyField(Image)
        lifetime_start_ts = BigIntegerField()
        lifetime_end_ts = BigIntegerField(null=True)
        hidden = BooleanField(default=False)
        reversion = BooleanField(default=False)

        class Meta:
            indexes = ((("repository", "name"), False),
                       (("repository", "lifetime_end_ts"), False))

    class TagManifest(Base):
        tag = ForeignKeyField(RepositoryTag, unique=True)
        digest = CharField(index=True)
        json_data = LongTextField()

    class Label(Base):
        uuid = CharField(unique=True, default=lambda: str(uuid.uuid4()))
        key = CharField(index=True)
        value = LongTextField()
        media_type = ForeignKeyField(MediaType)
        source_type = ForeignKeyField(LabelSourceType)

    class TagManifestLabel(Base):
        repository = ForeignKeyField(Repository)
        annotated = ForeignKeyField(TagManifest)
        label = ForeignKeyField(Label, unique=True)

        class Meta:
            indexes = ((("annotated", "label"), True),)

    return [RepositoryKind, Visibility, ImageStorageLocation, MediaType, LabelSourceType,
            Namespace, Repository, ImageStorage, ImageStoragePlacement, Image,
            RepositoryTag, TagManifest, Label, TagManifestLabel]


def _fill(model, rows):
    model.insert_many(rows).on_conflict_ignore().execute()


def up(migrator, db):
    models = _models(db)
    if isinstance(db, MySQLDatabase):
        # Case-sensitive names everywhere: "Latest" and "latest" are two tags.
        for model in models:
            model._meta.table_settings = ["DEFAULT CHARSET=utf8mb4", "COLLATE=utf8mb4_bin"]
    db.create_tables(models, safe=True)

    by_name = {model.__name__: model for model in models}
    _fill(by_name["RepositoryKind"], [{"name": n} for n in REPOSITORY_KINDS])
    _fill(by_name["Visibility"], [{"name": n} for n in VISIBILITIES])
    _fill(by_name["ImageStorageLocation"], [{"name": n} for n in LOCATIONS])
    _fill(by_name["MediaType"], [{"name": n} for n in MEDIA_TYPES])
    _fill(by_name["LabelSourceType"],
          [{"name": n, "mutable": m} for n, m in LABEL_SOURCE_TYPES])

    if isinstance(db, MySQLDatabase):
        # MySQL has no partial index: a generated column that is NULL for ended
        # rows, under a unique index, lets only one row per name lack an end.
        columns = {c.name for c in db.get_columns("repository_tag")}
        if ALIVE_TAG_MARKER_COLUMN not in columns:
            db.execute_sql(
                "ALTER TABLE repository_tag ADD COLUMN %s TINYINT "
                "AS (IF(lifetime_end_ts IS NULL, 1, NULL)) STORED" % ALIVE_TAG_MARKER_COLUMN)
        if ALIVE_TAG_INDEX not in {i.name for i in db.get_indexes("repository_tag")}:
            db.execute_sql("CREATE UNIQUE INDEX %s ON repository_tag (repository_id, name, %s)"
                           % (ALIVE_TAG_INDEX, ALIVE_TAG_MARKER_COLUMN))
    else:
        db.execute_sql("CREATE UNIQUE INDEX IF NOT EXISTS %s ON repository_tag "
                       "(repository_id, name) WHERE lifetime_end_ts IS NULL" % ALIVE_TAG_INDEX)


def down(migrator, db):
    db.drop_tables(_models(db), safe=True)
