"""Import images as clients write them into a model that stores manifests as they are.

::

    from registry_model import oci_model
    from registry_model.blobstore import FilesystemBlobStore
    from registry_model.images import import_archive

    store = FilesystemBlobStore("blobs")
    import_archive("layout", "acme", "hello", store, None, "v1", model=oci_model,
                   all_platforms=True)

:func:`registry_model.images.import_archive` comes here when its model stores Docker schema 2
and OCI manifests (``stored_manifest_media_types``, the OCI model). The source is recognized
from its content (:func:`registry_model.archive.oci_reader.detect_format`): an OCI image
layout folder, an oci-archive tar, or a docker-archive tar. From a layout the manifests and
configs are stored byte for byte, so their digests are the source's; a multi-platform index
is imported whole (``all_platforms``: every child by digest, then the index under the tag)
or one child is (``platform``). A docker-archive holds a config and uncompressed layers but
no manifest: a Docker schema 2 manifest is written for them (deterministic bytes), never a
schema 1 one.

The blobs go through the data interface exactly as for a docker-archive on the pre-OCI model
(:mod:`registry_model.images`): each blob the repository lacks is read once and checked
against its digest before anything is written, then streamed into the blob store in chunks
and committed, so a corrupt source leaves no trace and a repeated import uploads nothing.
Each manifest is then stored in a transaction of its own, children first: if a later one
fails (the database goes away), the children already stored stay under hidden temporary
tags until the model's ``temporary_tag_s`` has passed, then the collector takes them;
running the import again completes it.
"""
import io
import json
import logging
from typing import NamedTuple, Optional

from registry_model import errors, media_types, validation
from registry_model import images as uploads
from registry_model.archive import ArchiveException, read_docker_archive
from registry_model.archive.oci_reader import (
    DOCKER_ARCHIVE,
    OciLayout,
    detect_format,
    open_oci_layout,
)
from registry_model.blobstore import BlobStore
from registry_model.interface import RegistryDataInterface
from registry_model.manifests import parse_manifest_from_bytes

logger = logging.getLogger(__name__)


class PlatformSpec(NamedTuple):
    """A platform asked for on the command line: ``os/architecture[/variant]``."""

    os: str
    architecture: str
    variant: Optional[str]

    @classmethod
    def parse(cls, text: str) -> "PlatformSpec":
        """Read ``linux/amd64`` or ``linux/arm64/v8``; DataModelException for anything else."""
        parts = text.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise errors.DataModelException("platform %r is not of the form "
                                            "os/architecture[/variant]" % text)
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    def matches(self, platform) -> bool:
        """True for a descriptor's Platform of this os and architecture (and variant, if
        one was asked for)."""
        return (platform is not None and platform.os == self.os
                and platform.architecture == self.architecture
                and (self.variant is None or platform.variant == self.variant))


def platform_name(platform) -> str:
    """``os/architecture[/variant]`` of a descriptor's Platform; ``unknown`` for none."""
    if platform is None:
        return "unknown"
    return "/".join(filter(None, (platform.os, platform.architecture, platform.variant)))


class _BytesBlob(NamedTuple):
    """A blob held in memory (a docker-archive's config), shaped like an archive layer."""

    blob_digest: str
    size: int
    data: bytes

    def open(self) -> io.BytesIO:
        return io.BytesIO(self.data)


class _LayoutBlob(NamedTuple):
    """A blob of an OCI layout, streamed and checked against its digest when opened."""

    blob_digest: str
    size: int
    layout: OciLayout

    def open(self):
        return self.layout.open_blob(self.blob_digest)


class _Content(NamedTuple):
    """What an import stores: ``manifests`` parsed, in push order (children before their
    index; the tag goes on the last), ``blobs`` they need, and the name the source gives
    the image (None when it gives none)."""

    manifests: list
    blobs: list
    source_tag: Optional[str]


def docker_archive_manifest_bytes(archive) -> bytes:
    """The Docker schema 2 manifest of a docker-archive's image: its config and its
    uncompressed layers as they are in the archive (layer digest = diff_id)."""
    return json.dumps({
        "schemaVersion": 2,
        "mediaType": media_types.DOCKER_SCHEMA2_MANIFEST_CONTENT_TYPE,
        "config": {"mediaType": media_types.DOCKER_SCHEMA2_CONFIG_CONTENT_TYPE,
                   "size": len(archive.config_bytes), "digest": archive.config_digest},
        "layers": [{"mediaType": media_types.DOCKER_SCHEMA2_UNCOMPRESSED_LAYER_CONTENT_TYPE,
                    "size": layer.size, "digest": layer.diff_id} for layer in archive.layers],
    }, indent=3).encode("utf-8")


def _docker_archive_content(path, namespace_name: str, repo_name: str) -> _Content:
    archive = read_docker_archive(path)
    if not archive.layers:
        raise ArchiveException("the archive's image has no layers")
    manifest_bytes = docker_archive_manifest_bytes(archive)
    parsed = parse_manifest_from_bytes(manifest_bytes,
                                       media_types.DOCKER_SCHEMA2_MANIFEST_CONTENT_TYPE)
    config = _BytesBlob(archive.config_digest, len(archive.config_bytes), archive.config_bytes)
    return _Content([parsed], [config, *archive.layers],
                    uploads.archive_tag(archive, namespace_name, repo_name))


def _layout_manifest(layout: OciLayout, descriptor) -> object:
    """The manifest a descriptor of the layout names, parsed from the layout's bytes."""
    return parse_manifest_from_bytes(layout.read_blob(descriptor.digest), descriptor.media_type)


def _with_children(layout: OciLayout, parsed) -> list:
    """The manifest after every manifest it lists (recursively), each once."""
    ordered = []
    for child in parsed.child_manifests:
        if not layout.has_blob(child.digest):
            raise ArchiveException(
                "%s lacks child manifest %s (%s) of %s; copy every platform into it "
                "(skopeo copy --all) or import one with --platform"
                % (layout.where, child.digest, platform_name(child.platform), parsed.digest))
        ordered += _with_children(layout, _layout_manifest(layout, child))
    ordered.append(parsed)
    return list({manifest.digest: manifest for manifest in ordered}.values())


def _pick_child(parsed, platform: PlatformSpec, where: str):
    matching = [child for child in parsed.child_manifests if platform.matches(child.platform)]
    if len(matching) != 1:
        there = ", ".join(platform_name(child.platform) for child in parsed.child_manifests)
        raise ArchiveException("%s %s platform %s (it has: %s)"
                               % (where, "has no" if not matching else "has several of",
                                  "/".join(filter(None, platform)), there))
    return matching[0]


def _layout_content(layout: OciLayout, tag_name: Optional[str],
                    platform: Optional[PlatformSpec], all_platforms: bool) -> _Content:
    named = tag_name if any(entry.ref_name == tag_name for entry in layout.entries) else None
    entry = layout.entry(named)
    top = _layout_manifest(layout, entry)
    if not top.child_manifests:
        if platform is not None:
            logger.info("%s is a single-platform image; --platform %s ignored", layout.where,
                        "/".join(filter(None, platform)))
        manifests = [top]
    elif all_platforms:
        manifests = _with_children(layout, top)
    elif platform is not None:
        manifests = [_layout_manifest(layout, _pick_child(top, platform, layout.where))]
    else:
        raise ArchiveException(
            "%s is a multi-platform index (%s): import all of it (--all) or one platform "
            "(--platform OS/ARCH[/VARIANT])" % (layout.where, ", ".join(
                platform_name(child.platform) for child in top.child_manifests)))
    blobs = [_LayoutBlob(digest, layout.blob_size(digest), layout)
             for manifest in manifests for digest in manifest.blob_digests]
    return _Content(manifests, blobs, entry.ref_name)


def read_import_content(path, namespace_name: str, repo_name: str, tag_name: Optional[str],
                        platform: Optional[PlatformSpec] = None,
                        all_platforms: bool = False) -> _Content:
    """What importing ``path`` stores, read and checked without writing anything (layer
    contents are checked later, as they are streamed). ArchiveException for a source
    that is none of the three formats, lacks a blob, or is an index with no choice made."""
    if detect_format(path) == DOCKER_ARCHIVE:
        return _docker_archive_content(path, namespace_name, repo_name)
    return _layout_content(open_oci_layout(path), tag_name, platform, all_platforms)


def import_image(archive_path, namespace_name: str, repo_name: str, store: BlobStore,
                 tag_name: Optional[str], *, model: RegistryDataInterface,
                 progress: Optional[uploads.Progress] = None,
                 platform: Optional[PlatformSpec] = None,
                 all_platforms: bool = False) -> "uploads.ImportResult":
    """Import the image at ``archive_path`` (a layout folder, oci-archive or docker-archive)
    as ``namespace/repo:tag`` into ``model``, storing its manifests byte for byte.

    ``tag_name`` None takes the source's own name for the image (its ref name, or a
    docker-archive's repo tag) when that is a valid tag, else ``latest``. Children of an
    index are stored by digest before the index takes the tag; with ``platform`` only that
    child is stored, under the tag. Returns an ImportResult whose ``layers`` are every blob
    (configs included, ``v1_id`` None) and ``children`` the child Manifests stored. Raises
    as :func:`registry_model.images.import_archive`, with nothing written.
    """
    content = read_import_content(archive_path, namespace_name, repo_name, tag_name,
                                  platform, all_platforms)
    refused = sorted({manifest.media_type for manifest in content.manifests}
                     - model.stored_manifest_media_types)
    if refused:
        raise errors.UnsupportedOperationException(
            "this model does not store %s manifests; import with the OCI model"
            % ", ".join(refused))
    if tag_name is None:
        valid = content.source_tag is not None and validation.is_valid_tag_name(
            content.source_tag)
        tag_name = content.source_tag if valid else uploads.DEFAULT_TAG

    ref = uploads._importable_repository(model, namespace_name, repo_name)
    pending = uploads._layers_to_upload(model, ref, store, content.blobs)
    uploads._verify(pending, progress)
    created = ref is None
    if created:
        ref = uploads._create_repository(model, namespace_name, repo_name)
    total = sum(blob.size for blob in pending)
    for blob in pending:
        uploads._upload_layer(model, store, ref, blob, total, progress)
    children = tuple(model.create_manifest_and_retarget_tag(ref, child, None, store)[0]
                     for child in content.manifests[:-1])
    stored, tag = model.create_manifest_and_retarget_tag(ref, content.manifests[-1], tag_name,
                                                         store)
    # The manifests hold their blobs now; the upload links would only delay collection.
    digests = list(dict.fromkeys(blob.blob_digest for blob in content.blobs))
    model.release_blob_links(ref, digests)
    uploaded = {blob.blob_digest for blob in pending}
    sizes = {blob.blob_digest: blob.size for blob in content.blobs}
    blobs = tuple(uploads.ImportedLayer(digest, sizes[digest], None, digest in uploaded)
                  for digest in digests)
    logger.info("imported %s/%s:%s as %s (%d manifests, %d of %d blobs uploaded)",
                namespace_name, repo_name, tag_name, stored.digest, len(content.manifests),
                len(uploaded), len(digests))
    return uploads.ImportResult(ref, tag, stored, blobs, created, children)
