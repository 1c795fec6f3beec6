"""Read ``docker save`` archives (the ``docker-archive`` transport), streaming layers.

Layouts read, all described by a top-level ``manifest.json`` naming one image:

- legacy (``docker save`` 1.10 to 24): ``<v1 id>/layer.tar``, ``<v1 id>/json``, ``<v1 id>/VERSION``
  per layer, ``<config hex>.json``, ``repositories``;
- containers/image (skopeo, podman): ``<diff_id hex>.tar`` layers and ``<config hex>.json``, plus
  legacy folders whose ``layer.tar`` is a symlink to the layer file;
- Docker 25 and later: OCI-style ``blobs/sha256/<hex>`` paths in ``manifest.json``.

Layers in these archives are uncompressed tars, so a layer's blob digest is its diff_id; each
stream checks the bytes it hands out against the config's ``rootfs.diff_ids`` and raises
:class:`ArchiveException` at the end of a layer that does not match. A whole archive compressed
with gzip (``docker save | gzip``) is read too, more slowly. Writing is
:mod:`registry_model.archive.writer`.

Typical use::

    archive = read_docker_archive("in.tar")
    for layer in archive.layers:
        with layer.open() as stream:
            store(layer.diff_id, stream)
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
import posixpath
import re
import tarfile
import zlib
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from registry_model.archive import ArchiveException
from registry_model.archive.v1 import config_diff_ids, load_json_object

logger = logging.getLogger(__name__)

# manifest.json, configs and V1 JSON are read into memory: cap them so a hostile archive
# cannot make us allocate a layer's worth of bytes for "metadata".
MAX_METADATA_BYTES = 16 * 1024 * 1024
_CHUNK = 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_HEX_NAME = re.compile(r"(?:blobs/sha256/)?([0-9a-f]{64})(?:\.json)?", re.ASCII)
# Errors the standard library raises on a damaged tar or gzip stream.
_STREAM_ERRORS = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError)


class _Source:
    """Where the archive bytes come from: a path opened per stream or one shared file object."""

    def __init__(self, path: str | None, fileobj: BinaryIO | None, gzipped: bool):
        self.path = path
        self.fileobj = fileobj
        self.gzipped = gzipped
        self._shared: BinaryIO | None = None

    def open(self) -> tuple[BinaryIO, bool]:
        """Return a seekable stream of the (decompressed) tar and whether the caller owns it."""
        if self.path is not None:
            # Owned by the LayerReader, which closes it (gzip.open closes the file it opened).
            return (gzip.open(self.path, "rb") if self.gzipped else open(self.path, "rb")), True
        if self._shared is None:
            self._shared = (gzip.GzipFile(fileobj=self.fileobj, mode="rb") if self.gzipped
                            else self.fileobj)
        return self._shared, False


class LayerReader(io.RawIOBase):
    """A read-only stream over one layer of an archive that verifies the layer's digest.

    It hands out exactly the layer's bytes; the read that delivers the last byte raises
    :class:`ArchiveException` if their SHA-256 is not the expected diff_id, and any read raises
    it when the archive ends early. Several readers may be open at once on the same archive.
    """

    def __init__(self, stream: BinaryIO, owned: bool, offset: int, size: int,
                 expected_digest: str, what: str):
        super().__init__()
        self._stream = stream
        self._owned = owned
        self._offset = offset
        self._size = size
        self._position = 0
        self._expected = expected_digest
        self._what = what
        self._hasher: Any = hashlib.sha256()
        self._verified = False

    def readable(self) -> bool:
        return True

    @property
    def verified(self) -> bool:
        """True once every byte was read and matched the expected digest."""
        return self._verified

    def readinto(self, buffer: Any) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed layer stream")
        wanted = min(len(buffer), self._size - self._position)
        if wanted <= 0:
            self._check_digest()
            return 0
        try:
            # Seek every time: other readers may share the underlying stream.
            self._stream.seek(self._offset + self._position)
            data = self._stream.read(wanted)
        except _STREAM_ERRORS as exc:
            raise ArchiveException(f"{self._what}: archive is corrupt ({exc})") from None
        if not data:
            raise ArchiveException(
                f"{self._what}: archive is truncated ({self._position} of {self._size} bytes)")
        count = len(data)
        buffer[:count] = data
        self._hasher.update(data)
        self._position += count
        if self._position == self._size:
            self._check_digest()
        return count

    def _check_digest(self) -> None:
        if self._hasher is None:
            return
        actual = "sha256:" + self._hasher.hexdigest()
        self._hasher = None
        if actual != self._expected:
            raise ArchiveException(
                f"{self._what}: content has digest {actual}, expected {self._expected}"
                " (corrupt archive, or a compressed layer)")
        self._verified = True

    def close(self) -> None:
        if not self.closed and self._owned:
            self._stream.close()
        super().close()


@dataclass(frozen=True)
class ArchiveLayer:
    """One layer of an archive: its digests, size, legacy V1 JSON and a way to stream it.

    ``diff_id`` is the SHA-256 of the uncompressed tar as stored, so it is also the layer's
    ``blob_digest``. ``v1_id``/``v1_json`` come from the layer's legacy folder (``<id>/json``)
    and are None when the archive has none. ``member`` is the tar member holding the bytes.
    """

    index: int
    diff_id: str
    size: int
    member: str
    offset: int
    v1_id: str | None
    v1_json: str | None
    _source: _Source = field(repr=False, compare=False)

    @property
    def blob_digest(self) -> str:
        """The digest of the bytes as stored: the diff_id, since layers are uncompressed."""
        return self.diff_id

    def open(self) -> LayerReader:
        """Return a new :class:`LayerReader` over this layer's bytes, verifying its diff_id."""
        try:
            stream, owned = self._source.open()
        except OSError as exc:
            raise ArchiveException(f"cannot reopen archive: {exc.strerror or exc}") from None
        return LayerReader(stream, owned, self.offset, self.size, self.diff_id,
                           f"layer {self.index} ({self.member})")


@dataclass(frozen=True)
class DockerArchive:
    """One image read from a ``docker save`` archive.

    ``config_bytes`` are the config exactly as stored and ``config_digest`` their SHA-256;
    ``config`` is the parsed config; ``layers`` are base first.
    """

    repo_tags: tuple[str, ...]
    config_bytes: bytes
    config_digest: str
    config: dict[str, Any] = field(repr=False, compare=False)
    layers: tuple[ArchiveLayer, ...]

    def verify(self) -> None:
        """Stream every layer once, raising :class:`ArchiveException` on the first bad one."""
        for layer in self.layers:
            with layer.open() as stream:
                while stream.read(_CHUNK):
                    pass


def _normalize(name: str) -> str:
    # Some tools write "./manifest.json"; tar has no absolute paths worth honouring here.
    return posixpath.normpath("/" + name).lstrip("/")


def _resolve(members: dict[str, tarfile.TarInfo], name: str) -> tarfile.TarInfo:
    current = _normalize(name)
    for _ in range(32):
        info = members.get(current)
        if info is None:
            raise ArchiveException(f"archive has no member {name!r} (missing or truncated)")
        if info.isfile():
            return info
        if info.issym():
            current = _normalize(posixpath.join(posixpath.dirname(current), info.linkname))
        elif info.islnk():
            current = _normalize(info.linkname)
        else:
            raise ArchiveException(f"archive member {name!r} is not a file")
    raise ArchiveException(f"archive member {name!r} is a symlink loop")


def _read_member(tar: tarfile.TarFile, info: tarfile.TarInfo, what: str) -> bytes:
    if info.size > MAX_METADATA_BYTES:
        raise ArchiveException(f"{what} is {info.size} bytes, more than metadata may be")
    extracted = tar.extractfile(info)
    data = extracted.read() if extracted is not None else b""
    if len(data) != info.size:
        raise ArchiveException(f"{what} is truncated")
    return data


def _str_list(value: object, what: str, allow_null: bool = False) -> list[str]:
    if value is None and allow_null:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ArchiveException(f"manifest.json: {what} is not a list of strings")
    return value


def _manifest_entry(data: bytes) -> dict[str, Any]:
    try:
        entries = json.loads(data)
    except (ValueError, RecursionError):
        raise ArchiveException("manifest.json is not valid JSON") from None
    if not isinstance(entries, list):
        raise ArchiveException("manifest.json is not a JSON array")
    if len(entries) != 1:
        raise ArchiveException(
            f"manifest.json lists {len(entries)} images; expected exactly one per archive")
    entry = entries[0]
    if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
        raise ArchiveException("manifest.json entry has no Config path")
    return entry


def _legacy_folders(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo]
                    ) -> dict[str, list[tuple[str, str, dict[str, Any]]]]:
    """Map each layer member to the legacy folders (name, V1 JSON, parsed) leading to it."""
    folders: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for name in sorted(members):
        folder, _, base = name.rpartition("/")
        if base != "layer.tar" or "/" in folder or not folder or f"{folder}/json" not in members:
            continue
        what = f"V1 JSON {folder}/json"
        try:
            text = _read_member(tar, _resolve(members, f"{folder}/json"), what).decode("utf-8")
        except UnicodeDecodeError:
            raise ArchiveException(f"{what} is not UTF-8") from None
        target = _resolve(members, name).name
        folders.setdefault(_normalize(target), []).append(
            (folder, text, load_json_object(text, what)))
    return folders


def _pick_folder(candidates: list[tuple[str, str, dict[str, Any]]], layer_name: str,
                 parent_id: str | None) -> tuple[str | None, str | None]:
    """Choose the legacy folder of a layer: the one manifest.json names, else by parent chain."""
    named = _normalize(layer_name).rpartition("/")[0]
    chosen = (next((c for c in candidates if c[0] == named), None)
              or next((c for c in candidates if c[2].get("parent") == parent_id), None)
              or (candidates[0] if candidates else None))
    if chosen is None:
        return None, None
    folder, text, parsed = chosen
    return (parsed["id"] if isinstance(parsed.get("id"), str) else folder), text


def _open_source(path_or_fileobj: str | os.PathLike | BinaryIO) -> _Source:
    if isinstance(path_or_fileobj, (str, os.PathLike)):
        path = os.fspath(path_or_fileobj)
        try:
            with open(path, "rb") as raw:
                return _Source(path, None, raw.read(2) == _GZIP_MAGIC)
        except OSError as exc:
            raise ArchiveException(f"cannot open archive {path}: {exc.strerror or exc}") from None
    fileobj = path_or_fileobj
    if not getattr(fileobj, "seekable", lambda: False)():
        raise ArchiveException("archive stream is not seekable; save it to a file first")
    try:
        fileobj.seek(0)
        magic = fileobj.read(2)
        fileobj.seek(0)
    except OSError as exc:
        raise ArchiveException(f"cannot read archive: {exc.strerror or exc}") from None
    return _Source(None, fileobj, magic == _GZIP_MAGIC)


def read_docker_archive(path_or_fileobj: str | os.PathLike | BinaryIO) -> DockerArchive:
    """Read the one image of a ``docker save`` archive, without loading its layers.

    Accepts a path or a seekable binary file object (kept open by the caller while layers are
    streamed); a gzip-compressed archive is accepted too. Returns a :class:`DockerArchive` with
    the repo tags, the exact config bytes and digest, and the layers base first, each with its
    V1 JSON when the archive has a legacy folder for it. Raises :class:`ArchiveException` for
    anything that is not such an archive: not a tar, truncated, a member missing, several
    images, a config without ``rootfs.diff_ids``, layer counts that disagree, malformed JSON.
    Layer contents are checked when they are streamed (:meth:`ArchiveLayer.open`).
    """
    source = _open_source(path_or_fileobj)
    stream, owned = None, False
    try:
        stream, owned = source.open()
        # tarfile reports a member cut short ("unexpected end of data") while listing.
        with tarfile.open(fileobj=stream, mode="r:") as tar:
            members = {_normalize(info.name): info for info in tar}
            return _read_image(tar, members, source)
    except ArchiveException:
        raise
    except (tarfile.ReadError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise ArchiveException(f"not a readable tar archive: {str(exc) or type(exc).__name__}"
                               ) from None
    except _STREAM_ERRORS as exc:
        raise ArchiveException(f"cannot read archive: {exc}") from None
    finally:
        if owned:
            stream.close()


def _read_image(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo],
                source: _Source) -> DockerArchive:
    if "manifest.json" not in members:
        what = "a pre-1.10 docker save archive" if "repositories" in members else "garbage"
        raise ArchiveException(f"archive has no manifest.json ({what}?)")
    entry = _manifest_entry(_read_member(tar, _resolve(members, "manifest.json"), "manifest.json"))
    repo_tags = tuple(_str_list(entry.get("RepoTags"), "RepoTags", allow_null=True))
    layer_names = _str_list(entry.get("Layers"), "Layers")

    config_info = _resolve(members, entry["Config"])
    config_bytes = _read_member(tar, config_info, f"config {entry['Config']}")
    config_hex = hashlib.sha256(config_bytes).hexdigest()
    named = _HEX_NAME.fullmatch(_normalize(entry["Config"]))
    if named is not None and named.group(1) != config_hex:
        raise ArchiveException(f"config {entry['Config']} does not match its digest (corrupt)")
    config = load_json_object(config_bytes, f"config {entry['Config']}")
    diff_ids = config_diff_ids(config, f"config {entry['Config']}")
    if len(diff_ids) != len(layer_names):
        raise ArchiveException(
            f"manifest.json lists {len(layer_names)} layers but the config has "
            f"{len(diff_ids)} diff_ids")

    folders = _legacy_folders(tar, members)
    layers = []
    parent_id = None
    for index, (layer_name, diff_id) in enumerate(zip(layer_names, diff_ids, strict=True)):
        info = _resolve(members, layer_name)
        v1_id, v1_json = _pick_folder(folders.get(_normalize(info.name), []), layer_name,
                                      parent_id)
        layers.append(ArchiveLayer(index=index, diff_id=diff_id, size=info.size,
                                   member=_normalize(info.name), offset=info.offset_data,
                                   v1_id=v1_id, v1_json=v1_json, _source=source))
        parent_id = v1_id
    logger.debug("read image %s with %d layers, tags %s", config_hex, len(layers), repo_tags)
    return DockerArchive(repo_tags=repo_tags, config_bytes=config_bytes,
                         config_digest="sha256:" + config_hex, config=config,
                         layers=tuple(layers))
