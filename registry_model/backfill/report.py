"""What a backfill did: counts, and every pre-OCI row it could not carry (kept as it was)."""
from typing import NamedTuple


class RejectedRow(NamedTuple):
    """A pre-OCI row the backfill left where it was, and why.

    ``table`` names the pre-OCI table (``repository_tag``, ``tag_manifest_label``),
    ``row_id`` its id there, ``repository`` the ``namespace/name`` and ``name`` the tag
    name (or label key) a person recognises.
    """

    table: str
    row_id: int
    repository: str
    name: str
    reason: str


class BackfillReport(NamedTuple):
    """The counts of one backfill run and the rows it could not carry.

    ``tags_seen`` is every pre-OCI tag row looked at; ``tags_carried``,
    ``manifests_carried``, ``blobs_linked`` and ``labels_carried`` count OCI rows this
    run wrote (0 on a run over data carried before); ``tags_updated`` counts carried
    tags whose end or ``hidden`` changed in the pre-OCI table since and was brought over;
    ``rejected`` lists what stays only in the pre-OCI tables.
    """

    batches: int = 0
    tags_seen: int = 0
    tags_carried: int = 0
    manifests_carried: int = 0
    blobs_linked: int = 0
    labels_carried: int = 0
    tags_updated: int = 0
    rejected: tuple = ()

    def add(self, other: "BackfillReport") -> "BackfillReport":
        """The two reports' counts summed and their rejected rows joined."""
        return BackfillReport(*(mine + theirs for mine, theirs in zip(self, other, strict=True)))

    @property
    def changed(self) -> bool:
        """Whether this run wrote anything to the OCI tables."""
        return any((self.tags_carried, self.manifests_carried, self.blobs_linked,
                    self.labels_carried, self.tags_updated))
