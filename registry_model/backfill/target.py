"""Reading and writing the OCI tables for the backfill, in bulk.

Every function is a fixed number of statements whatever the number of rows (up to the
size limits of :mod:`registry_model.backfill.bulk`): reads by IN lists, writes by
multi-row INSERTs and one ``UPDATE ... CASE``. They run inside the batch's
transaction (:mod:`registry_model.backfill.run`).
"""
from collections import Counter
from typing import Iterable, NamedTuple, Optional

from peewee import Case

from registry_model.backfill.bulk import insert_rows
from registry_model.model import label as shared_labels
from registry_model.model import lookup
from registry_model.model.tables import Label
from registry_model.oci.tables import Manifest, ManifestBlob, ManifestLabel, Tag


class TargetTag(NamedTuple):
    """An OCI tag row with its manifest's digest, as the backfill pairs it with pre-OCI rows."""

    id: int
    repository_id: int
    name: str
    lifetime_start_ms: int
    lifetime_end_ms: Optional[int]
    hidden: bool
    reversion: bool
    digest: str


def tags_named(names: set) -> list:
    """Every OCI tag row of those ``(repository id, tag name)`` pairs, by id: one query."""
    if not names:
        return []
    query = (Tag.select(Tag.id, Tag.repository, Tag.name, Tag.lifetime_start_ms,
                        Tag.lifetime_end_ms, Tag.hidden, Tag.reversion, Manifest.digest)
             .join(Manifest)
             .where(Tag.repository.in_(sorted({repository for repository, _ in names})),
                    Tag.name.in_(sorted({name for _, name in names})))
             .order_by(Tag.id))
    rows = (TargetTag(row[0], row[1], row[2], row[3], row[4], bool(row[5]), bool(row[6]),
                      row[7]) for row in query.tuples())
    return [row for row in rows if (row.repository_id, row.name) in names]


def manifest_ids(pairs: set) -> dict:
    """``{(repository id, digest): OCI manifest id}`` of those that exist: one query."""
    if not pairs:
        return {}
    query = (Manifest.select(Manifest.repository, Manifest.digest, Manifest.id)
             .where(Manifest.repository.in_(sorted({repository for repository, _ in pairs})),
                    Manifest.digest.in_(sorted({digest for _, digest in pairs}))))
    return {(row[0], row[1]): row[2] for row in query.tuples() if (row[0], row[1]) in pairs}


class NewManifest(NamedTuple):
    """An OCI manifest row to write, with the blob ids it references."""

    repository_id: int
    digest: str
    media_type_id: int
    manifest_bytes: bytes
    layer_history: Optional[str]
    blob_ids: tuple


def insert_manifests(manifests: list) -> tuple:
    """Write the manifests and their blob rows, 3 statements: ``({(repository id, digest):
    id}, blob rows written)``."""
    if not manifests:
        return {}, 0
    insert_rows(Manifest, (Manifest.repository, Manifest.digest, Manifest.media_type,
                           Manifest.manifest_bytes, Manifest.layer_history),
                [(new.repository_id, new.digest, new.media_type_id, new.manifest_bytes,
                  new.layer_history) for new in manifests])
    ids = manifest_ids({(new.repository_id, new.digest) for new in manifests})
    links = [(new.repository_id, ids[new.repository_id, new.digest], blob_id)
             for new in manifests for blob_id in dict.fromkeys(new.blob_ids)]
    insert_rows(ManifestBlob, (ManifestBlob.repository, ManifestBlob.manifest,
                               ManifestBlob.blob), links)
    return ids, len(links)


def update_tags(changes: dict) -> int:
    """Set end and ``hidden`` of the OCI tags ``{tag id: (end ms or None, hidden)}``: one
    statement."""
    if not changes:
        return 0
    ids = sorted(changes)
    # ELSE the column: the CASE then has the column's type even when every new end is
    # NULL (PostgreSQL would read an all-NULL CASE as text).
    (Tag.update(lifetime_end_ms=Case(Tag.id, [(tag_id, changes[tag_id][0]) for tag_id in ids],
                                     Tag.lifetime_end_ms),
                hidden=Case(Tag.id, [(tag_id, changes[tag_id][1]) for tag_id in ids], Tag.hidden))
     .where(Tag.id.in_(ids)).execute())
    return len(changes)


TAG_FIELDS = (Tag.repository, Tag.name, Tag.manifest, Tag.lifetime_start_ms,
              Tag.lifetime_end_ms, Tag.hidden, Tag.reversion, Tag.immutable)


def insert_tags(rows: list) -> int:
    """Write the OCI tag rows (tuples in the order of :data:`TAG_FIELDS`): one statement."""
    insert_rows(Tag, TAG_FIELDS, rows)
    return len(rows)


LabelContent = tuple  # (key, value, media type id, source type id)


def label_counts(manifest_ids_: Iterable[int]) -> dict:
    """``{manifest id: Counter of LabelContent}`` of the OCI manifests' labels: one query."""
    wanted = sorted(set(manifest_ids_))
    counts: dict = {manifest_id: Counter() for manifest_id in wanted}
    if not wanted:
        return counts
    query = (ManifestLabel.select(ManifestLabel.manifest, Label.key, Label.value,
                                  Label.media_type, Label.source_type)
             .join(Label).where(ManifestLabel.manifest.in_(wanted)))
    for manifest_id, *content in query.tuples():
        counts[manifest_id][tuple(content)] += 1
    return counts


def insert_labels(labels: list) -> int:
    """Copy labels onto OCI manifests: ``labels`` holds ``(repository id, manifest id,
    LabelContent)``; new Label rows (new uuids: a Label row belongs to one link, and each
    wing deletes the rows it unlinks), then their links. Three statements."""
    if not labels:
        return 0
    sources, media = lookup.names("source_types"), lookup.names("media_types")
    rows = shared_labels.insert_labels([(key, value, sources[source_type_id],
                                         media[media_type_id])
                                        for _, _, (key, value, media_type_id, source_type_id)
                                        in labels])
    ManifestLabel.insert_many([{"repository": repository_id, "manifest": manifest_id,
                                "label": row.id}
                               for (repository_id, manifest_id, _), row
                               in zip(labels, rows, strict=True)]).execute()
    return len(rows)
