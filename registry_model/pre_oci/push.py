"""Pushing manifests and moving tags to manifests or legacy images, for PreOCIModel."""
import json
import logging
import re
from datetime import UTC, datetime
from typing import Optional

from registry_model import errors, media_types, validation
from registry_model.datatypes import LegacyImage, Manifest, RepositoryReference, Tag, repository_id
from registry_model.manifests import DockerSchema1Manifest, DockerSchema1ManifestBuilder
from registry_model.pre_oci import image as image_model
from registry_model.pre_oci import manifest as manifest_model
from registry_model.pre_oci.image import LayerSpec

logger = logging.getLogger(__name__)

_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_created(value: Optional[str]) -> Optional[datetime]:
    """A V1 ``created`` timestamp (RFC 3339, nanoseconds allowed) as naive UTC, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def layer_specs(manifest: DockerSchema1Manifest) -> list:
    """The manifest's layers, base first, as the image chain wants them."""
    specs = []
    for layer in manifest.layers:
        metadata = layer.v1_metadata
        specs.append(LayerSpec(
            docker_image_id=metadata.image_id, parent_image_id=metadata.parent_image_id,
            blob_digest=layer.digest, created=parse_created(metadata.created),
            comment=metadata.comment,
            # Not ASCII-escaped: an escaped emoji takes 12 bytes instead of 4, which
            # would let a manifest within MAX_MANIFEST_BYTES outgrow MariaDB's packet.
            command=(json.dumps(list(metadata.command), ensure_ascii=False)
                     if metadata.command is not None else None),
            v1_json_metadata=layer.raw_v1_metadata))
    return specs


def _manifest_for_image(repository_ref: RepositoryReference, tag_name: str, image,
                        legacy_manifest_key) -> tuple:
    """``(digest, bytes)`` of a schema 1 manifest built for a legacy image chain."""
    ancestor_ids = image_model.parse_ancestors(image.ancestors)
    chain = image_model.get_images_by_id(ancestor_ids)
    builder = DockerSchema1ManifestBuilder(repository_ref.namespace_name, repository_ref.name,
                                           tag_name)
    for row in [image] + [chain[i] for i in reversed(ancestor_ids)]:
        metadata = row.v1_json_metadata or json.dumps({"id": row.docker_image_id})
        builder.add_layer(row.content_checksum, metadata)
    built = builder.build(legacy_manifest_key)
    return built.digest, built.bytes


class PushMixin:
    """create_manifest_and_retarget_tag and retarget_tag."""

    stored_manifest_media_types = frozenset({
        media_types.DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE,
        media_types.DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE})

    def create_manifest_and_retarget_tag(self, repository_ref: RepositoryReference,
                                         manifest_interface_instance: DockerSchema1Manifest,
                                         tag_name: str, storage=None) -> tuple:
        """Store a pushed schema 1 manifest and move the tag to it."""
        if not isinstance(manifest_interface_instance, DockerSchema1Manifest):
            raise errors.DataModelException("the pre-OCI model stores schema 1 manifests only")
        parsed = manifest_interface_instance
        tag_manifest, tag, leaf = manifest_model.store_manifest_and_retarget_tag(
            repository_id(repository_ref), tag_name, parsed.digest, parsed.bytes,
            layer_specs(parsed),
            {key: str(value) for key, value in parsed.labels.items()})
        return (Manifest.for_tag_manifest(tag_manifest,
                                          manifest_model.media_type_name(tag_manifest)),
                Tag.for_repository_tag(tag, leaf.docker_image_id, repository_ref,
                                       manifest_digest=parsed.digest))

    def retarget_tag(self, repository_ref: RepositoryReference, tag_name: str,
                     manifest_or_legacy_image, storage=None, legacy_manifest_key=None,
                     is_reversion: bool = False) -> Optional[Tag]:
        """Point the tag at a Manifest or LegacyImage of the repository."""
        repo_id = repository_id(repository_ref)
        validation.check_tag_name(tag_name)
        if isinstance(manifest_or_legacy_image, Manifest):
            source = manifest_model.get_manifest_owner(manifest_or_legacy_image.id,
                                                       manifest_or_legacy_image.digest,
                                                       manifest_or_legacy_image.tag_id)
            if source is None or source.tag.repository_id != repo_id:
                return None
            image_id, docker_image_id = source.tag.image_id, source.tag.image.docker_image_id
            digest, json_data = source.digest, source.json_data
        elif isinstance(manifest_or_legacy_image, LegacyImage):
            image = image_model.get_images_by_id([manifest_or_legacy_image.id]).get(
                manifest_or_legacy_image.id)
            # The V1 id too: SQLite may have given a collected image's id to a new one.
            if (image is None or image.repository_id != repo_id
                    or image.docker_image_id != manifest_or_legacy_image.docker_image_id):
                return None
            image_id, docker_image_id = image.id, image.docker_image_id
            digest, json_data = _manifest_for_image(repository_ref, tag_name, image,
                                                    legacy_manifest_key)
        else:
            raise errors.DataModelException("retarget_tag takes a Manifest or a LegacyImage")
        json_data = manifest_model.manifest_text(json_data)  # refused before any write
        row = manifest_model.point_tag_at(repo_id, tag_name, image_id, digest,
                                          json_data, reversion=is_reversion)
        return Tag.for_repository_tag(row, docker_image_id, repository_ref,
                                      manifest_digest=digest)
