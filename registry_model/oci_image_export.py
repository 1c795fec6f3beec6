"""Export a tagged image of a model that stores manifests as they are (the OCI model).

::

    from registry_model import oci_model
    from registry_model.blobstore import FilesystemBlobStore
    from registry_model.image_export import export_image

    export_image("acme", "hello", "v1", "out", FilesystemBlobStore("blobs"),
                 model=oci_model, archive_format="oci")

Three formats, as skopeo names them:

- ``oci``: an OCI image layout folder (``oci-layout``, ``index.json``, ``blobs/sha256/``)
  whose ``index.json`` names the tagged manifest by the tag (``org.opencontainers.image.ref
  .name``), so ``skopeo copy oci:out:v1 ...`` finds it;
- ``oci-archive``: the same layout as a tar file;
- ``docker-archive``: what ``docker save`` writes (``manifest.json``, the config, one
  uncompressed tar per layer), for a single-platform image; gzip layers are decompressed
  on the way, through a temporary file, never whole in memory.

The manifests (an index and every child included) and configs are written as stored, so the
exported digests are the pushed ones; layers are streamed from the blob store. Every blob is
checked to be in the store before anything is written, and the folder or file appears whole
or not at all.
"""
import gzip
import io
import json
import logging
import os
import shutil
import tarfile
import tempfile
import zlib
from typing import Iterator, Optional

from registry_model import errors, media_types
from registry_model.archive import ArchiveException, write_docker_archive
from registry_model.archive.oci_reader import (
    DOCKER_ARCHIVE,
    OCI_ARCHIVE,
    OCI_LAYOUT,
    REF_NAME_ANNOTATION,
)
from registry_model.blobstore import BlobNotFoundException, BlobStore
from registry_model.image_export import ExportResult, _CountingReader, find_tagged_manifest
from registry_model.images import Progress
from registry_model.interface import RegistryDataInterface
from registry_model.manifests import parse_manifest_from_bytes

logger = logging.getLogger(__name__)

_UNCOMPRESSED_LAYER_TYPES = frozenset({media_types.OCI_LAYER_CONTENT_TYPE,
                                       media_types.DOCKER_SCHEMA2_UNCOMPRESSED_LAYER_CONTENT_TYPE})
_GZIP_LAYER_TYPES = frozenset({media_types.OCI_LAYER_GZIP_CONTENT_TYPE,
                               media_types.DOCKER_SCHEMA2_LAYER_CONTENT_TYPE})
_COPY_SIZE = 1024 * 1024
_LAYOUT_BYTES = json.dumps({"imageLayoutVersion": "1.0.0"}).encode("utf-8")


def _with_children(model: RegistryDataInterface, ref, manifest, reference: str) -> list:
    """``(Manifest, parsed)`` of the manifest after every manifest it lists, each once."""
    parsed = parse_manifest_from_bytes(manifest.manifest_bytes, manifest.media_type,
                                       validate=False)
    ordered = []
    for child in parsed.child_manifests:
        stored = model.lookup_manifest_by_digest(ref, child.digest)
        if stored is None:
            raise errors.NotFoundException("child manifest %s of %s is not stored"
                                           % (child.digest, reference))
        ordered += _with_children(model, ref, stored, reference)
    ordered.append((manifest, parsed))
    return list({item[0].digest: item for item in ordered}.values())


def _blob_sizes(store: BlobStore, manifests: list, reference: str) -> dict:
    """Every blob the manifests need, by digest, with its size in the store."""
    sizes = {}
    for _, parsed in manifests:
        for digest in parsed.blob_digests:
            if digest in sizes:
                continue
            try:
                sizes[digest] = store.size(digest)
            except BlobNotFoundException:
                raise BlobNotFoundException("blob %s of %s is not in the blob store %s"
                                            % (digest, reference, getattr(store, "root", store))
                                            ) from None
    return sizes


def _blob_path(digest: str) -> str:
    algorithm, _, encoded = digest.partition(":")
    return "blobs/%s/%s" % (algorithm, encoded)


def _index_bytes(manifest, tag_name: str) -> bytes:
    return json.dumps({
        "schemaVersion": 2,
        "mediaType": media_types.OCI_INDEX_CONTENT_TYPE,
        "manifests": [{"mediaType": manifest.media_type, "digest": manifest.digest,
                       "size": len(manifest.manifest_bytes),
                       "annotations": {REF_NAME_ANNOTATION: tag_name}}],
    }).encode("utf-8")


def _layout_files(manifests: list, sizes: dict, tag_name: str, store: BlobStore,
                  progress: Optional[Progress]) -> Iterator[tuple]:
    """``(path, size, bytes or None, open blob or None)`` of every file of the layout."""
    yield "oci-layout", len(_LAYOUT_BYTES), _LAYOUT_BYTES, None
    yield "index.json", None, _index_bytes(manifests[-1][0], tag_name), None
    for manifest, _ in manifests:
        yield (_blob_path(manifest.digest), len(manifest.manifest_bytes),
               manifest.manifest_bytes, None)
    total = sum(sizes.values())
    for digest, size in sizes.items():
        yield _blob_path(digest), size, None, lambda d=digest: _CountingReader(
            store.open(d), progress, total)


def _write_folder(target: str, files) -> None:
    if os.path.lexists(target) and not (os.path.isdir(target) and not os.listdir(target)):
        raise ArchiveException("%s exists already (an OCI layout is written into a new or "
                               "empty folder)" % target)
    temp = tempfile.mkdtemp(prefix=".tmp-", dir=os.path.dirname(os.path.abspath(target)))
    try:
        for name, _, data, opener in files:
            path = os.path.join(temp, *name.split("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as out:
                if data is not None:
                    out.write(data)
                else:
                    source = opener()
                    try:
                        shutil.copyfileobj(source, out, _COPY_SIZE)
                    finally:
                        source.close()
        if os.path.isdir(target):
            os.rmdir(target)
        os.rename(temp, target)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def _write_tar(target: str, files) -> None:
    handle, temp = tempfile.mkstemp(prefix=".tmp-", suffix=".tar",
                                    dir=os.path.dirname(os.path.abspath(target)))
    try:
        with os.fdopen(handle, "wb") as out, tarfile.open(fileobj=out, mode="w",
                                                          format=tarfile.PAX_FORMAT) as tar:
            for name, size, data, opener in files:
                info = tarfile.TarInfo(name)
                info.mode, info.mtime = 0o644, 0
                info.size = len(data) if data is not None else size
                source = opener() if opener is not None else None
                try:
                    tar.addfile(info, source if source is not None else io.BytesIO(data))
                finally:
                    if source is not None:
                        source.close()
        os.replace(temp, target)
    except BaseException:
        os.unlink(temp)
        raise


def _decompressed(store: BlobStore, digest: str, progress: Optional[Progress], total: int):
    """The gzip layer decompressed into an anonymous temporary file: ``(file, size)``."""
    spool = tempfile.TemporaryFile()
    source = _CountingReader(store.open(digest), progress, total)
    try:
        with gzip.GzipFile(fileobj=source, mode="rb") as layer:
            shutil.copyfileobj(layer, spool, _COPY_SIZE)
    except (OSError, EOFError, zlib.error) as exc:
        spool.close()
        raise ArchiveException("layer %s is not valid gzip: %s" % (digest, exc)) from None
    finally:
        source.close()
    size = spool.tell()
    spool.seek(0)
    return spool, size


def _docker_layers(parsed, diff_ids: list, sizes: dict, store: BlobStore,
                   progress: Optional[Progress]) -> Iterator[tuple]:
    total = sum(sizes[layer.digest] for layer in parsed.layers)
    for layer, diff_id in zip(parsed.layers, diff_ids, strict=True):
        if layer.media_type in _UNCOMPRESSED_LAYER_TYPES:
            yield (diff_id, sizes[layer.digest],
                   _CountingReader(store.open(layer.digest), progress, total))
        else:
            spool, size = _decompressed(store, layer.digest, progress, total)
            yield diff_id, size, spool


def _export_docker_archive(target: str, reference: str, manifest, parsed, sizes: dict,
                           store: BlobStore, progress: Optional[Progress]) -> tuple:
    if parsed.child_manifests:
        raise ArchiveException("%s is a multi-platform index: a docker-archive holds one "
                               "image; export it as oci or oci-archive" % reference)
    if parsed.config is None or parsed.config.media_type not in \
            media_types.IMAGE_CONFIG_CONTENT_TYPES:
        raise ArchiveException("%s is not a container image (%s): export it as oci or "
                               "oci-archive" % (reference, manifest.media_type))
    odd = [layer for layer in parsed.layers
           if layer.media_type not in _UNCOMPRESSED_LAYER_TYPES | _GZIP_LAYER_TYPES]
    if odd:
        raise ArchiveException("layer %s of %s is %s: a docker-archive holds plain or gzip "
                               "layers only" % (odd[0].digest, reference, odd[0].media_type))
    config_bytes = store.read(parsed.config.digest)
    try:
        diff_ids = json.loads(config_bytes)["rootfs"]["diff_ids"]
    except (ValueError, KeyError, TypeError):
        raise ArchiveException("the config of %s has no rootfs.diff_ids" % reference) from None
    if not isinstance(diff_ids, list) or len(diff_ids) != len(parsed.layers):
        raise ArchiveException("the config of %s lists %s diff_ids for %d layers"
                               % (reference, len(diff_ids) if isinstance(diff_ids, list)
                                  else "no", len(parsed.layers)))
    written = write_docker_archive(target, reference, config_bytes,
                                   _docker_layers(parsed, diff_ids, sizes, store, progress))
    return written.config_digest, tuple(diff_ids)


def export_layout(namespace_name: str, repo_name: str, tag_name: str, path, store: BlobStore,
                  *, model: RegistryDataInterface, progress: Optional[Progress] = None,
                  archive_format: str = OCI_LAYOUT) -> ExportResult:
    """Write the image tagged ``namespace/repo:tag`` of ``model`` to ``path`` as
    ``archive_format`` (``oci``, ``oci-archive`` or ``docker-archive``).

    An index is written with every child; the manifests come out byte for byte, so
    ``ExportResult.manifest_digest`` is the tag's. ``layer_digests`` and ``layer_sizes``
    are the blobs written (configs included) for oci and oci-archive, the layers' diff_ids
    and stored sizes for docker-archive. NotFoundException for an unknown repository or
    tag or a child that is not stored, BlobNotFoundException for a blob missing from the
    store, ArchiveException for an index or artifact as docker-archive, or an existing
    non-empty target folder; nothing is written then.
    """
    reference = "%s/%s:%s" % (namespace_name, repo_name, tag_name)
    ref, manifest = find_tagged_manifest(model, namespace_name, repo_name, tag_name)
    manifests = _with_children(model, ref, manifest, reference)
    sizes = _blob_sizes(store, manifests, reference)
    target = os.fspath(path)
    top = manifests[-1][1]
    if archive_format == DOCKER_ARCHIVE:
        config_digest, digests = _export_docker_archive(target, reference, manifest, top,
                                                        sizes, store, progress)
        layer_sizes = tuple(sizes[layer.digest] for layer in top.layers)
    else:
        files = _layout_files(manifests, sizes, tag_name, store, progress)
        if archive_format == OCI_ARCHIVE:
            _write_tar(target, files)
        else:
            _write_folder(target, files)
        config_digest = top.config.digest if top.config is not None else None
        digests, layer_sizes = tuple(sizes), tuple(sizes.values())
    logger.info("exported %s (%s) to %s as %s", reference, manifest.digest, target,
                archive_format)
    return ExportResult(target, reference, manifest.digest, config_digest, digests,
                        layer_sizes)
