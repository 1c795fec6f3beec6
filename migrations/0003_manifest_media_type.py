"""Store each tag manifest's media type, so reading a manifest never parses its JSON.

The column is filled for every existing row here, and by every write of the
library afterwards; a row written by another tool with no media type is read
as the media type its bytes show.
"""
import json

from peewee import ForeignKeyField, Model, MySQLDatabase, TextField

BATCH_SIZE = 500
SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
UNSIGNED = "application/vnd.docker.distribution.manifest.v1+json"


def _models(db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class MediaType(Base):
        name = TextField()

        class Meta:
            table_name = "media_type"

    class TagManifest(Base):
        json_data = TextField()
        media_type = ForeignKeyField(MediaType, null=True)

        class Meta:
            table_name = "tag_manifest"

    return MediaType, TagManifest


def _media_type(json_data):
    # Frozen copy of registry_model.datatypes.schema1_media_type: later changes
    # to the library must not change what this step wrote.
    try:
        parsed = json.loads(json_data)
    except ValueError:
        return SIGNED
    if isinstance(parsed, dict) and not parsed.get("signatures"):
        return UNSIGNED
    return SIGNED


def up(migrator, db):
    MediaType, TagManifest = _models(db)
    columns = {column.name for column in db.get_columns("tag_manifest")}
    if "media_type_id" not in columns:  # MariaDB commits DDL: a rerun after a failure
        migrator.migrate(
            migrator.add_column("tag_manifest", "media_type_id", TagManifest.media_type))
    ids = {row.name: row.id for row in MediaType.select()}
    last_id = 0
    while True:
        batch = list(TagManifest.select(TagManifest.id, TagManifest.json_data)
                     .where(TagManifest.id > last_id, TagManifest.media_type.is_null())
                     .order_by(TagManifest.id).limit(BATCH_SIZE))
        if not batch:
            break
        by_type = {}
        for row in batch:
            by_type.setdefault(ids[_media_type(row.json_data)], []).append(row.id)
        with db.atomic():
            for media_type_id, row_ids in by_type.items():
                (TagManifest.update(media_type=media_type_id)
                 .where(TagManifest.id.in_(row_ids)).execute())
        last_id = batch[-1].id


def down(migrator, db):
    columns = {column.name for column in db.get_columns("tag_manifest")}
    if "media_type_id" in columns:
        if isinstance(db, MySQLDatabase):  # its index cannot go while the constraint uses it
            migrator.migrate(
                migrator.drop_foreign_key_constraint("tag_manifest", "media_type_id"))
        indexes = {index.name for index in db.get_indexes("tag_manifest")}
        if "tag_manifest_media_type_id" in indexes:
            migrator.migrate(migrator.drop_index("tag_manifest", "tag_manifest_media_type_id"))
        migrator.migrate(migrator.drop_column("tag_manifest", "media_type_id"))
