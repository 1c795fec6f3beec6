"""Conversions between an image config and the legacy V1 JSON of each of its layers.

The pre-OCI schema stores one ``Image`` row per layer with its V1 JSON (``v1_json_metadata``), as
``docker save`` archives and schema 1 manifests carry it; ``docker save`` archives and registries
speaking schema 2 carry one image config instead. This module goes both ways:

- :func:`v1_layers_from_config` follows Docker distribution's schema 2 -> schema 1 conversion:
  one JSON per layer, base first, ids chained from the layer digest and the parent id; every
  layer but the top one gets ``created``, ``author``, ``comment`` and ``container_config.Cmd``
  (``[created_by]``) from its history entry, while the top one is the image config itself
  without ``rootfs`` and ``history``.
- :func:`config_from_v1_layers` follows Docker's V1 -> config conversion
  (``MakeConfigFromV1Config``): the top JSON minus the V1-only keys, plus ``rootfs`` and a
  ``history`` rebuilt from every layer's JSON.

Unlike schema 1, which has an entry for every history entry, the V1 layers made here exist only
for real layers (one per ``rootfs.diff_ids`` entry, like ``docker save``): history entries marked
``empty_layer`` are **dropped**. The image's configuration (Env, Cmd, Labels, ...) lives in the
top JSON, so nothing but those history lines is lost on a round trip. ``throwaway`` entries met on
the way back (schema 1 data, old archives) become ``empty_layer`` history entries again.

Typical use::

    v1_jsons = v1_layers_from_config(config_bytes, diff_ids)     # base first
    config_bytes = config_from_v1_layers(v1_jsons, diff_ids)
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Sequence
from typing import Any

from registry_model.archive import ArchiveException

logger = logging.getLogger(__name__)

_SHA256_DIGEST = re.compile(r"sha256:([0-9a-f]{64})", re.ASCII)
# Docker's V1Image marshals a zero time.Time when a layer has no creation time.
_EPOCH = "1970-01-01T00:00:00Z"
# Keys that only make sense in V1 JSON; Docker drops them when it builds a config from it.
_V1_ONLY_KEYS = ("id", "parent", "Size", "parent_id", "layer_id", "throwaway")


def load_json_object(data: bytes | str, what: str) -> dict[str, Any]:
    """Parse ``data`` as a JSON object, raising :class:`ArchiveException` naming ``what``.

    Used for every JSON document read from an archive or handed in by a caller, so a malformed
    one never surfaces as a ``ValueError`` (or a ``RecursionError`` on deeply nested garbage).
    """
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ArchiveException(f"{what} is not valid JSON: {str(exc).splitlines()[0]}") from None
    if not isinstance(value, dict):
        raise ArchiveException(f"{what} is not a JSON object")
    return value


def diff_id_hex(digest: object, what: str) -> str:
    """Return the hex part of a ``sha256:<64 lowercase hex>`` digest or raise ArchiveException."""
    match = _SHA256_DIGEST.fullmatch(digest) if isinstance(digest, str) else None
    if match is None:
        raise ArchiveException(f"{what} {digest!r} is not a sha256 digest")
    return match.group(1)


def config_diff_ids(config: dict[str, Any], what: str = "image config") -> list[str]:
    """Return ``rootfs.diff_ids`` of a parsed image config, checked, or raise ArchiveException."""
    rootfs = config.get("rootfs")
    if not isinstance(rootfs, dict) or not isinstance(rootfs.get("diff_ids"), list):
        raise ArchiveException(f"{what} has no rootfs.diff_ids list")
    if rootfs.get("type") != "layers":
        raise ArchiveException(f"{what} has rootfs type {rootfs.get('type')!r}, not 'layers'")
    diff_ids = rootfs["diff_ids"]
    for index, diff_id in enumerate(diff_ids):
        diff_id_hex(diff_id, f"{what}: rootfs.diff_ids[{index}]")
    return list(diff_ids)


def _dump(data: dict[str, Any]) -> str:
    # Go's json.Marshal of a map, which Docker uses here: sorted keys, no spaces.
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _history_for_layers(config: dict[str, Any], layer_count: int) -> list[dict[str, Any]]:
    history = config.get("history")
    blank: list[dict[str, Any]] = [{} for _ in range(layer_count)]
    if not history or not isinstance(history, list):
        return blank
    real = [entry for entry in history if isinstance(entry, dict) and not entry.get("empty_layer")]
    if len(real) != layer_count or len(history) != sum(isinstance(h, dict) for h in history):
        # A config whose history does not line up with its layers still converts; only the
        # per-layer history details are lost.
        logger.warning("image config history has %d non-empty entries for %d layers; ignoring it",
                       len(real), layer_count)
        return blank
    return real


def _text(entry: dict[str, Any], key: str) -> str | None:
    value = entry.get(key)
    return value if isinstance(value, str) and value else None


def v1_layers_from_config(config_bytes: bytes, diff_ids: Sequence[str]) -> list[str]:
    """Return the V1 JSON string of each layer of an image, base first.

    ``diff_ids`` are the layers' uncompressed digests; when the config has ``rootfs.diff_ids``
    they must be the same list. Each layer's id is the SHA-256 of ``"<diff_id hex> <parent id>"``
    (``" <config bytes>"`` appended for the top layer, so images with the same layers but another
    config get another top id), as Docker distribution derives schema 1 ids. Lower layers carry
    ``id``, ``parent``, ``created``, ``container_config.Cmd`` (``[created_by]``), ``comment``,
    ``author`` and ``os`` from their history entry; the top layer is the config without
    ``rootfs``/``history`` plus ``id``/``parent``, and gets its history entry's command as
    ``container_config.Cmd`` (and ``comment``) only when the config has none (BuildKit configs).
    History entries marked ``empty_layer`` are dropped. Raises :class:`ArchiveException` for a
    malformed config or digest, or when ``diff_ids`` disagree with the config.
    """
    config = load_json_object(config_bytes, "image config")
    diff_ids = list(diff_ids)
    hexes = [diff_id_hex(d, f"layer {i} diff_id") for i, d in enumerate(diff_ids)]
    if isinstance(config.get("rootfs"), dict) and config_diff_ids(config) != diff_ids:
        raise ArchiveException("the diff_ids given do not match the image config's rootfs.diff_ids")
    history = _history_for_layers(config, len(diff_ids))
    image_created = _text(config, "created")
    os_name = _text(config, "os")

    v1_jsons: list[str] = []
    parent = ""
    for index, (hex_digest, entry) in enumerate(zip(hexes, history, strict=True)):
        created_by = _text(entry, "created_by")
        if index == len(diff_ids) - 1:
            raw_config = config_bytes.encode() if isinstance(config_bytes, str) else config_bytes
            seed = f"{hex_digest} {parent} ".encode() + raw_config
            data = {k: v for k, v in config.items() if k not in ("rootfs", "history")}
            if not data.get("container_config") and created_by:
                data["container_config"] = {"Cmd": [created_by]}
            if not data.get("comment") and _text(entry, "comment"):
                data["comment"] = entry["comment"]
        else:
            seed = f"{hex_digest} {parent}".encode()
            data = {"created": _text(entry, "created") or image_created or _EPOCH}
            if created_by:
                data["container_config"] = {"Cmd": [created_by]}
            for key in ("comment", "author"):
                if _text(entry, key):
                    data[key] = entry[key]
            if os_name:
                data["os"] = os_name
        v1_id = hashlib.sha256(seed).hexdigest()
        data["id"] = v1_id
        if parent:
            data["parent"] = parent
        else:
            data.pop("parent", None)
        v1_jsons.append(_dump(data))
        parent = v1_id
    return v1_jsons


def _created_by(v1: dict[str, Any]) -> str | None:
    container_config = v1.get("container_config")
    command = container_config.get("Cmd") if isinstance(container_config, dict) else None
    if isinstance(command, str):
        return command or None
    if isinstance(command, list) and command and all(isinstance(p, str) for p in command):
        # Docker's HistoryFromConfig joins the V1 command with spaces.
        return " ".join(command)
    return None


def config_from_v1_layers(v1_jsons_base_first: Sequence[bytes | str],
                          diff_ids: Sequence[str]) -> bytes:
    """Rebuild image config bytes from the V1 JSON of each layer, base first.

    The top JSON gives every image field (``architecture``, ``os``, ``config`` with its Labels,
    Env and Cmd, ``container_config``, ``created``, ``docker_version``, ``author``, ...) minus the
    V1-only keys (``id``, ``parent``, ``Size``, ``parent_id``, ``layer_id``, ``throwaway``);
    ``rootfs`` becomes ``{"type": "layers", "diff_ids": diff_ids}`` and ``history`` gets one entry
    per JSON (``created``, ``author``, ``comment``, ``created_by`` = the command joined by
    spaces, ``empty_layer`` for ``throwaway`` JSONs). The JSONs that are not ``throwaway`` must
    be exactly one per diff_id. The output is sorted, compact JSON. Raises
    :class:`ArchiveException` for malformed JSON or digests or a count mismatch.
    """
    diff_ids = list(diff_ids)
    for index, diff_id in enumerate(diff_ids):
        diff_id_hex(diff_id, f"layer {index} diff_id")
    layers = [load_json_object(raw, f"V1 JSON of layer {i}")
              for i, raw in enumerate(v1_jsons_base_first)]
    if not layers:
        raise ArchiveException("an image needs at least one V1 layer JSON")
    real = sum(1 for layer in layers if layer.get("throwaway") is not True)
    if real != len(diff_ids):
        raise ArchiveException(
            f"{real} V1 layer JSONs with content for {len(diff_ids)} diff_ids")

    history = []
    for layer in layers:
        entry: dict[str, Any] = {}
        for key in ("created", "author", "comment"):
            if _text(layer, key):
                entry[key] = layer[key]
        created_by = _created_by(layer)
        if created_by:
            entry["created_by"] = created_by
        if layer.get("throwaway") is True:
            entry["empty_layer"] = True
        history.append(entry)

    config = {k: v for k, v in layers[-1].items() if k not in _V1_ONLY_KEYS}
    config["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
    config["history"] = history
    return _dump(config).encode("utf-8")
