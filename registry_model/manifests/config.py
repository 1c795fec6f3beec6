"""Image configs (Docker ``container.image.v1+json`` and OCI ``image.config.v1+json``).

An image manifest's config blob says what the image runs on and how it was built: the
``architecture`` and ``os`` (required), ``config.Labels``, the build ``history`` (one entry per
build step; ``empty_layer`` steps made no layer) and ``rootfs.diff_ids``, the uncompressed
digests of the layers, base first. Docker writes ``null`` for empty Go maps and slices
(``"Labels": null``), so ``null`` reads as absent for every optional field here.

Typical use::

    config = ImageConfig(config_bytes)
    config.labels, config.diff_ids, config.layer_history
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Mapping, TypeVar

from registry_model.manifests import fields
from registry_model.manifests.digests import (
    DEFAULT_DIGEST_ALGORITHM,
    check_digest,
    compute_digest,
)
from registry_model.manifests.errors import ManifestFieldException

T = TypeVar("T")


@dataclass(frozen=True)
class ConfigHistoryEntry:
    """One build step of ``history``; ``empty_layer`` steps (ENV, LABEL, ...) made no layer."""

    created: str | None = None
    created_by: str | None = None
    author: str | None = None
    comment: str | None = None
    empty_layer: bool = False


def _nullable(parent: dict, key: str, where: str,
              reader: Callable[[dict, str, str], T]) -> T | None:
    """``reader``'s value for ``key``, or None when the key is absent or null."""
    if parent.get(key) is None:
        return None
    return reader(parent, key, where)


def _optional_string(parent: dict, key: str, where: str) -> str | None:
    return _nullable(parent, key, fields.path(where, key),
                     lambda obj, name, at: fields.read_string(obj, name, at))


def _history_entry(value: object, where: str) -> ConfigHistoryEntry:
    if not isinstance(value, dict):
        raise ManifestFieldException(where, f"is {fields.json_type(value)}, not an object")
    empty_layer = value.get("empty_layer")
    if empty_layer is not None and not isinstance(empty_layer, bool):
        raise ManifestFieldException(fields.path(where, "empty_layer"),
                                     f"is {fields.json_type(empty_layer)}, not a boolean")
    return ConfigHistoryEntry(
        created=_optional_string(value, "created", where),
        created_by=_optional_string(value, "created_by", where),
        author=_optional_string(value, "author", where),
        comment=_optional_string(value, "comment", where),
        empty_layer=bool(empty_layer),
    )


def _labels(document: dict) -> Mapping[str, str]:
    config = _nullable(document, "config", "config",
                       lambda obj, key, at: fields.read_object(obj, key, at))
    if config is None or config.get("Labels") is None:
        return MappingProxyType({})
    return fields.read_annotations(config, "Labels", "config.Labels")


class ImageConfig:
    """A parsed image config; immutable.

    Raises :class:`ManifestFieldException` naming the field for a missing ``architecture``,
    ``os`` or ``rootfs``, a ``rootfs.type`` other than ``layers``, a malformed diff id, or a
    field of the wrong type.
    """

    def __init__(self, config_bytes: bytes,
                 digest_algorithm: str = DEFAULT_DIGEST_ALGORITHM) -> None:
        self._bytes = fields.check_size_limit(config_bytes)
        self._digest = compute_digest(self._bytes, digest_algorithm)
        document = fields.load_document(self._bytes)
        self._architecture = fields.read_string(document, "architecture", "architecture")
        self._os = fields.read_string(document, "os", "os")
        self._variant = _optional_string(document, "variant", "")
        self._os_version = _optional_string(document, "os.version", "")
        self._created = _optional_string(document, "created", "")
        self._author = _optional_string(document, "author", "")
        self._labels = _labels(document)
        rootfs = fields.read_object(document, "rootfs", "rootfs")
        rootfs_type = fields.read_string(rootfs, "type", "rootfs.type")
        if rootfs_type != "layers":
            raise ManifestFieldException("rootfs.type", f"is {rootfs_type[:50]!r}, not 'layers'")
        diff_ids = fields.read_array(rootfs, "diff_ids", "rootfs.diff_ids")
        self._diff_ids = tuple(check_digest(diff_id, f"rootfs.diff_ids[{index}]")
                               for index, diff_id in enumerate(diff_ids))
        history = _nullable(document, "history", "history",
                            lambda obj, key, at: fields.read_array(obj, key, at)) or []
        self._history = tuple(_history_entry(entry, f"history[{index}]")
                              for index, entry in enumerate(history))

    @property
    def bytes(self) -> bytes:
        """The config exactly as given."""
        return self._bytes

    @property
    def digest(self) -> str:
        """The digest of :attr:`bytes` (sha256 unless parsed for sha512)."""
        return self._digest

    @property
    def architecture(self) -> str:
        """The CPU architecture, e.g. ``amd64``."""
        return self._architecture

    @property
    def os(self) -> str:
        """The operating system, e.g. ``linux``."""
        return self._os

    @property
    def variant(self) -> str | None:
        """The CPU variant, e.g. ``v8``; None when absent."""
        return self._variant

    @property
    def os_version(self) -> str | None:
        """``os.version`` (Windows builds); None when absent."""
        return self._os_version

    @property
    def created(self) -> str | None:
        """When the image was created (RFC 3339 text as written); None when absent."""
        return self._created

    @property
    def author(self) -> str | None:
        """The image author; None when absent."""
        return self._author

    @property
    def labels(self) -> Mapping[str, str]:
        """``config.Labels`` (read-only); empty when absent or null."""
        return self._labels

    @property
    def diff_ids(self) -> tuple[str, ...]:
        """``rootfs.diff_ids``: the uncompressed layer digests, base first."""
        return self._diff_ids

    @property
    def history(self) -> tuple[ConfigHistoryEntry, ...]:
        """Every build step, empty ones included, oldest first."""
        return self._history

    @property
    def layer_history(self) -> tuple[ConfigHistoryEntry | None, ...]:
        """One entry per layer (per diff id), base first: the non-empty history steps in
        order. A layer the history does not describe (a short or missing history) gets None;
        non-empty steps beyond the last layer are not reported here (see :attr:`history`)."""
        steps = [entry for entry in self._history if not entry.empty_layer]
        return tuple(steps[index] if index < len(steps) else None
                     for index in range(len(self._diff_ids)))

    def __repr__(self) -> str:
        return f"<ImageConfig {self._os}/{self._architecture} {self._digest}>"
