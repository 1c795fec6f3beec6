"""The pre-OCI implementation's ImageBuilder: pushes signed Docker schema 1 manifests.

Each layer gets a V1 image JSON whose id derives from its parent's id and its blob, as
Docker's chain ids do, so two images sharing their lower layers share those images. The
top layer carries the labels and ``config`` (``created``, ``command``, ``comment``).
"""
import json
from functools import lru_cache
from typing import Optional, Sequence

from registry_model.datatypes import RepositoryReference, Tag
from registry_model.manifests import DockerSchema1ManifestBuilder, generate_signing_key
from registry_model.testing.builders import ImageBuilder, sha256_digest

CREATED = "2024-01-02T03:04:05.123456789Z"


@lru_cache(maxsize=1)
def signing_key():
    """One signing key per process: generating one per push would only cost time."""
    return generate_signing_key()


def v1_metadata(layers: Sequence[bytes], labels: Optional[dict] = None,
                config: Optional[dict] = None) -> list:
    """``(blob digest, v1 json)`` per layer, base first; the top has labels and config."""
    config = dict(config or {})
    described, parent = [], None
    for index, data in enumerate(layers):
        digest = sha256_digest(data)
        image_id = sha256_digest("%s:%s" % (parent, digest))[len("sha256:"):]
        top = index == len(layers) - 1
        metadata: dict = {"id": image_id, "created": config.get("created", CREATED) if top
                          else CREATED,
                          "container_config": {"Cmd": config.get("command") if top and
                                               "command" in config
                                               else ["/bin/sh", "-c", "#(nop) " + image_id[:8]]}}
        if parent is not None:
            metadata["parent"] = parent
        if top and labels is not None:
            metadata["config"] = {"Labels": labels}
        if top and "comment" in config:
            metadata["comment"] = config["comment"]
        described.append((digest, json.dumps(metadata)))
        parent = image_id
    return described


class PreOCIImageBuilder(ImageBuilder):
    """Pushes signed schema 1 manifests; hides tags in the pre-OCI tag table."""

    def image_manifest(self, repository_ref: RepositoryReference, tag_name: str,
                       layers: Sequence[bytes], labels: Optional[dict] = None,
                       config: Optional[dict] = None):
        builder = DockerSchema1ManifestBuilder(repository_ref.namespace_name,
                                               repository_ref.name, tag_name)
        for digest, metadata in reversed(v1_metadata(layers, labels, config)):
            builder.add_layer(digest, metadata)  # schema 1 lists the leaf first
        return builder.build(signing_key())

    def hide_tag(self, tag: Tag) -> None:
        from registry_model.pre_oci.tables import RepositoryTag

        RepositoryTag.update(hidden=True).where(RepositoryTag.id == tag.id).execute()
