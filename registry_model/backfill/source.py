"""Reading the pre-OCI tables for the backfill: a batch of tags with what they point at.

Only reads: the backfill never writes, moves or deletes a pre-OCI row, so the pre-OCI
model keeps answering while it runs. Each function is one statement whatever the batch
size.
"""
from typing import Iterable, NamedTuple, Optional

from peewee import JOIN

from registry_model.model.tables import ImageStorage, Label, Namespace, Repository
from registry_model.pre_oci.ancestors import parse_ancestors
from registry_model.pre_oci.tables import Image, RepositoryTag, TagManifest, TagManifestLabel


class SourceTag(NamedTuple):
    """A pre-OCI tag row with its manifest (None fields when it has none) and image chain."""

    id: int
    repository_id: int
    repository: str
    name: str
    lifetime_start_ts: int
    lifetime_end_ts: Optional[int]
    hidden: bool
    reversion: bool
    tag_manifest_id: Optional[int]
    digest: Optional[str]
    json_data: Optional[str]
    media_type_id: Optional[int]
    image_id: int
    ancestors: str

    def chain_ids(self) -> list:
        """The ids of its legacy images, base first, the tag's own image last."""
        return parse_ancestors(self.ancestors) + [self.image_id]


def count_tags() -> int:
    """How many pre-OCI tag rows there are (the progress bar's total)."""
    return RepositoryTag.select().count()


def tag_batch(after_id: int, limit: int) -> list:
    """The next ``limit`` tag rows after ``after_id`` by id, as SourceTags: one query."""
    query = (RepositoryTag
             .select(RepositoryTag.id, RepositoryTag.repository, Namespace.name,
                     Repository.name, RepositoryTag.name, RepositoryTag.lifetime_start_ts,
                     RepositoryTag.lifetime_end_ts, RepositoryTag.hidden,
                     RepositoryTag.reversion, TagManifest.id, TagManifest.digest,
                     TagManifest.json_data, TagManifest.media_type, Image.id, Image.ancestors)
             .join(Repository).join(Namespace)
             .switch(RepositoryTag).join(Image)
             .switch(RepositoryTag).join(TagManifest, JOIN.LEFT_OUTER)
             .where(RepositoryTag.id > after_id)
             .order_by(RepositoryTag.id).limit(limit))
    return [SourceTag(row[0], row[1], "%s/%s" % (row[2], row[3]), row[4], row[5], row[6],
                      bool(row[7]), bool(row[8]), *row[9:]) for row in query.tuples()]


class ChainImage(NamedTuple):
    """A legacy image row with its blob, as the OCI legacy view keeps it."""

    id: int
    docker_image_id: str
    created: object
    comment: Optional[str]
    command: Optional[str]
    v1_json_metadata: Optional[str]
    aggregate_size: Optional[int]
    storage_id: int
    blob_digest: Optional[str]
    image_size: Optional[int]


def chain_images(image_ids: Iterable[int]) -> dict:
    """``{image id: ChainImage}`` of the given legacy images with their blobs: one query."""
    wanted = sorted(set(image_ids))
    if not wanted:
        return {}
    query = (Image.select(Image.id, Image.docker_image_id, Image.created, Image.comment,
                          Image.command, Image.v1_json_metadata, Image.aggregate_size,
                          ImageStorage.id, ImageStorage.content_checksum,
                          ImageStorage.image_size)
             .join(ImageStorage).where(Image.id.in_(wanted)))
    return {row[0]: ChainImage(*row) for row in query.tuples()}


class SourceLabel(NamedTuple):
    """A label of a pre-OCI tag manifest."""

    link_id: int
    tag_manifest_id: int
    key: str
    value: str
    media_type_id: int
    source_type_id: int


def manifest_labels(tag_manifest_ids: Iterable[int]) -> list:
    """The labels of those tag manifests in creation order, as SourceLabels: one query."""
    wanted = sorted(set(tag_manifest_ids))
    if not wanted:
        return []
    query = (TagManifestLabel
             .select(TagManifestLabel.id, TagManifestLabel.annotated, Label.key, Label.value,
                     Label.media_type, Label.source_type)
             .join(Label).where(TagManifestLabel.annotated.in_(wanted))
             .order_by(Label.id))
    return [SourceLabel(*row) for row in query.tuples()]


class HistoryRow(NamedTuple):
    """One row of a tag name's pre-OCI history, as the backfill pairs it with OCI rows."""

    id: int
    repository_id: int
    name: str
    lifetime_start_ts: int
    lifetime_end_ts: Optional[int]
    hidden: bool
    reversion: bool
    digest: Optional[str]


def tag_histories(names: set) -> list:
    """Every pre-OCI row of those ``(repository id, tag name)`` pairs, by id: one query."""
    if not names:
        return []
    repositories = sorted({repository for repository, _ in names})
    tag_names = sorted({name for _, name in names})
    query = (RepositoryTag
             .select(RepositoryTag.id, RepositoryTag.repository, RepositoryTag.name,
                     RepositoryTag.lifetime_start_ts, RepositoryTag.lifetime_end_ts,
                     RepositoryTag.hidden, RepositoryTag.reversion, TagManifest.digest)
             .join(TagManifest, JOIN.LEFT_OUTER)
             .where(RepositoryTag.repository.in_(repositories),
                    RepositoryTag.name.in_(tag_names))
             .order_by(RepositoryTag.id))
    rows = (HistoryRow(row[0], row[1], row[2], row[3], row[4], bool(row[5]), bool(row[6]),
                       row[7]) for row in query.tuples())
    return [row for row in rows if (row.repository_id, row.name) in names]
