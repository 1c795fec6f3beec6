"""Pushing manifests of every format and moving tags, for OCIModel."""
import logging
from typing import Optional

from registry_model import clock, errors, media_types, validation
from registry_model.blobstore.base import BlobNotFoundException
from registry_model.datatypes import (
    LegacyImage,
    Manifest,
    RepositoryReference,
    Tag,
    repository_id,
)
from registry_model.manifests import ImageConfig, ParsedManifest
from registry_model.model import label as shared_labels
from registry_model.model import lookup
from registry_model.model.label import EXPIRES_AFTER_KEY
from registry_model.oci import label as label_model
from registry_model.oci import legacy
from registry_model.oci import manifest as manifest_model
from registry_model.oci import tag as tag_model
from registry_model.oci.tags import tag_datatype
from registry_model.transactions import run_with_retry

logger = logging.getLogger(__name__)

# Config media types whose blob is an image config (history, Labels); any other is an
# artifact's config, never read.
IMAGE_CONFIG_TYPES = frozenset({"application/vnd.docker.container.image.v1+json",
                                "application/vnd.oci.image.config.v1+json"})


def read_image_config(parsed: ParsedManifest, storage) -> Optional[ImageConfig]:
    """The image config of the manifest from the blob store, or None when there is none.

    None for a list, an index, an artifact's config, or no store given; a config the
    store lacks raises ManifestBlobUnknownException, one that does not parse a
    ManifestException naming the field. Read before any write: a push's transaction
    never waits on blob storage.
    """
    config = parsed.config
    if storage is None or config is None or config.media_type not in IMAGE_CONFIG_TYPES:
        return None
    try:
        config_bytes = storage.read(config.digest)
    except BlobNotFoundException as exc:
        raise errors.ManifestBlobUnknownException(
            "config blob %s of manifest %s is not in the blob store"
            % (config.digest, parsed.digest)) from exc
    return ImageConfig(config_bytes)


def manifest_datatype(row) -> Manifest:
    """A Manifest from an OCI manifest row, its media type named from the lookup cache."""
    return Manifest.for_oci_manifest(row, lookup.media_type_name(row.media_type_id))


class PushMixin:
    """create_manifest_and_retarget_tag and retarget_tag."""

    stored_manifest_media_types = frozenset({
        media_types.DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE,
        media_types.DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE,
        *media_types.IMAGE_MANIFEST_CONTENT_TYPES, *media_types.MANIFEST_LIST_CONTENT_TYPES})

    # How long a manifest pushed by digest alone stays under its hidden temporary tag.
    temporary_tag_s: int = 60 * 60

    def create_manifest_and_retarget_tag(self, repository_ref: RepositoryReference,
                                         manifest_interface_instance: ParsedManifest,
                                         tag_name: Optional[str],
                                         storage=None) -> tuple:
        """Store a pushed manifest of any format and point the tag at it: ``(Manifest, Tag)``.

        Every blob must be linked to the repository (ManifestBlobUnknownException) and a
        list's or index's children stored in it (ManifestChildUnknownException naming the
        child). With ``storage`` (a blob store) an image config is read first: its
        ``Labels`` become ``manifest`` labels of a newly stored manifest and its history
        the legacy view's created/command/comment. A ``quay.expires-after`` label (of the
        config, or stored with a manifest pushed before) ends the tag that long after this
        push. ``tag_name`` None is a push by digest:
        the manifest is kept under a hidden temporary tag for ``temporary_tag_s`` and the
        Tag returned is None. One transaction, retried after a lost race; at most 16
        statements whatever the number of layers or children.
        """
        parsed = manifest_interface_instance
        if not isinstance(parsed, ParsedManifest):
            raise TypeError("expected a parsed manifest, got %r" % (parsed,))
        repo_id = repository_id(repository_ref)
        if tag_name is not None:
            validation.check_tag_name(tag_name)
        validation.check_manifest_size(len(parsed.bytes))
        config = read_image_config(parsed, storage)
        labels = [(key, value, shared_labels.MANIFEST_SOURCE_TYPE, None)
                  for key, value in (config.labels.items() if config is not None else ())]
        shared_labels.check_labels(labels)
        history = legacy.layer_history(parsed, config)

        def write() -> tuple:
            now_ms = clock.now_ms()
            row, created = manifest_model.store_manifest(repo_id, parsed, now_ms // 1000,
                                                         history)
            if created and labels:
                label_model.create_manifest_labels(row.id, repo_id, labels)
            if tag_name is None:
                tag_model.create_temporary_tag(repo_id, row.id, self.temporary_tag_s * 1000,
                                               now_ms)
                return row, None
            # The manifest's expires-after label, new or stored, ends this push's tag;
            # the manifest's other tags got it when they were pushed.
            seconds = label_model.expiry_seconds(
                labels if created else [(EXPIRES_AFTER_KEY, row.expires_after, None, None)])
            tag = tag_model.move_tag(repo_id, tag_name, row.id,
                                     lifetime_ms=seconds * 1000 if seconds else None)
            tag.manifest_digest = row.digest
            tag.manifest_layers_size = row.layers_compressed_size
            return row, tag

        row, tag = run_with_retry(write)
        return (manifest_datatype(row),
                tag_datatype(tag, repository_ref) if tag is not None else None)

    def retarget_tag(self, repository_ref: RepositoryReference, tag_name: str,
                     manifest_or_legacy_image, storage=None, legacy_manifest_key=None,
                     is_reversion: bool = False) -> Optional[Tag]:
        """Point the tag at a Manifest (or a top-layer LegacyImage) of the repository.

        None when it is not a manifest of this repository (any more). A LegacyImage below
        the top of its manifest has no manifest of its own: UnsupportedOperationException.
        ImmutableTagException when the tag is immutable. At most 6 statements (7 for a
        LegacyImage).
        """
        repo_id = repository_id(repository_ref)
        validation.check_tag_name(tag_name)
        if isinstance(manifest_or_legacy_image, Manifest):
            manifest_id, digest = manifest_or_legacy_image.id, manifest_or_legacy_image.digest
        elif isinstance(manifest_or_legacy_image, LegacyImage):
            manifest_id, digest = self._manifest_of_top_layer(repo_id, manifest_or_legacy_image)
            if manifest_id is None:
                return None
        else:
            raise errors.DataModelException("retarget_tag takes a Manifest or a LegacyImage, "
                                            "got %r" % (manifest_or_legacy_image,))
        tag = tag_model.retarget_tag(repo_id, tag_name, manifest_id, digest,
                                     reversion=is_reversion)
        return tag_datatype(tag, repository_ref) if tag is not None else None

    @staticmethod
    def _manifest_of_top_layer(repo_id: int, image: LegacyImage) -> tuple:
        """``(manifest id, digest)`` whose top layer the image is, or ``(None, None)``: one
        statement. UnsupportedOperationException for a layer below the top."""
        manifest_id, place = divmod(image.id, legacy.ID_STRIDE)
        if place != 0:
            raise errors.UnsupportedOperationException(
                "legacy image %s is not the top layer of a manifest; tag its manifest instead"
                % image.docker_image_id)
        row = manifest_model.get_manifest(manifest_id)
        if (row is None or row.repository_id != repo_id
                or legacy.top_image_id(row) != image.docker_image_id):
            return None, None
        return row.id, row.digest
