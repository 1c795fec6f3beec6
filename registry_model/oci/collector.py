"""Garbage collection of the OCI wing: dead tags, then the manifests nothing needs.

::

    collector = OCICollector(store)
    collector.collect_repository(repository_id)     # purged when marked for deletion

The blob records, links, uploads and the locking protocol every wing shares are in
:mod:`registry_model.model.collection`; this wing adds, before them, in transactions of at
most ``batch_size`` rows:

1. tag rows that ended at least the namespace's time-machine window ago, and hidden
   temporary tags (of pushes by digest) once ended, since nothing can restore them; every
   tag row when purging;
2. manifests nothing needs any more, with their labels, blob rows and child rows. A
   manifest is *kept* while a remaining tag row points at it, while a kept list or index
   has it as a child (a child two lists share stays while either does), or while its
   subject is a kept manifest (a referrer stays with its subject and goes when it goes,
   a referrer of a referrer too). Lists go before their children. A lookup by digest
   (:mod:`registry_model.oci.manifest`) walks the same graph from the manifest up, so
   what it finds under any tag row is what this keeps.

The plan is one statement (the repository's manifests, child rows and tag rows as one
UNION ALL, closed over in Python); each batch locks its manifests, plans again, reads
the batch's labels and blob rows in one statement and deletes: at most 8 statements.

A push locks the children it names (``manifest.store_manifest``) and the blob records of
its layers, and a tag's foreign key names its manifest; the collector locks the manifests
it is about to delete and decides again under that lock, counting every manifest created
since its plan as kept, so one of them waits for the other and nothing referenced is lost.
"""
import logging
from typing import Optional

from peewee import JOIN, SQL, chunked

from registry_model.model.collection import Collector, write
from registry_model.model.tables import Label
from registry_model.oci.tables import Manifest, ManifestBlob, ManifestChild, ManifestLabel, Tag
from registry_model.transactions import locked

logger = logging.getLogger(__name__)

# Row kinds of the one-statement plan (``_graph``) and of a batch's references.
_MANIFEST, _CHILD, _TAGGED = 0, 1, 2
_LABEL, _BLOB = 0, 1


def _graph(repository_id: int, tagged_only_if=None):
    """The repository's manifest graph as one UNION ALL of ``(kind, a, b)`` integer rows.

    ``(_MANIFEST, manifest id, id of its subject here or NULL)``, ``(_CHILD, list id,
    child id)``, ``(_TAGGED, manifest id, manifest id)`` for every tag row
    (``tagged_only_if`` narrows which). Integers only, so every backend types the
    union alike; the subject is matched to its row in SQL (``(repository, digest)``).
    """
    subject = Manifest.alias("subject_manifest")
    manifests = (Manifest.select(SQL(str(_MANIFEST)), Manifest.id, subject.id)
                 .join(subject, JOIN.LEFT_OUTER,
                       on=((subject.repository == Manifest.repository)
                           & (subject.digest == Manifest.subject)))
                 .where(Manifest.repository == repository_id))
    children = (ManifestChild.select(SQL(str(_CHILD)), ManifestChild.manifest,
                                     ManifestChild.child_manifest)
                .where(ManifestChild.repository == repository_id))
    tags = Tag.select(SQL(str(_TAGGED)), Tag.manifest, Tag.manifest).where(
        Tag.repository == repository_id)
    if tagged_only_if is not None:
        tags = tags.where(tagged_only_if)
    return manifests + children + tags


def plan(repository_id: int, tagged_only_if=None, watermark: Optional[int] = None) -> tuple:
    """``(every manifest id, kept manifest ids)`` of the repository: one statement.

    Kept: a tag row (``tagged_only_if`` narrows which count: a dry run's view of the
    ones it would keep) points at it, a kept list has it as a child, or its subject is
    kept; manifests above ``watermark`` (created after a plan) count as kept.
    """
    every: set = set()
    needs: dict = {}  # manifest id -> the manifests kept because it is
    kept: set = set()
    for kind, first, second in _graph(repository_id, tagged_only_if).tuples():
        if kind == _MANIFEST:
            every.add(first)
            if second is not None:  # a referrer stays with its subject
                needs.setdefault(second, []).append(first)
        elif kind == _CHILD:
            needs.setdefault(first, []).append(second)
        else:
            kept.add(first)
    if watermark is not None:
        kept.update(manifest_id for manifest_id in every if manifest_id > watermark)
    pending = list(kept)
    while pending:
        for needed in needs.get(pending.pop(), ()):
            if needed not in kept:
                kept.add(needed)
                pending.append(needed)
    return every, kept & every


def kept_manifest_ids(repository_id: int, tagged_only_if=None,
                      watermark: Optional[int] = None) -> set:
    """Ids of the repository's manifests that a tag, a kept list or a kept subject needs.

    One statement (see :func:`plan`).
    """
    return plan(repository_id, tagged_only_if, watermark)[1]


def _references(ids: list) -> tuple:
    """``([label ids], [(blob row id, storage id)])`` of those manifests: one statement."""
    rows = (ManifestLabel.select(SQL(str(_LABEL)), ManifestLabel.label, ManifestLabel.label)
            .where(ManifestLabel.manifest.in_(ids))
            + ManifestBlob.select(SQL(str(_BLOB)), ManifestBlob.id, ManifestBlob.blob)
            .where(ManifestBlob.manifest.in_(ids))).tuples()
    labels, blobs = [], []
    for kind, first, second in rows:
        if kind == _LABEL:
            labels.append(first)
        else:
            blobs.append((first, second))
    return sorted(labels), sorted(blobs)


class OCICollector(Collector):
    """The collector of the OCI wing's rows (tags, manifests, their labels, blobs, children)."""

    def collect_wing_rows(self, repository_id: int, cutoff: Optional[int]) -> list:
        """Dead tags, then the manifests nothing needs (see the module).

        ``cutoff`` is in Unix seconds, as every wing's; tag ends are milliseconds.
        """
        gone = None if cutoff is None else self._dead_tags(cutoff * 1000)
        self._collect_tags(repository_id, gone)
        return self._collect_manifests(repository_id, gone)

    def _dead_tags(self, cutoff_ms: int):
        """WHERE clause of the tag rows that go: ended at or before ``cutoff_ms``, or hidden
        and ended at all (no one can restore a hidden tag from the time machine)."""
        return ((Tag.lifetime_end_ms <= cutoff_ms)
                | ((Tag.hidden == True) & (Tag.lifetime_end_ms <= self.now * 1000)))  # noqa: E712

    def _collect_tags(self, repository_id: int, gone) -> None:
        """Tag rows ``gone`` selects (None: all): 2 statements per batch."""
        after = 0
        while True:
            def batch(after=after) -> list:
                query = Tag.select(Tag.id).where(Tag.repository == repository_id, Tag.id > after)
                if gone is not None:
                    query = query.where(gone)
                ids = [row[0] for row in query.order_by(Tag.id).limit(self.batch_size).tuples()]
                if ids and not self.dry_run:
                    Tag.delete().where(Tag.id.in_(ids)).execute()
                return ids

            ids = batch() if self.dry_run else write(batch)
            self.counts["tags"] += len(ids)
            if len(ids) < self.batch_size:
                return
            after = ids[-1]

    def _collect_manifests(self, repository_id: int, gone) -> list:
        """Unneeded manifests: 1 statement to plan, then at most 8 per batch (1 in a dry run).

        Returns ``(ManifestBlob, row id, storage id)`` of the blob rows that went.
        """
        surviving = None
        if self.dry_run:  # nothing was deleted: count the tag rows the run would keep
            surviving = ((Tag.lifetime_end_ms.is_null(True) | ~gone) if gone is not None
                         else (Tag.id < 0))
        every, kept = plan(repository_id, surviving)
        if not every:
            return []
        watermark = max(every)
        collected: list = []
        # Newest first: a list is newer than its children (they must exist when it is
        # pushed), so an interrupted run never leaves a list that lost a child row, which
        # a re-push of the same digest would find and tag as it is.
        for ids in chunked(sorted(every - kept, reverse=True), self.batch_size):
            if self.dry_run:
                labels, blobs = _references(ids)
                manifests = len(ids)
            else:
                manifests, labels, blobs = write(
                    lambda ids=ids: self._delete_manifests(repository_id, ids, watermark))
            self.counts.update(manifests=manifests, labels=len(labels))
            collected += [(ManifestBlob, row_id, storage_id) for row_id, storage_id in blobs]
        return collected

    def _delete_manifests(self, repository_id: int, ids: list, watermark: int) -> tuple:
        """Lock the batch, decide again, delete what is still unneeded: at most 8 statements,
        one transaction.

        ``(manifests, [label ids], [(blob row id, storage id)])`` that went.
        """
        rows = [row[0] for row in locked(Manifest.select(Manifest.id)
                                         .where(Manifest.id.in_(ids))
                                         .order_by(Manifest.id)).tuples()]
        if not rows:
            return 0, [], []
        kept = kept_manifest_ids(repository_id, watermark=watermark)
        going = [manifest_id for manifest_id in rows if manifest_id not in kept]
        if not going:
            return 0, [], []
        labels, blobs = _references(going)
        if labels:
            ManifestLabel.delete().where(ManifestLabel.manifest.in_(going)).execute()
            Label.delete().where(Label.id.in_(labels)).execute()
        if blobs:
            ManifestBlob.delete().where(ManifestBlob.manifest.in_(going)).execute()
        # A doomed manifest's parents are doomed too (a kept list keeps its children), so
        # the rows naming it as a child go in this batch or went in an earlier one.
        (ManifestChild.delete().where(ManifestChild.manifest.in_(going)
                                      | ManifestChild.child_manifest.in_(going)).execute())
        Manifest.delete().where(Manifest.id.in_(going)).execute()
        return len(going), labels, blobs
