"""Export a tagged image of a repository as a ``docker save`` archive.

::

    from registry_model.blobstore import FilesystemBlobStore
    from registry_model.image_export import export_image

    export_image("acme", "hello", "latest", "copy.tar", FilesystemBlobStore("blobs"))

An export rebuilds the image config from the manifest's V1 JSON (:func:`config_from_v1_layers`)
and streams each layer from the blob store into :func:`write_docker_archive`, so the layers come
out byte for byte as they went in (what :mod:`registry_model.images` imported). Failures are
:mod:`registry_model.errors` exceptions with a one-line message. Progress is reported through
an optional callback, never printed.
"""
import json
import logging
import os
from typing import NamedTuple, Optional

from registry_model import errors, media_types, validation
from registry_model import registry_model as default_model
from registry_model.archive import ArchiveException, config_from_v1_layers, write_docker_archive
from registry_model.archive.oci_reader import DOCKER_ARCHIVE, FORMATS
from registry_model.blobstore import BlobNotFoundException, BlobStore
from registry_model.images import Progress, report
from registry_model.interface import RegistryDataInterface
from registry_model.manifests import parse_manifest_from_bytes

logger = logging.getLogger(__name__)

_GZIP_MAGIC = b"\x1f\x8b"


class ExportResult(NamedTuple):
    """What :func:`export_image` wrote: the archive, its repo tag, digests and layer sizes."""

    path: str
    repo_tag: str
    manifest_digest: str
    config_digest: str
    layer_digests: tuple
    layer_sizes: tuple



class _CountingReader:
    """A blob file that reports every read to the progress callback; closes the file."""

    def __init__(self, fileobj, progress: Optional[Progress], total: int) -> None:
        self._fileobj = fileobj
        self._progress = progress
        self._total = total

    def read(self, size: int = -1) -> bytes:
        data = self._fileobj.read(size)
        report(self._progress, "export", len(data), self._total)
        return data

    def close(self) -> None:
        self._fileobj.close()


def _is_throwaway(raw_v1_json: str) -> bool:
    try:
        return json.loads(raw_v1_json).get("throwaway") is True
    except (ValueError, AttributeError):
        return False


def _check_blob(store: BlobStore, digest: str, reference: str) -> int:
    """The blob's size; an error when it is missing or compressed (not a layer tar)."""
    try:
        size = store.size(digest)
    except BlobNotFoundException:
        raise BlobNotFoundException("layer %s of %s is not in the blob store %s"
                                    % (digest, reference, getattr(store, "root", store))
                                    ) from None
    with store.open(digest) as blob:
        if blob.read(2) == _GZIP_MAGIC:
            # A docker-archive layer is an uncompressed tar whose digest is its diff_id.
            raise ArchiveException("layer %s of %s is gzip-compressed (pushed by a registry "
                                   "client); only uncompressed layers can be exported"
                                   % (digest, reference))
    return size


def find_tagged_manifest(model: RegistryDataInterface, namespace_name: str, repo_name: str,
                         tag_name: str) -> tuple:
    """``(RepositoryReference, Manifest)`` of the alive tag ``namespace/repo:tag``.

    NotFoundException for an unknown repository or tag, or a tag without manifest.
    """
    reference = "%s/%s:%s" % (namespace_name, repo_name, tag_name)
    ref = model.lookup_repository(namespace_name, repo_name)
    if ref is None:
        raise errors.NotFoundException("repository %s/%s not found" % (namespace_name, repo_name))
    tag = model.get_repo_tag(ref, tag_name) if validation.is_valid_tag_name(tag_name) else None
    if tag is None:
        raise errors.NotFoundException("tag %s not found" % reference)
    manifest = model.get_manifest_for_tag(tag)
    if manifest is None:
        raise errors.NotFoundException("tag %s has no manifest" % reference)
    return ref, manifest


def export_image(namespace_name: str, repo_name: str, tag_name: str, archive_path,
                 store: BlobStore, *, model: Optional[RegistryDataInterface] = None,
                 progress: Optional[Progress] = None,
                 archive_format: str = DOCKER_ARCHIVE) -> ExportResult:
    """Write the image tagged ``namespace/repo:tag`` as a ``docker save`` archive.

    On a model that stores manifests as they are (the OCI model) ``archive_format`` may
    also be ``oci-archive`` or ``oci`` (a layout folder), and the manifests and configs are
    written as stored: see :func:`registry_model.oci_image_export.export_layout`. What
    follows is the pre-OCI model's export, which writes docker-archives only
    (UnsupportedOperationException for another format).

    The config is rebuilt from the manifest's V1 JSON (architecture, os, labels, env, command
    come from the top layer's) with the layer digests as diff_ids, and each layer is streamed
    from ``store`` unchanged; the archive's V1 folders are the manifest's. The file appears
    whole or not at all. Raises NotFoundException for an unknown repository or tag or a tag
    without manifest, BlobNotFoundException for a layer missing from the store, and
    ArchiveException for a layer that is not an uncompressed tar.
    """
    model = model if model is not None else default_model
    if archive_format not in FORMATS:
        raise errors.DataModelException("unknown archive format %r (one of %s)"
                                        % (archive_format, ", ".join(FORMATS)))
    if media_types.OCI_MANIFEST_CONTENT_TYPE in model.stored_manifest_media_types:
        # Imported here, not at the top: registry_model.oci_image_export builds on this module.
        from registry_model.oci_image_export import export_layout

        return export_layout(namespace_name, repo_name, tag_name, archive_path, store,
                             model=model, progress=progress, archive_format=archive_format)
    if archive_format != DOCKER_ARCHIVE:
        raise errors.UnsupportedOperationException(
            "the pre-OCI model exports docker-archive only, not %s" % archive_format)
    reference = "%s/%s:%s" % (namespace_name, repo_name, tag_name)
    ref, manifest = find_tagged_manifest(model, namespace_name, repo_name, tag_name)
    parsed = parse_manifest_from_bytes(manifest.manifest_bytes, manifest.media_type,
                                       validate=False)
    v1_jsons = [layer.raw_v1_metadata for layer in parsed.layers]
    content = [layer.digest for layer, raw in zip(parsed.layers, v1_jsons, strict=True)
               if not _is_throwaway(raw)]
    config_bytes = config_from_v1_layers(v1_jsons, content)
    sizes = [_check_blob(store, digest, reference) for digest in content]
    total = sum(sizes)

    def layer_streams():
        for digest, size in zip(content, sizes, strict=True):
            yield digest, size, _CountingReader(store.open(digest), progress, total)

    # Empty (throwaway) V1 layers have no folder of their own: let the writer derive the
    # V1 JSON from the config then, instead of a chain with gaps.
    written = write_docker_archive(
        archive_path, reference, config_bytes, layer_streams(),
        v1_jsons=v1_jsons if len(content) == len(v1_jsons) else None)
    logger.info("exported %s (%s) to %s", reference, manifest.digest, archive_path)
    return ExportResult(os.fspath(archive_path), reference, manifest.digest,
                        written.config_digest, tuple(content), tuple(sizes))
