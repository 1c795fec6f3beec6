"""Garbage collection of the pre-OCI wing: dead tags, their manifests and labels, images.

::

    collector = PreOCICollector(store)
    collector.collect_repository(repository_id)     # purged when marked for deletion
    counts, last_id = collect_all(collector)        # the worker, over every repository

The blob records, links, uploads and the locking protocol every wing shares are in
:mod:`registry_model.model.collection`; this wing adds, before them, in transactions of at
most ``batch_size`` rows:

1. tag rows that ended at least the namespace's time-machine window
   (``removed_tag_expiration_s``) ago, with their tag manifests and those manifests' labels
   (TagManifestLabel links and Label rows); every tag row when purging;
2. legacy images no remaining tag row reaches: an image stays while a remaining tag points at
   it or at one of its descendants (``Image.ancestors``), so a kept image keeps its whole
   chain. Children go before their parents, so an interrupted run never breaks a chain.

A push locks the existing legacy images its chain builds on (``image.synthesize_image_chain``)
as the collector locks the images it is about to delete, so one of them waits for the other.
"""
import logging
import operator
from functools import reduce
from typing import Optional

from peewee import JOIN, chunked

from registry_model.model.collection import Collector, write
from registry_model.model.tables import Label
from registry_model.pre_oci.ancestors import depth, parse_ancestors
from registry_model.pre_oci.tables import Image, RepositoryTag, TagManifest, TagManifestLabel
from registry_model.transactions import locked

logger = logging.getLogger(__name__)


class PreOCICollector(Collector):
    """The collector of the pre-OCI wing's rows (tags, tag manifests, labels, legacy images)."""

    def collect_wing_rows(self, repository_id: int, cutoff: Optional[int]) -> list:
        """Dead tags with their manifests and labels, then unreached images (see the module)."""
        self._collect_tags(repository_id, cutoff)
        return self._collect_images(repository_id, cutoff)

    def _collect_tags(self, repository_id: int, cutoff: Optional[int]) -> None:
        """Dead tag rows, their manifests and labels: 6 statements per batch."""
        after = 0
        while True:
            def batch(after=after) -> tuple:
                query = (RepositoryTag.select(RepositoryTag.id, TagManifest.id)
                         .join(TagManifest, JOIN.LEFT_OUTER,
                               on=(TagManifest.tag == RepositoryTag.id))
                         .where(RepositoryTag.repository == repository_id,
                                RepositoryTag.id > after))
                if cutoff is not None:
                    query = query.where(RepositoryTag.lifetime_end_ts <= cutoff)
                rows = list(query.order_by(RepositoryTag.id).limit(self.batch_size).tuples())
                tag_ids = [tag_id for tag_id, _ in rows]
                manifest_ids = [manifest_id for _, manifest_id in rows if manifest_id is not None]
                label_ids = [row[0] for row in TagManifestLabel.select(TagManifestLabel.label)
                             .where(TagManifestLabel.annotated.in_(manifest_ids)).tuples()
                             ] if manifest_ids else []
                if not self.dry_run and rows:
                    if manifest_ids:
                        (TagManifestLabel.delete()
                         .where(TagManifestLabel.annotated.in_(manifest_ids)).execute())
                    if label_ids:
                        Label.delete().where(Label.id.in_(label_ids)).execute()
                    if manifest_ids:
                        TagManifest.delete().where(TagManifest.id.in_(manifest_ids)).execute()
                    RepositoryTag.delete().where(RepositoryTag.id.in_(tag_ids)).execute()
                return tag_ids, manifest_ids, label_ids

            tag_ids, manifest_ids, label_ids = batch() if self.dry_run else write(batch)
            self.counts.update(tags=len(tag_ids), manifests=len(manifest_ids),
                               labels=len(label_ids))
            if len(tag_ids) < self.batch_size:
                return
            after = tag_ids[-1]

    def _reachable(self, repository_id: int, cutoff: Optional[int],
                   watermark: Optional[int]) -> set:
        """Ids of the images a tag row reaches, ancestors included: one query.

        Once the tag phase has run, every tag row left counts: the kept ones, and any a
        concurrent writer ended since (its foreign key would refuse the image's deletion
        anyway). A dry run deleted nothing, so it counts the rows it would keep. Images above
        ``watermark`` (created after the plan was made) count as reached too, so a chain a
        concurrent writer grew on a doomed image keeps its ancestors.
        """
        roots = []
        if not (self.dry_run and cutoff is None):
            tags = RepositoryTag.select(RepositoryTag.image).where(
                RepositoryTag.repository == repository_id)
            if self.dry_run:
                tags = tags.where(RepositoryTag.lifetime_end_ts.is_null(True)
                                  | (RepositoryTag.lifetime_end_ts > cutoff))
            roots.append(Image.id.in_(tags))
        if watermark is not None:
            roots.append(Image.id > watermark)
        if not roots:
            return set()
        reached: set = set()
        for image_id, ancestors in (Image.select(Image.id, Image.ancestors)
                                    .where(Image.repository == repository_id,
                                           reduce(operator.or_, roots)).tuples()):
            reached.add(image_id)
            reached.update(parse_ancestors(ancestors))
        return reached

    def _collect_images(self, repository_id: int, cutoff: Optional[int]) -> list:
        """Unreachable images, deepest first: 2 statements, then 3 per batch.

        Returns ``(Image, image id, storage id)`` of the images collected.
        """
        images = list(Image.select(Image.id, Image.ancestors, Image.storage)
                      .where(Image.repository == repository_id).tuples())
        if not images:
            return []
        watermark = max(image_id for image_id, _, _ in images)
        reached = self._reachable(repository_id, cutoff, watermark=None)
        doomed = sorted((image for image in images if image[0] not in reached),
                        key=lambda image: (-depth(image[1]), -image[0]))
        collected: list = []
        for batch in chunked(doomed, self.batch_size):
            ids = [image_id for image_id, _, _ in batch]
            if self.dry_run:
                gone = [(image_id, storage_id) for image_id, _, storage_id in batch]
            else:
                def delete_unreached(ids=ids) -> list:
                    rows = list(locked(Image.select(Image.id, Image.storage)
                                       .where(Image.id.in_(ids)).order_by(Image.id)).tuples())
                    kept = self._reachable(repository_id, cutoff, watermark)
                    going = [row for row in rows if row[0] not in kept]
                    if going:
                        (Image.delete().where(Image.id.in_([image_id for image_id, _ in going]))
                         .execute())
                    return going
                gone = write(delete_unreached)
            collected += [(Image, image_id, storage_id) for image_id, storage_id in gone]
        self.counts["images"] += len(collected)
        return collected
