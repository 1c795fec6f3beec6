"""Which pre-OCI tag rows the OCI tables already hold, which to carry, which changes to bring over.

No state of its own: a pre-OCI row and an OCI row are the same tag when they agree on
repository, name, start (seconds as milliseconds), manifest digest and reversion, what
a tag row never changes after it is written. Rows with the same key pair up in id order,
so a run over carried data pairs every row and writes nothing (idempotent), a run cut off
after some batches finds those batches' rows paired and carries the rest (resumable), and
a pre-OCI row whose end or ``hidden`` changed since it was carried (its tag moved,
deleted, re-expired or hidden meanwhile) has the change brought over to its pair.
"""
from collections import defaultdict
from typing import NamedTuple, Optional


def end_ms(end_ts: Optional[int]) -> Optional[int]:
    """A pre-OCI end (Unix seconds, None for none) in OCI milliseconds."""
    return end_ts * 1000 if end_ts is not None else None


def _key(repository_id: int, name: str, start_ms: int, digest: str, reversion: bool) -> tuple:
    return (repository_id, name, start_ms, digest, bool(reversion))


class TagPlan(NamedTuple):
    """What one batch writes: ``updates`` ``{OCI tag id: (end ms, hidden)}`` of carried rows
    that changed, ``carry`` (pre-OCI HistoryRows to copy) and ``conflicts`` (pre-OCI rows
    alive while an OCI row of the name that is not their copy is alive too: carrying them,
    or lifting their copy's end, would give a name two alive rows)."""

    updates: dict
    carry: list
    conflicts: list


def plan_tags(batch_ids: set, history: list, oci_tags: list) -> TagPlan:
    """Pair the pre-OCI ``history`` of the batch's tag names with their ``oci_tags``.

    ``history`` holds every pre-OCI row of those names (HistoryRow, by id; rows without a
    manifest are left out by the caller), ``oci_tags`` every OCI row (TargetTag, by id);
    only rows whose id is in ``batch_ids`` are carried, later ones wait for their batch.
    """
    oci_by_key = defaultdict(list)
    for row in oci_tags:
        oci_by_key[_key(row.repository_id, row.name, row.lifetime_start_ms, row.digest,
                        row.reversion)].append(row)
    updates: dict = {}
    wanted: list = []
    source_of: dict = {}
    taken: dict = defaultdict(int)
    for row in history:
        key = _key(row.repository_id, row.name, row.lifetime_start_ts * 1000, row.digest,
                   row.reversion)
        place = taken[key]
        taken[key] += 1
        if place < len(oci_by_key[key]):
            pair = oci_by_key[key][place]
            source_of[pair.id] = row
            now = (end_ms(row.lifetime_end_ts), bool(row.hidden))
            if (pair.lifetime_end_ms, bool(pair.hidden)) != now:
                updates[pair.id] = now
        elif row.id in batch_ids:
            wanted.append(row)
    conflicts: list = []
    alive_count: dict = defaultdict(int)
    for row in oci_tags:
        if updates.get(row.id, (row.lifetime_end_ms,))[0] is None:
            alive_count[row.repository_id, row.name] += 1
    for row in oci_tags:  # an end lifted while another row of the name is alive: kept
        if (row.id in updates and updates[row.id][0] is None
                and row.lifetime_end_ms is not None
                and alive_count[row.repository_id, row.name] > 1):
            del updates[row.id]
            alive_count[row.repository_id, row.name] -= 1
            conflicts.append(source_of[row.id])
    alive = {name for name, count in alive_count.items() if count}
    carry = []
    for row in wanted:
        name = (row.repository_id, row.name)
        if row.lifetime_end_ts is None:
            if name in alive:
                conflicts.append(row)
                continue
            alive.add(name)
        carry.append(row)
    return TagPlan(updates, carry, conflicts)
