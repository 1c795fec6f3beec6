"""A tiny writer of OCI image layouts, and of small deterministic layer tars, for tests and samples.

An OCI image layout is a folder with ``oci-layout``, ``index.json`` and content-addressed
``blobs/sha256/<hex>``; tools such as skopeo read it as ``oci:FOLDER:REF``. Only what a test or a
sample generator needs is here: one image (or one multi-platform index of images) per
reference name, gzip or plain tar layers.

Typical use::

    layer = make_layer_tar({"etc/hello.txt": b"hello\\n"})
    image = write_oci_layout("layout", [layer], {"architecture": "amd64", "os": "linux"}, "v1")
    # skopeo copy oci:layout:v1 docker-archive:out.tar:ns/repo:v1
"""
from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import os
import tarfile
from collections import namedtuple
from collections.abc import Mapping, Sequence
from typing import Any

from registry_model.archive import ArchiveException

OCI_MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar"
OCI_GZIP_LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
_REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"

OciImage = namedtuple(
    "OciImage",
    ["manifest_digest", "config_digest", "config_bytes", "layer_digests", "diff_ids"],
)
OciImage.__doc__ = """An image written by :func:`write_oci_layout`: its manifest and config
digests, the exact config bytes, the digests of the layer blobs as stored (compressed or not)
and the diff_ids (digests of the uncompressed tars), base first."""

OciIndex = namedtuple("OciIndex", ["index_digest", "images"])
OciIndex.__doc__ = """A multi-platform image written by :func:`write_oci_index`: the index's
digest and an :data:`OciImage` per platform, in index order."""


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_layer_tar(files: Mapping[str, bytes | str], mtime: int = 0) -> bytes:
    """Return the bytes of an uncompressed layer tar holding ``files`` (path -> content).

    Parent folders are added as directory entries; members are sorted with fixed owners, modes
    and ``mtime``, so the same files always give the same bytes (and the same diff_id).
    """
    folders = set()
    for path in files:
        parts = path.strip("/").split("/")[:-1]
        folders.update("/".join(parts[:depth]) for depth in range(1, len(parts) + 1))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        entries = [(folder, None) for folder in folders]
        entries += [(path.strip("/"), content) for path, content in files.items()]
        for name, content in sorted(entries, key=lambda item: item[0]):
            info = tarfile.TarInfo(name)
            info.mtime = mtime
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if content is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _write_blob(folder: str, data: bytes) -> str:
    digest = _sha256(data)
    blob_path = os.path.join(folder, "blobs", "sha256", digest.split(":", 1)[1])
    with open(blob_path, "wb") as blob:
        blob.write(data)
    return digest


def _dump(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _write_image(folder: str, layers: Sequence[bytes], config: Mapping[str, Any],
                 compression: str | None) -> tuple[OciImage, bytes]:
    """Write one image's blobs (layers, config, manifest) into the layout; no index entry."""
    if compression not in ("gzip", None):
        raise ArchiveException(f"unknown layer compression {compression!r}: use 'gzip' or None")
    os.makedirs(os.path.join(folder, "blobs", "sha256"), exist_ok=True)
    diff_ids = [_sha256(layer) for layer in layers]
    descriptors = []
    for layer in layers:
        stored = gzip.compress(layer, mtime=0) if compression == "gzip" else layer
        media_type = OCI_GZIP_LAYER_MEDIA_TYPE if compression == "gzip" else OCI_LAYER_MEDIA_TYPE
        descriptors.append({"mediaType": media_type, "digest": _write_blob(folder, stored),
                            "size": len(stored)})

    image_config = copy.deepcopy(dict(config))
    image_config["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
    config_bytes = _dump(image_config)
    config_digest = _write_blob(folder, config_bytes)
    manifest_bytes = _dump({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST_MEDIA_TYPE,
        "config": {"mediaType": OCI_CONFIG_MEDIA_TYPE, "digest": config_digest,
                   "size": len(config_bytes)},
        "layers": descriptors,
    })
    manifest_digest = _write_blob(folder, manifest_bytes)
    return OciImage(manifest_digest, config_digest, config_bytes,
                    tuple(d["digest"] for d in descriptors), tuple(diff_ids)), manifest_bytes


def _name_in_index(folder: str, media_type: str, digest: str, size: int, ref_name: str) -> None:
    """Make ``ref_name`` name that manifest in ``index.json`` (replacing an entry so named)."""
    index_path = os.path.join(folder, "index.json")
    index: dict[str, Any] = {"schemaVersion": 2, "manifests": []}
    if os.path.exists(index_path):
        with open(index_path, "rb") as existing:
            try:
                index = json.load(existing)
            except ValueError:
                index = None
        if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
            raise ArchiveException(f"{index_path} is not an OCI image index")
    index["manifests"] = [
        entry for entry in index["manifests"]
        if not (isinstance(entry, dict)
                and (entry.get("annotations") or {}).get(_REF_NAME_ANNOTATION) == ref_name)
    ] + [{"mediaType": media_type, "digest": digest, "size": size,
          "annotations": {_REF_NAME_ANNOTATION: ref_name}}]
    with open(index_path, "wb") as out:
        out.write(_dump(index))
    with open(os.path.join(folder, "oci-layout"), "wb") as out:
        out.write(_dump({"imageLayoutVersion": "1.0.0"}))


def write_oci_layout(folder: str | os.PathLike, layers: Sequence[bytes], config: Mapping[str, Any],
                     ref_name: str, compression: str | None = "gzip") -> OciImage:
    """Write one image into the OCI image layout at ``folder`` under ``ref_name``.

    ``layers`` are uncompressed layer tars, base first; they are stored gzip-compressed
    (``compression="gzip"``, deterministic: no name, mtime 0) or as they are (None). ``config``
    is copied and its ``rootfs`` set to the layers' diff_ids; everything else (architecture, os,
    config.Labels, history, ...) is written as given. The folder is created if needed; an
    existing layout keeps its other images and loses only a previous image of the same
    ``ref_name``. Returns an :class:`OciImage`. Raises :class:`ArchiveException` for an unknown
    compression or an existing ``index.json`` that is not a JSON object.
    """
    folder = os.fspath(folder)
    image, manifest_bytes = _write_image(folder, layers, config, compression)
    _name_in_index(folder, OCI_MANIFEST_MEDIA_TYPE, image.manifest_digest, len(manifest_bytes),
                   ref_name)
    return image


def write_oci_index(folder: str | os.PathLike,
                    images: Sequence[tuple[Sequence[bytes], Mapping[str, Any]]],
                    ref_name: str, compression: str | None = "gzip") -> OciIndex:
    """Write a multi-platform image: one image per ``(layers, config)``, then an OCI index
    of them named ``ref_name``, into the layout at ``folder``.

    Each config's ``os``, ``architecture`` and ``variant`` (when present) become its
    platform in the index. Returns an :class:`OciIndex`; raises as :func:`write_oci_layout`.
    """
    folder = os.fspath(folder)
    written, descriptors = [], []
    for layers, config in images:
        image, manifest_bytes = _write_image(folder, layers, config, compression)
        platform = {"architecture": config["architecture"], "os": config["os"]}
        if config.get("variant"):
            platform["variant"] = config["variant"]
        written.append(image)
        descriptors.append({"mediaType": OCI_MANIFEST_MEDIA_TYPE,
                            "digest": image.manifest_digest, "size": len(manifest_bytes),
                            "platform": platform})
    index_bytes = _dump({"schemaVersion": 2, "mediaType": OCI_INDEX_MEDIA_TYPE,
                         "manifests": descriptors})
    index_digest = _write_blob(folder, index_bytes)
    _name_in_index(folder, OCI_INDEX_MEDIA_TYPE, index_digest, len(index_bytes), ref_name)
    return OciIndex(index_digest, tuple(written))
