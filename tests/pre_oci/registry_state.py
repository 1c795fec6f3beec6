"""A plain-Python model of what a registry should hold, for the state machine test.

:class:`RegistryState` knows the tag rows (alive, and ended but not collected), the labels of
each tag's manifest, the legacy images, the blob records, the temporary blob links and the
files of the blob store, and restates the rules of the interface docstrings and
:mod:`registry_model.model.gc` over them: moving and ending tags, expirations, the
``quay.expires-after`` handler, and what one collection, the worker and the orphan sweep
remove. Database ids are learnt from what the interface returns; everything else is
predicted here, never read back from the database.
"""
import copy
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

EXPIRES_AFTER_KEY = "quay.expires-after"
# The durations the test uses, as the handler parses them; anything else is a plain label.
DURATIONS = {"30m": 30 * 60, "2h": 2 * 3600, "1d": 86400}
# The GCSummary fields a collection, the worker and the sweep fill.
SUMMARY_FIELDS = ("repositories", "tags", "manifests", "labels", "images", "links", "blobs",
                  "files", "bytes_freed", "recent_files", "orphan_files", "orphan_bytes")


@dataclass
class LabelRow:
    """A label of one manifest row; ``source`` ``manifest`` is immutable."""

    uuid: str
    key: str
    value: str
    source: str


@dataclass
class TagRow:
    """A tag row and its manifest row (in the pre-OCI schema, one manifest per tag row)."""

    id: int
    repo: int
    name: str
    image_id: int
    start: int
    end: Optional[int]
    reversion: bool
    manifest_id: int
    digest: str
    labels: list = field(default_factory=list)
    # What a caller holds after writing the row: the Tag and Manifest datatypes.
    tag: object = None
    manifest: object = None


@dataclass
class ImageRow:
    """A legacy image: its repository, blob digest, parent image id and V1 id."""

    id: int
    repo: int
    digest: str
    parent: Optional[int]
    docker_image_id: str


@dataclass
class Link:
    """A temporary link (UploadedBlob) of a blob to a repository."""

    repo: int
    digest: str
    expires_at: int


class RegistryState:
    """What should exist, and what each operation and collection changes."""

    def __init__(self, now: int, window: int, sizes: dict) -> None:
        self.now = now
        self.window = window
        self.sizes = sizes  # digest -> byte count of the blob pool
        self.tags: dict = {}  # tag row id -> TagRow
        self.images: dict = {}  # image id -> ImageRow
        self.records: dict = {}  # digest -> blob record id
        self.links: list = []
        self.files: dict = {}  # digest -> when it was last written to the store

    def copy(self) -> "RegistryState":
        """A deep copy, for predicting a dry run without changing this model."""
        return copy.deepcopy(self)

    # --- reading -------------------------------------------------------------------

    def is_alive(self, row: TagRow) -> bool:
        return row.end is None or row.end > self.now

    def rows(self, repo: int) -> list:
        return sorted((row for row in self.tags.values() if row.repo == repo),
                      key=lambda row: row.id)

    def alive_rows(self, repo: int) -> list:
        return [row for row in self.rows(repo) if self.is_alive(row)]

    def dead_rows(self, repo: int) -> list:
        return [row for row in self.rows(repo) if not self.is_alive(row)]

    def alive_row(self, repo: int, name: str) -> Optional[TagRow]:
        found = [row for row in self.alive_rows(repo) if row.name == name]
        assert len(found) <= 1, found
        return found[0] if found else None

    def chain(self, image_id: int) -> list:
        """The image and its ancestors, root first."""
        chain = []
        current: Optional[int] = image_id
        while current is not None:
            chain.append(self.images[current])
            current = self.images[current].parent
        return list(reversed(chain))

    def layers(self, image_id: int) -> list:
        """The blob digests of the image's chain, base first."""
        return [image.digest for image in self.chain(image_id)]

    def is_linked(self, repo: int, digest: str) -> bool:
        """A finished blob a push to the repository may reference (see get_repository_blobs)."""
        return digest in self.records and (
            any(image.repo == repo and image.digest == digest for image in self.images.values())
            or any(link.repo == repo and link.digest == digest and link.expires_at > self.now
                   for link in self.links))

    def is_used(self, digest: str) -> bool:
        """Referenced anywhere: by an image or an unexpired link (see used_blob_ids)."""
        return (any(image.digest == digest for image in self.images.values())
                or any(link.digest == digest and link.expires_at > self.now
                       for link in self.links))

    def newest_manifest(self, repo: int, digest: str, alive_only: bool) -> Optional[TagRow]:
        """The row whose manifest lookup_manifest_by_digest returns: the newest of that digest."""
        found = [row for row in self.rows(repo) if row.digest == digest
                 and (self.is_alive(row) or not alive_only)]
        return max(found, key=lambda row: row.manifest_id) if found else None

    # --- writing -------------------------------------------------------------------

    def end_alive(self, repo: int, name: str) -> Optional[TagRow]:
        """End the alive row of the name now (a move or a delete); the ended row, or None."""
        row = self.alive_row(repo, name)
        if row is not None:
            row.end = self.now
        return row

    def alive_rows_of_digest(self, repo: int, digest: str) -> list:
        return [row for row in self.alive_rows(repo) if row.digest == digest]

    def expire_digest(self, repo: int, digest: str, seconds: int) -> None:
        """End every alive tag of that manifest digest ``seconds`` after its start."""
        for row in self.alive_rows_of_digest(repo, digest):
            row.end = row.start + seconds

    def apply_label(self, repo: int, digest: str, key: str, value: str) -> None:
        """The handler of a new label: only ``quay.expires-after`` with a duration acts."""
        if key == EXPIRES_AFTER_KEY and value in DURATIONS:
            self.expire_digest(repo, digest, DURATIONS[value])

    def add_image(self, image: ImageRow) -> bool:
        """Learn an image a write created or reused; False when it was known already."""
        known = self.images.get(image.id)
        if known is None:
            self.images[image.id] = image
            return True
        assert known == image, (known, image)
        return False

    def store_file(self, digest: str) -> None:
        self.files[digest] = self.now

    # --- collection ----------------------------------------------------------------

    def collect_repository(self, repo: int, grace: int) -> Counter:
        """What garbage_collect_repository removes now, removed; the counts it reports."""
        counts: Counter = Counter()
        cutoff = self.now - self.window
        for row in self.rows(repo):
            if row.end is not None and row.end <= cutoff:
                del self.tags[row.id]
                counts.update(tags=1, manifests=1, labels=len(row.labels))
        reached: set = set()
        for row in self.rows(repo):
            reached.update(image.id for image in self.chain(row.image_id))
        candidates = set()
        for image in list(self.images.values()):
            if image.repo == repo and image.id not in reached:
                del self.images[image.id]
                candidates.add(image.digest)
                counts["images"] += 1
        expired = [link for link in self.links
                   if link.repo == repo and link.expires_at <= self.now]
        for link in expired:
            self.links.remove(link)
            candidates.add(link.digest)
        counts["links"] += len(expired)
        self.collect_records(candidates, grace, counts)
        counts["repositories"] += 1
        return counts

    def collect_all(self, repos: list, grace: int) -> Counter:
        """The worker: every repository in id order, then the records nothing references."""
        counts: Counter = Counter()
        for repo in repos:
            counts.update(self.collect_repository(repo, grace))
        self.collect_records(set(self.records), grace, counts)
        return counts

    def collect_records(self, digests: set, grace: int, counts: Counter) -> None:
        """Drop the records of those digests nothing uses, then (after the commit) their files."""
        for digest in sorted(digests):
            if digest not in self.records or self.is_used(digest):
                continue
            del self.records[digest]
            self.links = [link for link in self.links if link.digest != digest]
            counts["blobs"] += 1
            self._remove_file(digest, grace, counts, "files", "bytes_freed")

    def sweep(self, grace: int) -> Counter:
        """sweep_orphan_blobs: files no record names, once older than the grace period."""
        counts: Counter = Counter()
        for digest in sorted(self.files):
            if digest not in self.records:
                self._remove_file(digest, grace, counts, "orphan_files", "orphan_bytes")
        return counts

    def _remove_file(self, digest: str, grace: int, counts: Counter, files: str,
                     size: str) -> None:
        written = self.files.get(digest)
        if written is None:
            return
        if int(written) > self.now - grace:
            counts["recent_files"] += 1
            return
        del self.files[digest]
        counts[files] += 1
        counts[size] += self.sizes[digest]
