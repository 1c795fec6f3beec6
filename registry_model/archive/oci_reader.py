"""Read OCI image layouts, as a folder (``oci:DIR``) or a tar of one (``oci-archive:FILE``),
and tell the three archive formats apart by their content.

An OCI image layout holds ``oci-layout``, ``index.json`` and content-addressed
``blobs/<algorithm>/<hex>`` (image-spec image-layout.md). :func:`open_oci_layout` reads the
index and answers for blobs by digest: small ones (manifests, configs) as verified bytes,
layers as streams that check their digest as they are read, never whole in memory. A docker
save archive of Docker 25 and later is an OCI layout too, and is read as one.

Typical use::

    layout = open_oci_layout("image.tar")          # or a folder
    entry = layout.entry("v1")                     # the index entry named v1
    manifest_bytes = layout.read_blob(entry.digest)
    with layout.open_blob(layer_digest) as stream: # raises ArchiveException on a bad digest
        store(layer_digest, stream)
"""
from __future__ import annotations

import gzip
import json
import os
import tarfile
import zlib
from typing import BinaryIO, NamedTuple

from registry_model.archive import ArchiveException
from registry_model.archive.reader import (
    MAX_METADATA_BYTES,
    LayerReader,
    _normalize,
    _open_source,
    _resolve,
    _Source,
)

DOCKER_ARCHIVE = "docker-archive"
OCI_ARCHIVE = "oci-archive"
OCI_LAYOUT = "oci"
FORMATS = (DOCKER_ARCHIVE, OCI_ARCHIVE, OCI_LAYOUT)
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"
_LAYOUT_FILE = "oci-layout"
_INDEX_FILE = "index.json"
_TAR_ERRORS = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile)


class IndexEntry(NamedTuple):
    """One entry of a layout's ``index.json``: the manifest it names and its ref name."""

    media_type: str
    digest: str
    size: int
    ref_name: str | None


def _tar_members(source: _Source) -> dict[str, tarfile.TarInfo]:
    stream, owned = source.open()
    try:
        with tarfile.open(fileobj=stream, mode="r:") as tar:
            return {_normalize(info.name): info for info in tar}
    except _TAR_ERRORS as exc:
        raise ArchiveException(f"not a readable tar archive: {str(exc) or type(exc).__name__}"
                               ) from None
    finally:
        if owned:
            stream.close()


def detect_format(path: str | os.PathLike) -> str:
    """``"oci"``, ``"oci-archive"`` or ``"docker-archive"``: what ``path`` holds, by content.

    A folder with ``oci-layout`` and ``index.json`` is an OCI layout; a tar (gzipped or not)
    with them is an oci-archive (Docker 25's ``docker save`` included), one with only a
    ``manifest.json`` a docker-archive. The file name is never looked at. Raises
    :class:`ArchiveException` for anything else.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        if all(os.path.isfile(os.path.join(path, name)) for name in (_LAYOUT_FILE, _INDEX_FILE)):
            return OCI_LAYOUT
        raise ArchiveException(f"{path} is a folder but no OCI image layout (it needs "
                               f"{_LAYOUT_FILE} and {_INDEX_FILE})")
    members = _tar_members(_open_source(path))
    if _LAYOUT_FILE in members and _INDEX_FILE in members:
        return OCI_ARCHIVE
    if "manifest.json" in members:
        return DOCKER_ARCHIVE
    raise ArchiveException(f"{path} is a tar but neither an OCI layout (no {_LAYOUT_FILE}, "
                           f"{_INDEX_FILE}) nor a docker save archive (no manifest.json)")


def _blob_name(digest: str) -> str:
    algorithm, _, encoded = digest.partition(":")
    if algorithm != "sha256" or len(encoded) != 64 or not all(c in "0123456789abcdef"
                                                              for c in encoded):
        raise ArchiveException(f"blob digest {digest!r} is not sha256:<64 hex digits>")
    return f"blobs/sha256/{encoded}"


def _index_entries(index_bytes: bytes) -> tuple[IndexEntry, ...]:
    try:
        index = json.loads(index_bytes)
    except (ValueError, RecursionError):
        raise ArchiveException(f"{_INDEX_FILE} is not valid JSON") from None
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list):
        raise ArchiveException(f"{_INDEX_FILE} is not an OCI image index (no manifests list)")
    entries = []
    for number, item in enumerate(manifests):
        if not (isinstance(item, dict) and isinstance(item.get("mediaType"), str)
                and isinstance(item.get("digest"), str) and isinstance(item.get("size"), int)):
            raise ArchiveException(f"{_INDEX_FILE}: manifests[{number}] is not a descriptor")
        annotations = item.get("annotations")
        ref = annotations.get(REF_NAME_ANNOTATION) if isinstance(annotations, dict) else None
        entries.append(IndexEntry(item["mediaType"], item["digest"], item["size"],
                                  ref if isinstance(ref, str) else None))
    return tuple(entries)


class OciLayout:
    """An OCI image layout, in a folder or a tar: its index entries and its blobs by digest.

    Use :func:`open_oci_layout`. A tar layout keeps a path, not an open file: each blob
    stream opens the archive anew, so several may be open at once.
    """

    def __init__(self, where: str, entries: tuple[IndexEntry, ...], folder: str | None,
                 source: _Source | None, members: dict[str, tarfile.TarInfo] | None):
        self.where = where
        self.entries = entries
        self._folder = folder
        self._source = source
        self._members = members

    def entry(self, ref_name: str | None) -> IndexEntry:
        """The index entry named ``ref_name``; with None, the only entry there is.

        Raises :class:`ArchiveException` naming the refs there are when there is no such
        entry, or several and none was named.
        """
        if ref_name is not None:
            named = [entry for entry in self.entries if entry.ref_name == ref_name]
            if named:
                return named[-1]
        if ref_name is None and len(self.entries) == 1:
            return self.entries[0]
        refs = ", ".join(sorted(str(entry.ref_name) for entry in self.entries)) or "none"
        if ref_name is None:
            raise ArchiveException(f"{self.where} holds {len(self.entries)} images (refs: "
                                   f"{refs}); name the one to import as the tag")
        raise ArchiveException(f"{self.where} has no image named {ref_name!r} (refs: {refs})")

    def _located(self, digest: str) -> tuple:
        """``(path, size)`` of a folder's blob file, ``(offset, size)`` of a tar's member."""
        name = _blob_name(digest)
        if self._folder is not None:
            path = os.path.join(self._folder, *name.split("/"))
            try:
                return path, os.stat(path).st_size
            except OSError:
                raise ArchiveException(f"{self.where} lacks blob {digest}") from None
        if name not in self._members:
            raise ArchiveException(f"{self.where} lacks blob {digest}")
        info = _resolve(self._members, name)
        return info.offset_data, info.size

    def has_blob(self, digest: str) -> bool:
        """True when the layout holds the blob (its content is not checked here)."""
        try:
            self._located(digest)
        except ArchiveException:
            return False
        return True

    def blob_size(self, digest: str) -> int:
        """The stored size of the blob; ArchiveException when the layout lacks it."""
        return self._located(digest)[1]

    def open_blob(self, digest: str) -> LayerReader:
        """A stream over the blob that raises ArchiveException at its end on a digest
        mismatch (and on a truncated archive)."""
        where, size = self._located(digest)
        if self._folder is not None:
            stream: BinaryIO = open(where, "rb")
            return LayerReader(stream, True, 0, size, digest, f"blob {digest}")
        stream, owned = self._source.open()
        return LayerReader(stream, owned, where, size, digest, f"blob {digest}")

    def read_blob(self, digest: str) -> bytes:
        """The bytes of a small blob (a manifest or config), checked against its digest."""
        size = self.blob_size(digest)
        if size > MAX_METADATA_BYTES:
            raise ArchiveException(f"blob {digest} is {size} bytes, more than metadata may be")
        with self.open_blob(digest) as stream:
            data = stream.read()
            stream.read()  # the read past the end checks the digest of an empty blob too
        return data


def open_oci_layout(path: str | os.PathLike) -> OciLayout:
    """Read the OCI layout at ``path``: a folder, or a tar of one (gzipped or not).

    Raises :class:`ArchiveException` when it is not a layout (see :func:`detect_format`) or
    its ``index.json`` is malformed; blobs are checked when they are read.
    """
    path = os.fspath(path)
    fmt = detect_format(path)
    if fmt == DOCKER_ARCHIVE:
        raise ArchiveException(f"{path} is a docker save archive, not an OCI layout")
    if fmt == OCI_LAYOUT:
        try:
            with open(os.path.join(path, _INDEX_FILE), "rb") as index:
                index_bytes = index.read(MAX_METADATA_BYTES + 1)
        except OSError as exc:
            raise ArchiveException(f"cannot read {path}/{_INDEX_FILE}: "
                                   f"{exc.strerror or exc}") from None
        if len(index_bytes) > MAX_METADATA_BYTES:
            raise ArchiveException(f"{_INDEX_FILE} is larger than metadata may be")
        return OciLayout(path, _index_entries(index_bytes), path, None, None)
    source = _open_source(path)
    members = _tar_members(source)
    info = _resolve(members, _INDEX_FILE)
    if info.size > MAX_METADATA_BYTES:
        raise ArchiveException(f"{_INDEX_FILE} is larger than metadata may be")
    stream, owned = source.open()
    try:
        stream.seek(info.offset_data)
        index_bytes = stream.read(info.size)
    except _TAR_ERRORS + (OSError,) as exc:
        raise ArchiveException(f"cannot read {_INDEX_FILE}: {exc}") from None
    finally:
        if owned:
            stream.close()
    if len(index_bytes) != info.size:
        raise ArchiveException(f"{_INDEX_FILE} is truncated")
    return OciLayout(path, _index_entries(index_bytes), None, source, members)
