"""The plain-Python model of one OCI repository the state machine checks the database against.

Times are Unix milliseconds, as the OCI wing's tag rows keep them; a collection is given
whole seconds, as the collector takes them. The rules are the contract's, written as
directly as possible: a tag row is alive while it has no end or its end is ahead; the
collector drops rows ended a window ago (a hidden row once ended), then keeps every
manifest a remaining row points at, with the children of every kept list and the
referrers of every kept manifest, and drops the rest, then the blob records nothing
names any more. A manifest is found by digest when the same walk from the alive tag
rows alone (every row, dead ones too, when asked) reaches it.
"""
from dataclasses import dataclass, field
from typing import Optional


@dataclass
class TagRow:
    """A tag row: ``name`` (a random one for a hidden temporary tag) on a manifest digest."""

    name: str
    digest: str
    start: int
    end: Optional[int] = None
    hidden: bool = False
    immutable: bool = False


@dataclass
class ManifestRow:
    """A stored manifest: its database id, blob digests, child digests, subject, labels."""

    id: int
    blobs: frozenset
    children: tuple = ()
    subject: Optional[str] = None
    labels: list = field(default_factory=list)  # (key, value)


@dataclass
class Link:
    """A temporary link of a blob to the repository, until ``expires`` (seconds)."""

    digest: str
    expires: int


class RepositoryState:
    """Manifests (in push order), tag rows, links and blob records of one repository."""

    def __init__(self, now_ms: int, window_s: int) -> None:
        self.now = now_ms
        self.window = window_s
        self.manifests: dict = {}  # digest -> ManifestRow, in push order
        self.tags: list = []
        self.links: list = []
        self.records: set = set()  # blob digests with a record

    # --- reads ---------------------------------------------------------------------

    def is_alive(self, row: TagRow) -> bool:
        return row.end is None or row.end > self.now

    def alive(self, name: str) -> Optional[TagRow]:
        """The alive, visible row of that name, or None."""
        rows = [row for row in self.tags if row.name == name and not row.hidden
                and self.is_alive(row)]
        assert len(rows) <= 1, rows
        return rows[0] if rows else None

    def linked(self, digest: str) -> bool:
        """A push may use the blob: a manifest here names it, or an unexpired link."""
        now_s = self.now // 1000
        return (any(link.digest == digest and link.expires > now_s for link in self.links)
                or any(digest in row.blobs for row in self.manifests.values()))

    def visible(self, digest: str, any_tag: bool = False) -> bool:
        """What lookup_manifest_by_digest finds: what a collection would keep if only the
        alive tag rows (every row with ``any_tag``) counted."""
        return digest in self.needed_by(row.digest for row in self.tags
                                        if any_tag or self.is_alive(row))

    def needed_by(self, tagged) -> set:
        """The ``tagged`` digests with the children of every list among them and the
        referrers of every manifest among them, at any depth."""
        needed = set(tagged)
        pending = list(needed)
        while pending:
            digest = pending.pop()
            for other in list(self.manifests[digest].children) + self.referrers(digest):
                if other in self.manifests and other not in needed:
                    needed.add(other)
                    pending.append(other)
        return needed

    def referrers(self, digest: str) -> list:
        return [referrer for referrer, row in self.manifests.items() if row.subject == digest]

    # --- writes --------------------------------------------------------------------

    def end_alive(self, name: str) -> Optional[TagRow]:
        row = self.alive(name)
        if row is not None:
            row.end = self.now
        return row

    def move(self, name: str, digest: str, lifetime_ms: Optional[int] = None) -> TagRow:
        self.end_alive(name)
        row = TagRow(name, digest, self.now,
                     self.now + lifetime_ms if lifetime_ms is not None else None)
        self.tags.append(row)
        return row

    def expires_after(self, digest: str) -> Optional[int]:
        """Milliseconds the manifest's newest valid quay.expires-after label gives a tag."""
        units = {"s": 1, "m": 60, "h": 3600}
        lifetime = None
        for key, value in self.manifests[digest].labels:
            if key == "quay.expires-after" and value[:-1].isdigit() and value[-1] in units:
                lifetime = int(value[:-1]) * units[value[-1]] * 1000
        return lifetime

    # --- collection ----------------------------------------------------------------

    def kept(self) -> set:
        return self.needed_by(row.digest for row in self.tags)

    def collect(self) -> dict:
        """Collect as the collector does at the current second; the summary's counts."""
        now_s = self.now // 1000
        cutoff = (now_s - self.window) * 1000
        dead = [row for row in self.tags if row.end is not None
                and (row.end <= cutoff or (row.hidden and row.end <= now_s * 1000))]
        self.tags = [row for row in self.tags if row not in dead]
        kept = self.kept()
        going = [digest for digest in self.manifests if digest not in kept]
        candidates = set()
        labels = 0
        for digest in going:
            row = self.manifests.pop(digest)
            candidates |= row.blobs
            labels += len(row.labels)
        expired = [link for link in self.links if link.expires <= now_s]
        self.links = [link for link in self.links if link not in expired]
        candidates |= {link.digest for link in expired}
        used = {blob for row in self.manifests.values() for blob in row.blobs}
        used |= {link.digest for link in self.links}
        blobs = {digest for digest in candidates if digest in self.records and digest not in used}
        self.records -= blobs
        return {"tags": len(dead), "manifests": len(going), "labels": labels,
                "links": len(expired), "blobs": len(blobs)}
