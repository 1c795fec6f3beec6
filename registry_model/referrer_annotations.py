"""The top-level annotations of referrer manifests, parsed once per process.

What :class:`registry_model.datatypes.Referrer` shows of a manifest's bytes, in a module of
its own because it is a cache, not a value: parsing is most of the cost of a referrers
listing (5 us a referrer, where the statement takes 1 us a row on SQLite), and the same few
manifests are listed again and again. Standard library only.
"""
import json

# A pure function of the exact bytes: each entry is ``digest: (bytes, annotations)`` and is
# used only for equal bytes (comparing them costs half of hashing them). Bounded.
MEMO: dict = {}
MEMO_MAX = 2048


def annotations_of(digest: str, manifest_bytes: bytes) -> dict:
    """The top-level annotations of a referrer's manifest bytes (the memo's copy: not to be
    changed). ``digest`` keys the memo; the bytes decide, so a row whose bytes differ from
    what its digest named before is parsed again."""
    known = MEMO.get(digest)
    if known is not None and known[0] == manifest_bytes:
        return known[1]
    annotations = json.loads(manifest_bytes).get("annotations") or {}
    if len(MEMO) >= MEMO_MAX:
        MEMO.clear()
    MEMO[digest] = (manifest_bytes, annotations)
    return annotations
