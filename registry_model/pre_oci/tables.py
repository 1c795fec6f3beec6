"""The pre-OCI wing's tables: legacy images, tags, schema 1 tag manifests and their labels.

:func:`tag_manifest_clause` names one tag manifest row safely, for the manifest and label
modules alike.

``Image.storage`` is what references a blob here; it is declared to
:mod:`registry_model.model.blob_references` on import, so blob collection in any
wing keeps what these rows use. ``Image.ancestors`` holds the path format of
:mod:`registry_model.pre_oci.ancestors`.
"""
from typing import Optional

from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    Expression,
    Field,
    ForeignKeyField,
)

from registry_model.connection import register_field_type
from registry_model.model import blob_references
from registry_model.model.tables import (
    BaseModel,
    ImageStorage,
    Label,
    LongTextField,
    MediaType,
    Repository,
)
from registry_model.pre_oci.ancestors import MAX_ANCESTORS_LENGTH, parse_ancestors

# An index over utf8mb4 VARCHAR(2048) is longer than InnoDB allows, while the
# ancestors path only ever holds digits and slashes.
register_field_type("ANCESTORS", "VARCHAR(%d)" % MAX_ANCESTORS_LENGTH,
                    mysql="VARCHAR(%d) CHARACTER SET ascii COLLATE ascii_bin"
                    % MAX_ANCESTORS_LENGTH)


class AncestorsField(Field):
    """The ``/root/.../parent/`` id path of a legacy image, indexable on every backend."""

    field_type = "ANCESTORS"


class Image(BaseModel):
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
        indexes = (
            (("repository", "docker_image_id"), True),
            (("storage", "repository"), False),  # migration 0004
        )

    def ancestor_id_list(self) -> list:
        """Ancestor ids, root first, parsed from ``ancestors``."""
        return parse_ancestors(self.ancestors)


class RepositoryTag(BaseModel):
    # No index of its own: (repository, name) serves the foreign key, and a bare
    # repository index lures PostgreSQL into scanning every row of a big
    # repository for one tag name (migration 0004 drops it).
    repository = ForeignKeyField(Repository, index=False)
    name = CharField()
    image = ForeignKeyField(Image)
    lifetime_start_ts = BigIntegerField()
    lifetime_end_ts = BigIntegerField(null=True)
    hidden = BooleanField(default=False)
    reversion = BooleanField(default=False)

    class Meta:
        indexes = (
            (("repository", "name"), False),
            (("repository", "lifetime_end_ts"), False),
            (("repository", "lifetime_start_ts", "id"), False),  # migration 0004
        )


class TagManifest(BaseModel):
    tag = ForeignKeyField(RepositoryTag, unique=True)
    digest = CharField(index=True)
    json_data = LongTextField()
    # Filled on every write, so a read never parses json_data (migration 0003).
    media_type = ForeignKeyField(MediaType, null=True)


def tag_manifest_clause(tag_manifest_id: int, digest: Optional[str] = None,
                        tag_id: Optional[int] = None) -> Expression:
    """WHERE clause on TagManifest naming one row: its id, checked against digest and tag row.

    A caller's Manifest can outlive its row, and SQLite gives the highest freed id to the
    next new row; with the digest and tag row of the Manifest (when given), a stale one
    names no row instead of another manifest.
    """
    clause = TagManifest.id == tag_manifest_id
    if digest is not None:
        clause &= TagManifest.digest == digest
    if tag_id is not None:
        clause &= TagManifest.tag == tag_id
    return clause


class TagManifestLabel(BaseModel):
    repository = ForeignKeyField(Repository)
    annotated = ForeignKeyField(TagManifest)
    label = ForeignKeyField(Label, unique=True)

    class Meta:
        indexes = ((("annotated", "label"), True),)


PRE_OCI_MODELS = (Image, RepositoryTag, TagManifest, TagManifestLabel)

# The alive-tag rule lives outside the models because its form differs per
# backend; migration 0001 creates it and the schema test checks it by name.
ALIVE_TAG_INDEX = "repository_tag_alive_name"
ALIVE_TAG_MARKER_COLUMN = "alive_marker"

blob_references.declare(Image, Image.storage, Image.repository)
