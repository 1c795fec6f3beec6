"""The OCI wing's tables: manifests byte for byte, their blobs and children, tags, labels.

Every table is named ``oci_*``: the pre-OCI wing already has ``tag_manifest`` and
``repository_tag``, and a bare ``manifest`` or ``tag`` beside them would read as a
shared table; the prefix keeps the wing's tables together in any listing and leaves
the plain names free. ``ManifestBlob.blob`` is what references a blob here; it is
declared to :mod:`registry_model.model.blob_references` on import, so blob
collection in any wing keeps what these rows use. Migration 0005 creates them.
"""
from peewee import BigIntegerField, BooleanField, CharField, ForeignKeyField

from registry_model.model import blob_references
from registry_model.model.tables import (
    BaseModel,
    ImageStorage,
    Label,
    LongBlobField,
    LongTextField,
    MediaType,
    Repository,
)


class Manifest(BaseModel):
    """A manifest of any format in a repository, with the exact bytes that were pushed.

    ``config_media_type``, ``artifact_type`` and ``subject`` (a digest, NULL without one)
    are read from the bytes at push time, so no read parses them; ``layer_history`` is
    the JSON list of what the config's history says about each layer (created, command,
    comment), kept for the legacy image view.
    """

    # (repository, digest) serves the foreign key.
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
        indexes = (
            (("repository", "digest"), True),
            (("repository", "subject"), False),
        )


class ManifestBlob(BaseModel):
    """A blob (config or layer) a manifest references, in the manifest's repository."""

    repository = ForeignKeyField(Repository)
    manifest = ForeignKeyField(Manifest, index=False)  # (manifest, blob) serves it
    blob = ForeignKeyField(ImageStorage, index=False)  # (blob, repository) serves it

    class Meta:
        table_name = "oci_manifest_blob"
        indexes = (
            (("manifest", "blob"), True),
            # "Does a manifest of this repository use the blob": one probe.
            (("blob", "repository"), False),
        )


class ManifestChild(BaseModel):
    """A manifest a list or index names, stored in the same repository."""

    repository = ForeignKeyField(Repository)
    manifest = ForeignKeyField(Manifest, index=False)  # (manifest, child) serves it
    child_manifest = ForeignKeyField(Manifest, index=True, backref="parents")

    class Meta:
        table_name = "oci_manifest_child"
        indexes = ((("manifest", "child_manifest"), True),)


class Tag(BaseModel):
    """A tag row: a name pointing at a manifest from ``lifetime_start_ms`` to its end (ms).

    ``lifetime_end_ms`` NULL means no end. At most one row per (repository, name) has
    no end, enforced by the database (:data:`ALIVE_TAG_INDEX`). An ``immutable`` tag
    cannot be moved, deleted or expired.
    """

    # (repository, name) serves the foreign key.
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
        indexes = (
            (("repository", "name"), False),
            (("repository", "lifetime_end_ms"), False),
            (("repository", "lifetime_start_ms", "id"), False),  # the newest tag, history
        )


class ManifestLabel(BaseModel):
    """A label of a manifest: one digest, one set of labels, whatever tags point at it."""

    repository = ForeignKeyField(Repository)
    manifest = ForeignKeyField(Manifest, index=False)  # (manifest, label) serves it
    label = ForeignKeyField(Label, unique=True)

    class Meta:
        table_name = "oci_manifest_label"
        indexes = ((("manifest", "label"), True),)


OCI_MODELS = (Manifest, ManifestBlob, ManifestChild, Tag, ManifestLabel)

# The alive-tag rule lives outside the models because its form differs per backend
# (as the pre-OCI wing's); migration 0005 creates it and the schema test checks it.
ALIVE_TAG_INDEX = "oci_tag_alive_name"
ALIVE_TAG_MARKER_COLUMN = "alive_marker"

blob_references.declare(ManifestBlob, ManifestBlob.blob, ManifestBlob.repository)
