"""What the latency benchmark times on the OCI model, and the raw SQL that answers each read.

The cases of :mod:`cases`, for the methods whose work happens in the OCI wing
(``registry_model.oci_model``): tag lookups and listings, manifests by tag and by digest
(an index's child and a referrer too), referrers, the legacy image view, labels. Methods
written once for both models (repositories, blobs and uploads) are timed by :mod:`cases`.

Each raw statement returns the same rows as the interface, with the checks the interface
must make (a manifest's visibility by digest, a Manifest handle against its digest). The
legacy view is built from each image manifest's stored layer history (JSON, one entry per
layer): the raw side runs the same statements and reads that JSON into one dict per layer
(``json`` in C), which is the least any caller does to see the layers; the interface also
builds a LegacyImage per layer with its parents, V1 id, times and command. The case marked
``raw: statements only`` compares the listing with the bare statements instead, and
``raw: + an object and a link a row`` with the raw side plus the allocations any
implementation of the datatype makes (:func:`cases.with_floor_objects`).
"""
import json
import uuid
from typing import Any, Callable, Optional

import cases
from cases import (
    LABEL_COLUMNS,
    LABEL_PREFIX,
    Case,
    Context,
    _one,
    _rows,
    floor_count,
    with_floor_objects,
)

from registry_model.manifests import parse_manifest_from_bytes

ALIVE = "(t.lifetime_end_ms IS NULL OR t.lifetime_end_ms > %s)"
TAGS = ("SELECT t.id, t.repository_id, t.name, t.manifest_id, t.lifetime_start_ms, "
        "t.lifetime_end_ms, t.hidden, t.reversion, t.immutable, m.digest, "
        "m.layers_compressed_size FROM oci_tag t JOIN oci_manifest m ON m.id = t.manifest_id ")
MANIFEST_COLUMNS = "m.id, m.digest, m.media_type_id, m.manifest_bytes"
HISTORY_COLUMNS = "m.id, m.digest, m.layer_history"


def _now_ms(ctx: Context) -> int:
    return ctx.now * 1000


# --- tags ----------------------------------------------------------------------------------

def _raw_find_matching_tag(cur, ctx: Context) -> list:
    return _rows(cur, TAGS + "WHERE t.repository_id = %%s AND t.name IN (%%s, %%s) AND %s "
                 "AND t.hidden = %%s" % ALIVE, ctx.repository.id, "missing", "latest",
                 _now_ms(ctx), False)


def _raw_repo_tag(cur, ctx: Context) -> list:
    return _rows(cur, TAGS + "WHERE t.repository_id = %%s AND t.name = %%s AND %s "
                 "AND t.hidden = %%s" % ALIVE, ctx.repository.id, "latest", _now_ms(ctx), False)


def _raw_most_recent(cur, ctx: Context) -> list:
    return _rows(cur, TAGS + "WHERE t.repository_id = %%s AND %s AND t.hidden = %%s "
                 "ORDER BY t.lifetime_start_ms DESC, t.id DESC LIMIT 1" % ALIVE,
                 ctx.repository.id, _now_ms(ctx), False)


def _raw_active_tags(limit: Optional[int]) -> Callable:
    return cases._raw_active_tags(limit, TAGS, ALIVE, _now_ms)


def _raw_history(tag_name: Optional[str]) -> Callable:
    return cases._raw_history(tag_name, TAGS, "t.lifetime_start_ms")


def _raw_has_expired(cur, ctx: Context) -> list:
    return _rows(cur, "SELECT 1 FROM oci_tag t WHERE t.repository_id = %s AND t.name = %s "
                 "AND t.hidden = %s AND t.lifetime_end_ms <= %s LIMIT 1",
                 ctx.repository.id, ctx.dead_tag, False, _now_ms(ctx))


# --- manifests -----------------------------------------------------------------------------

def _raw_manifest_for_tag(cur, ctx: Context) -> list:
    return _rows(cur, "SELECT %s FROM oci_manifest m JOIN oci_tag t ON t.manifest_id = m.id "
                 "WHERE t.id = %%s AND t.name = %%s" % MANIFEST_COLUMNS, ctx.tag.id, ctx.tag.name)


# Every manifest that keeps the one asked for, walked upwards: the lists naming it as a child
# and the manifest its subject names, at any depth and in any mix. One recursive term, as
# PostgreSQL allows one reference to the CTE there and MariaDB has no LATERAL: each member
# meets two constant rows, 0 taking its parents and 1 its subject.
KEPT_BY = (
    "WITH RECURSIVE kept_by(id) AS ("
    "SELECT m.id FROM oci_manifest m WHERE m.repository_id = %s AND m.digest = %s "
    "UNION SELECT COALESCE(c.manifest_id, (SELECT s.id FROM oci_manifest s "
    "WHERE s.repository_id = %s AND s.digest = k_m.subject)) "
    "FROM kept_by k CROSS JOIN (SELECT 0 AS kind UNION ALL SELECT 1) step "
    "LEFT JOIN oci_manifest_child c ON step.kind = 0 AND c.child_manifest_id = k.id "
    "LEFT JOIN oci_manifest k_m ON step.kind = 1 AND k_m.id = k.id "
    "WHERE c.id IS NOT NULL OR k_m.subject IS NOT NULL) ")


def _visible_by_digest(alive: bool) -> str:
    """The manifest of that digest when a tag (alive when asked) points at a manifest that
    keeps it."""
    when = " AND " + ALIVE if alive else ""
    return (KEPT_BY + "SELECT %s FROM oci_manifest m WHERE m.repository_id = %%s "
            "AND m.digest = %%s AND EXISTS (SELECT 1 FROM kept_by k WHERE EXISTS "
            "(SELECT 1 FROM oci_tag t WHERE t.manifest_id = k.id%s))"
            % (MANIFEST_COLUMNS, when))


def _raw_by_digest(digest_key: str, alive: bool = True) -> Callable:
    sql = _visible_by_digest(alive)

    def raw(cur, ctx: Context) -> list:
        repository, digest = ctx.repository.id, ctx.extra[digest_key]
        now = [_now_ms(ctx)] if alive else []
        return _rows(cur, sql, repository, digest, repository, repository, digest, *now)
    return raw


def _raw_referrers(artifact_type: Optional[str]) -> Callable:
    def raw(cur, ctx: Context) -> list:
        sql = ("SELECT m.digest, m.media_type_id, m.artifact_type, m.manifest_bytes "
               "FROM oci_manifest m WHERE m.repository_id = %s AND m.subject = %s")
        params = [ctx.repository.id, ctx.manifest.digest]
        if artifact_type is not None:
            sql += " AND m.artifact_type = %s"
            params.append(artifact_type)
        return _rows(cur, sql + " ORDER BY m.id", *params)
    return raw


# --- the legacy view -----------------------------------------------------------------------

ALIVE_TAG_NAMES = ("SELECT t.manifest_id, t.name FROM oci_tag t WHERE t.repository_id = %%s "
                   "AND %s AND t.hidden = %%s ORDER BY t.name" % ALIVE)
_decode = json.JSONDecoder().decode


def _raw_manifest_rows(cur, ctx: Context) -> list:
    """The image manifests' rows as stored (layer history as JSON text), and tag names."""
    rows = _rows(cur, "SELECT %s FROM oci_manifest m WHERE m.repository_id = %%s "
                 "AND m.layer_history IS NOT NULL ORDER BY m.id" % HISTORY_COLUMNS,
                 ctx.repository.id)
    _rows(cur, ALIVE_TAG_NAMES, ctx.repository.id, _now_ms(ctx), False)
    return rows


def _raw_legacy_images(cur, ctx: Context) -> list:
    """The same rows, and each manifest's layer history read into one dict per layer."""
    return [layer for row in _raw_manifest_rows(cur, ctx) for layer in _decode(row[2])]


def _layers(rows: list) -> int:
    """How many legacy images the manifest rows make (read after the timing)."""
    return sum(len(json.loads(row[2])) for row in rows)


def _raw_legacy_image_layers(cur, ctx: Context) -> list:
    """The manifest the V1 id names (by digest prefix) and its layers read from its JSON."""
    prefix = ctx.leaf.docker_image_id[:56]
    rows = _rows(cur, "SELECT %s FROM oci_manifest m WHERE m.repository_id = %%s "
                 "AND m.layer_history IS NOT NULL AND ((m.digest >= %%s AND m.digest < %%s) OR "
                 "(m.digest >= %%s AND m.digest < %%s)) ORDER BY m.id LIMIT 1" % HISTORY_COLUMNS,
                 ctx.repository.id, "sha256:" + prefix, "sha256:" + prefix + "g",
                 "sha512:" + prefix, "sha512:" + prefix + "g")
    return _decode(rows[0][2]) if rows else []


def _raw_owned_by_tag(cur, ctx: Context) -> list:
    rows = _rows(cur, "SELECT %s FROM oci_manifest m JOIN oci_tag t ON t.manifest_id = m.id "
                 "WHERE t.id = %%s AND t.name = %%s" % HISTORY_COLUMNS, ctx.tag.id, ctx.tag.name)
    others = _rows(cur, "SELECT t.id FROM oci_tag t WHERE t.manifest_id = %%s AND %s "
                   "AND t.id <> %%s LIMIT 1" % ALIVE, rows[0][0], _now_ms(ctx), ctx.tag.id)
    return [] if others else _decode(rows[0][2])  # its layers, as the listing's raw reads


# --- labels --------------------------------------------------------------------------------

LABELS_OF_CHECKED_MANIFEST = (
    "SELECT %s FROM label l JOIN oci_manifest_label ml ON ml.label_id = l.id "
    "JOIN oci_manifest m ON m.id = ml.manifest_id WHERE ml.manifest_id = %%s AND m.digest = %%s"
    % LABEL_COLUMNS)


def _raw_labels(cur, ctx: Context) -> list:
    return _rows(cur, LABELS_OF_CHECKED_MANIFEST + " ORDER BY l.id", ctx.manifest.id,
                 ctx.manifest.digest)


def _raw_labels_prefix(cur, ctx: Context) -> list:
    return _rows(cur, LABELS_OF_CHECKED_MANIFEST + " AND SUBSTR(l.key, 1, %s) = %s ORDER BY l.id",
                 ctx.manifest.id, ctx.manifest.digest, len(LABEL_PREFIX), LABEL_PREFIX)


def _raw_label(cur, ctx: Context) -> list:
    return _rows(cur, LABELS_OF_CHECKED_MANIFEST + " AND l.uuid = %s", ctx.manifest.id,
                 ctx.manifest.digest, ctx.label_uuid)


READS = [
    Case("find_matching_tag", lambda c, m: m.find_matching_tag(c.repository, ["missing", "latest"]),
         _raw_find_matching_tag, _one),
    Case("get_most_recent_tag", lambda c, m: m.get_most_recent_tag(c.repository),
         _raw_most_recent, _one),
    Case("get_repo_tag", lambda c, m: m.get_repo_tag(c.repository, "latest"),
         _raw_repo_tag, _one),
    Case("get_manifest_for_tag", lambda c, m: m.get_manifest_for_tag(c.tag),
         _raw_manifest_for_tag, _one),
    Case("lookup_manifest_by_digest",
         lambda c, m: m.lookup_manifest_by_digest(c.repository, c.manifest.digest),
         _raw_by_digest("manifest_digest"), _one),
    Case("lookup_manifest_by_digest(index child)",
         lambda c, m: m.lookup_manifest_by_digest(c.repository, c.extra["child_digest"]),
         _raw_by_digest("child_digest"), _one),
    Case("lookup_manifest_by_digest(referrer)",
         lambda c, m: m.lookup_manifest_by_digest(c.repository, c.extra["referrer_digest"]),
         _raw_by_digest("referrer_digest"), _one),
    Case("lookup_manifest_by_digest(allow_dead)",
         lambda c, m: m.lookup_manifest_by_digest(c.repository, c.dead_digest, allow_dead=True),
         _raw_by_digest("dead_digest", alive=False), _one),
    Case("lookup_referrers", lambda c, m: m.lookup_referrers(c.repository, c.manifest.digest),
         _raw_referrers(None), len),
    Case("lookup_referrers(artifact_type)",
         lambda c, m: m.lookup_referrers(c.repository, c.manifest.digest,
                                         c.extra["artifact_type"]),
         _raw_referrers("application/spdx+json"), len),
    Case("get_legacy_images", lambda c, m: m.get_legacy_images(c.repository),
         _raw_legacy_images, len),
    Case("get_legacy_images(raw: statements only)",
         lambda c, m: m.get_legacy_images(c.repository), _raw_manifest_rows, len, _layers),
    Case("get_legacy_images(raw: + an object and a link a row)",
         lambda c, m: m.get_legacy_images(c.repository),
         with_floor_objects(_raw_legacy_images, dict.values), len, floor_count),
    Case("get_legacy_image", lambda c, m: m.get_legacy_image(c.repository,
                                                              c.leaf.docker_image_id),
         _raw_legacy_image_layers, _one, lambda rows: int(bool(rows))),
    Case("get_legacy_image(include_parents)",
         lambda c, m: m.get_legacy_image(c.repository, c.leaf.docker_image_id,
                                         include_parents=True),
         _raw_legacy_image_layers, lambda r: 1 + len(r.parents)),
    Case("get_legacy_images_owned_by_tag", lambda c, m: m.get_legacy_images_owned_by_tag(c.tag),
         _raw_owned_by_tag, len),
    Case("list_manifest_labels", lambda c, m: m.list_manifest_labels(c.manifest),
         _raw_labels, len),
    Case("list_manifest_labels(key_prefix)",
         lambda c, m: m.list_manifest_labels(c.manifest, key_prefix=LABEL_PREFIX),
         _raw_labels_prefix, len),
    Case("get_manifest_label", lambda c, m: m.get_manifest_label(c.manifest, c.label_uuid),
         _raw_label, _one),
    *cases.tag_listing_cases(_raw_active_tags, _raw_history, _raw_has_expired),
]


# --- writes (inside a transaction that is rolled back) --------------------------------------

def _new_manifest(c: Context) -> Any:
    """``latest``'s manifest under a new annotation: a new digest over the same blobs."""
    document = json.loads(c.manifest.manifest_bytes)
    document["annotations"] = {"dev.example.build": uuid.uuid4().hex}
    return parse_manifest_from_bytes(json.dumps(document, indent=3).encode(),
                                     c.manifest.media_type)


WRITES = [
    Case("create_manifest_and_retarget_tag",
         lambda c, m, parsed: m.create_manifest_and_retarget_tag(c.repository, parsed,
                                                                 "bench-push", None),
         prepare=_new_manifest),
    Case("create_manifest_and_retarget_tag(existing manifest)",
         lambda c, m: m.create_manifest_and_retarget_tag(c.repository, c.extra["latest_parsed"],
                                                         "bench-push", None)),
    Case("retarget_tag", lambda c, m: m.retarget_tag(c.repository, "latest", c.other_manifest,
                                                     None, None)),
    Case("delete_tag", lambda c, m: m.delete_tag(c.repository, "latest")),
    Case("change_tag_immutability", lambda c, m: m.change_tag_immutability(c.tag, True)),
    Case("create_manifest_label",
         lambda c, m: m.create_manifest_label(c.manifest, "com.example.new", '{"a": 1}', "api")),
]
