"""Garbage collection of the OCI wing: dead tags, then the manifests nothing needs.

::

    collector = OCICollector(store)
    collector.collect_repository(repository_id)     # purged when marked for deletion

The blob records, links, uploads and the locking protocol every wing shares are in
:mod:`registry_model.model.collection`; this wing adds, before them, in transactions of at
most ``batch_size`` rows:

1. tag rows (hidden temporary tags too) that ended at least the namespace's time-machine
   window ago; every tag row when purging;
2. manifests nothing needs any more, with their labels, blob rows and child rows. A
   manifest is *kept* while a remaining tag row points at it, while a kept list or index
   has it as a child (a child two lists share stays while either does), or while its
   subject is a kept manifest (a referrer stays with its subject and goes when it goes).

A push locks the children it names (``manifest.store_manifest``) and the blob records of
its layers, and a tag's foreign key names its manifest; the collector locks the manifests
it is about to delete and decides again under that lock, counting every manifest created
since its plan as kept, so one of them waits for the other and nothing referenced is lost.
"""
import logging
from typing import Optional

from peewee import chunked

from registry_model.model.collection import Collector, write
from registry_model.model.tables import Label
from registry_model.oci.tables import Manifest, ManifestBlob, ManifestChild, ManifestLabel, Tag
from registry_model.transactions import locked

logger = logging.getLogger(__name__)


def kept_manifest_ids(repository_id: int, tagged_only_if=None,
                      watermark: Optional[int] = None) -> set:
    """Ids of the repository's manifests that a tag, a kept list or a kept subject needs.

    Three queries: the manifests, their child rows, the tag rows (``tagged_only_if``
    narrows which tag rows count: a dry run's view of the ones it would keep). Manifests
    above ``watermark`` (created after a plan) count as kept.
    """
    manifests = list(Manifest.select(Manifest.id, Manifest.digest, Manifest.subject)
                     .where(Manifest.repository == repository_id).tuples())
    children: dict = {}
    for parent, child in (ManifestChild.select(ManifestChild.manifest,
                                               ManifestChild.child_manifest)
                          .where(ManifestChild.repository == repository_id).tuples()):
        children.setdefault(parent, []).append(child)
    tags = Tag.select(Tag.manifest).where(Tag.repository == repository_id)
    if tagged_only_if is not None:
        tags = tags.where(tagged_only_if)
    kept = {row[0] for row in tags.distinct().tuples()}
    if watermark is not None:
        kept.update(manifest_id for manifest_id, _, _ in manifests if manifest_id > watermark)
    referrers: dict = {}
    digests = {}
    for manifest_id, digest, subject in manifests:
        digests[manifest_id] = digest
        if subject is not None:
            referrers.setdefault(subject, []).append(manifest_id)
    pending = list(kept)
    while pending:
        manifest_id = pending.pop()
        for needed in children.get(manifest_id, []) + referrers.get(digests.get(manifest_id), []):
            if needed not in kept:
                kept.add(needed)
                pending.append(needed)
    return kept


class OCICollector(Collector):
    """The collector of the OCI wing's rows (tags, manifests, their labels, blobs, children)."""

    def collect_wing_rows(self, repository_id: int, cutoff: Optional[int]) -> list:
        """Dead tags, then the manifests nothing needs (see the module)."""
        cutoff_ms = cutoff * 1000 if cutoff is not None else None
        self._collect_tags(repository_id, cutoff_ms)
        return self._collect_manifests(repository_id, cutoff_ms)

    def _collect_tags(self, repository_id: int, cutoff_ms: Optional[int]) -> None:
        """Tag rows ended at or before ``cutoff_ms`` (None: all): 2 statements per batch."""
        after = 0
        while True:
            def batch(after=after) -> list:
                query = Tag.select(Tag.id).where(Tag.repository == repository_id, Tag.id > after)
                if cutoff_ms is not None:
                    query = query.where(Tag.lifetime_end_ms <= cutoff_ms)
                ids = [row[0] for row in query.order_by(Tag.id).limit(self.batch_size).tuples()]
                if ids and not self.dry_run:
                    Tag.delete().where(Tag.id.in_(ids)).execute()
                return ids

            ids = batch() if self.dry_run else write(batch)
            self.counts["tags"] += len(ids)
            if len(ids) < self.batch_size:
                return
            after = ids[-1]

    def _collect_manifests(self, repository_id: int, cutoff_ms: Optional[int]) -> list:
        """Unneeded manifests: 4 statements to plan, then at most 11 per batch (2 in a dry run).

        Returns ``(ManifestBlob, row id, storage id)`` of the blob rows that went.
        """
        surviving = None
        if self.dry_run:  # nothing was deleted: count the tag rows the run would keep
            surviving = (Tag.lifetime_end_ms.is_null(True) | (Tag.lifetime_end_ms > cutoff_ms)
                         if cutoff_ms is not None else (Tag.id < 0))
        all_ids = [row[0] for row in Manifest.select(Manifest.id)
                   .where(Manifest.repository == repository_id).tuples()]
        if not all_ids:
            return []
        watermark = max(all_ids)
        kept = kept_manifest_ids(repository_id, surviving)
        doomed = sorted(set(all_ids) - kept)
        collected: list = []
        for ids in chunked(doomed, self.batch_size):
            if self.dry_run:
                manifests, labels, blobs = self._count_manifests(ids)
            else:
                manifests, labels, blobs = write(
                    lambda ids=ids: self._delete_manifests(repository_id, ids, watermark))
            self.counts.update(manifests=manifests, labels=labels)
            collected += [(ManifestBlob, row_id, storage_id) for row_id, storage_id in blobs]
        return collected

    def _count_manifests(self, ids: list) -> tuple:
        labels = ManifestLabel.select().where(ManifestLabel.manifest.in_(ids)).count()
        blobs = list(ManifestBlob.select(ManifestBlob.id, ManifestBlob.blob)
                     .where(ManifestBlob.manifest.in_(ids)).tuples())
        return len(ids), labels, blobs

    def _delete_manifests(self, repository_id: int, ids: list, watermark: int) -> tuple:
        """Lock the batch, decide again, delete what is still unneeded (one transaction).

        ``(manifests, labels, [(blob row id, storage id)])`` that went.
        """
        rows = [row[0] for row in locked(Manifest.select(Manifest.id)
                                         .where(Manifest.id.in_(ids))
                                         .order_by(Manifest.id)).tuples()]
        kept = kept_manifest_ids(repository_id, watermark=watermark)
        going = [manifest_id for manifest_id in rows if manifest_id not in kept]
        if not going:
            return 0, 0, []
        label_ids = [row[0] for row in ManifestLabel.select(ManifestLabel.label)
                     .where(ManifestLabel.manifest.in_(going)).tuples()]
        blobs = list(ManifestBlob.select(ManifestBlob.id, ManifestBlob.blob)
                     .where(ManifestBlob.manifest.in_(going)).tuples())
        if label_ids:
            ManifestLabel.delete().where(ManifestLabel.manifest.in_(going)).execute()
            Label.delete().where(Label.id.in_(label_ids)).execute()
        if blobs:
            ManifestBlob.delete().where(ManifestBlob.manifest.in_(going)).execute()
        (ManifestChild.delete().where(ManifestChild.manifest.in_(going)
                                      | ManifestChild.child_manifest.in_(going)).execute())
        Manifest.delete().where(Manifest.id.in_(going)).execute()
        return len(going), len(label_ids), blobs
