"""Write ``docker save`` archives (the ``docker-archive`` transport), streaming layers.

Archives are written in the legacy layout (``<v1 id>/layer.tar``, ``<v1 id>/json``,
``<v1 id>/VERSION`` per layer, ``<config hex>.json``, ``manifest.json``, ``repositories``), which
``docker load`` and every containers/image client read. Reading is
:mod:`registry_model.archive.reader`.

Typical use::

    archive = read_docker_archive("in.tar")
    write_docker_archive("out.tar", "ns/repo:tag", archive.config_bytes,
                         ((layer.diff_id, layer.size, layer.open()) for layer in archive.layers))
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
from collections import namedtuple
from collections.abc import Iterable
from typing import IO, BinaryIO

from registry_model.archive import ArchiveException
from registry_model.archive.v1 import config_diff_ids, load_json_object, v1_layers_from_config

_V1_ID = re.compile(r"[0-9a-f]{64}", re.ASCII)


WrittenArchive = namedtuple("WrittenArchive", ["config_digest", "layer_ids"])
WrittenArchive.__doc__ = """What :func:`write_docker_archive` wrote: the config's digest and the
V1 id (folder name) of each layer, base first."""


class _HashingReader:
    """Wraps a source file object and hashes what tarfile copies out of it."""

    def __init__(self, fileobj: IO[bytes]):
        self._fileobj = fileobj
        self.hasher = hashlib.sha256()
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._fileobj.read(size)
        self.hasher.update(data)
        self.count += len(data)
        return data


def _split_repo_tag(repo_tag: str) -> tuple[str, str]:
    if not isinstance(repo_tag, str):
        raise ArchiveException(f"repo tag {repo_tag!r} is not a string")
    name, colon, tag = repo_tag.rpartition(":")
    if not colon or not name or not tag or "/" in tag or "@" in repo_tag:
        raise ArchiveException(f"repo tag {repo_tag!r} is not of the form NAME:TAG")
    return name, tag


def _tarinfo(name: str, size: int = 0, directory: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = 0 if directory else size
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.mode = 0o755 if directory else 0o644
    info.mtime = 0  # fixed, so the same image always gives the same bytes
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    tar.addfile(_tarinfo(name, len(data)), io.BytesIO(data))


def _checked_v1_jsons(v1_jsons: list[str], diff_ids: list[str]) -> list[str]:
    if len(v1_jsons) != len(diff_ids):
        raise ArchiveException(f"{len(v1_jsons)} V1 JSONs for {len(diff_ids)} layers")
    ids = []
    parent = None
    for index, raw in enumerate(v1_jsons):
        parsed = load_json_object(raw, f"V1 JSON of layer {index}")
        v1_id = parsed.get("id")
        if not isinstance(v1_id, str) or not _V1_ID.fullmatch(v1_id):
            raise ArchiveException(f"V1 JSON of layer {index} has no 64-hex id")
        if parsed.get("parent") != parent or v1_id in ids:
            raise ArchiveException(f"V1 JSON of layer {index} does not chain to layer {index - 1}")
        ids.append(v1_id)
        parent = v1_id
    return ids


def write_docker_archive(path: str | os.PathLike | BinaryIO, repo_tag: str | None,
                         config_bytes: bytes,
                         layers: Iterable[tuple[str, int, IO[bytes]]], *,
                         v1_jsons: list[str] | None = None) -> WrittenArchive:
    """Write one image as a ``docker save`` archive in the legacy layout, streaming its layers.

    ``layers`` yields ``(digest, size, fileobj)`` base first: each uncompressed layer tar, whose
    digest must be the matching ``rootfs.diff_ids`` entry of ``config_bytes`` and whose bytes are
    copied as they are and checked against it. The archive holds ``manifest.json`` (Config,
    RepoTags, Layers), ``repositories``, the config as ``<hex>.json`` and one ``<v1 id>/`` folder
    per layer with ``VERSION``, ``json`` and ``layer.tar``; the V1 JSON is ``v1_jsons`` when given
    (base first, chained by ``parent``), else made by :func:`v1_layers_from_config`. Members have
    fixed owners and mtimes, so equal inputs give equal bytes. ``repo_tag`` is ``NAME:TAG`` or
    None for an untagged image. Writing to a path goes through a temporary file renamed at the
    end, so a failure leaves nothing behind. Raises :class:`ArchiveException` when the inputs
    disagree (count, digest, size) or are malformed. Each layer's fileobj is closed once copied.
    """
    config = load_json_object(config_bytes, "image config")
    diff_ids = config_diff_ids(config)
    if not diff_ids:
        raise ArchiveException("an image needs at least one layer to be saved")
    name_tag = _split_repo_tag(repo_tag) if repo_tag is not None else None
    if v1_jsons is None:
        v1_jsons = v1_layers_from_config(config_bytes, diff_ids)
    layer_ids = _checked_v1_jsons(list(v1_jsons), diff_ids)
    config_hex = hashlib.sha256(config_bytes).hexdigest()

    if not isinstance(path, (str, os.PathLike)):
        _write_tar(path, repo_tag, name_tag, config_bytes, config_hex, diff_ids, layer_ids,
                   v1_jsons, layers)
        return WrittenArchive("sha256:" + config_hex, tuple(layer_ids))
    target = os.fspath(path)
    handle, temp_path = tempfile.mkstemp(prefix=".tmp-", suffix=".tar",
                                         dir=os.path.dirname(os.path.abspath(target)))
    try:
        with os.fdopen(handle, "wb") as out:
            _write_tar(out, repo_tag, name_tag, config_bytes, config_hex, diff_ids, layer_ids,
                       v1_jsons, layers)
        os.replace(temp_path, target)
    except BaseException:
        os.unlink(temp_path)
        raise
    return WrittenArchive("sha256:" + config_hex, tuple(layer_ids))


def _write_tar(out: BinaryIO, repo_tag: str | None, name_tag: tuple[str, str] | None,
               config_bytes: bytes, config_hex: str, diff_ids: list[str], layer_ids: list[str],
               v1_jsons: list[str], layers: Iterable[tuple[str, int, IO[bytes]]]) -> None:
    manifest = [{
        "Config": f"{config_hex}.json",
        "RepoTags": [repo_tag] if repo_tag is not None else None,
        "Layers": [f"{layer_id}/layer.tar" for layer_id in layer_ids],
    }]
    repositories = {name_tag[0]: {name_tag[1]: layer_ids[-1]}} if name_tag else {}
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        # Metadata first: a reader streaming the tar learns the layer list before the layers.
        _add_bytes(tar, "manifest.json", json.dumps(manifest, separators=(",", ":")).encode())
        _add_bytes(tar, "repositories", json.dumps(repositories, sort_keys=True).encode())
        _add_bytes(tar, f"{config_hex}.json", config_bytes)
        count = 0
        for count, item in enumerate(layers, start=1):
            index = count - 1
            if index >= len(diff_ids):
                raise ArchiveException(f"more layers given than the config's {len(diff_ids)}")
            _write_layer(tar, index, item, diff_ids[index], layer_ids[index], v1_jsons[index])
        if count != len(diff_ids):
            raise ArchiveException(f"{count} layers given for the config's {len(diff_ids)}")


def _write_layer(tar: tarfile.TarFile, index: int, item: tuple[str, int, IO[bytes]],
                 diff_id: str, layer_id: str, v1_json: str) -> None:
    try:
        digest, size, fileobj = item
    except (TypeError, ValueError):
        raise ArchiveException(f"layer {index} is not a (digest, size, fileobj) triple") from None
    try:
        _copy_layer(tar, index, digest, size, fileobj, diff_id, layer_id, v1_json)
    finally:
        # Closing each source once copied lets callers open them lazily in a generator.
        if hasattr(fileobj, "close"):
            fileobj.close()


def _copy_layer(tar: tarfile.TarFile, index: int, digest: str, size: int, fileobj: IO[bytes],
                diff_id: str, layer_id: str, v1_json: str) -> None:
    if digest != diff_id:
        raise ArchiveException(f"layer {index} has digest {digest}; the config says {diff_id}")
    if not isinstance(size, int) or size < 0:
        raise ArchiveException(f"layer {index} has an invalid size {size!r}")
    tar.addfile(_tarinfo(layer_id, directory=True))
    _add_bytes(tar, f"{layer_id}/VERSION", b"1.0")
    _add_bytes(tar, f"{layer_id}/json",
               v1_json.encode("utf-8") if isinstance(v1_json, str) else bytes(v1_json))
    reader = _HashingReader(fileobj)
    try:
        tar.addfile(_tarinfo(f"{layer_id}/layer.tar", size), reader)
    except OSError:
        # tarfile raises a bare OSError when the source runs dry before `size` bytes.
        if reader.count < size:
            raise ArchiveException(
                f"layer {index} ended after {reader.count} of its {size} bytes") from None
        raise
    actual = "sha256:" + reader.hasher.hexdigest()
    if actual != diff_id:
        raise ArchiveException(f"layer {index} content has digest {actual}, expected {diff_id}")
