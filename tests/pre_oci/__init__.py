"""Tests of the PreOCIModel mixins, plus the builders they share.

The builders make what a Docker client pushes: V1 image JSON per layer, schema 1
manifests (through the package's own DockerSchema1ManifestBuilder) and layer blobs
linked to a repository the way a registry links them, by committing an upload.
"""
import hashlib
import json
import uuid
from typing import Optional

from registry_model.database import ALL_MODELS
from registry_model.manifests import DockerSchema1ManifestBuilder

CREATED = "2024-01-02T03:04:05.123456789Z"


def sha256_digest(data: bytes | str) -> str:
    """``sha256:<hex>`` of the bytes (text is UTF-8 encoded)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return "sha256:" + hashlib.sha256(data).hexdigest()


def v1_id(seed: str) -> str:
    """A well-formed V1 image id (64 hex characters) derived from ``seed``."""
    return hashlib.sha256(("v1-id-" + seed).encode("utf-8")).hexdigest()


def v1_json(image_id: str, parent: Optional[str] = None, created: str = CREATED,
            command: Optional[list] = None, labels: Optional[dict] = None,
            comment: Optional[str] = None) -> str:
    """The ``v1Compatibility`` JSON of one layer, shaped like Docker writes it."""
    command = command or ["/bin/sh", "-c", "#(nop) " + image_id[:8]]
    data: dict = {"id": image_id, "created": created, "container_config": {"Cmd": command}}
    if parent is not None:
        data["parent"] = parent
    if labels is not None:
        data["config"] = {"Labels": labels}
    if comment is not None:
        data["comment"] = comment
    return json.dumps(data)


def chain(count: int, seed: str = "chain", labels: Optional[dict] = None,
          blob_seed: Optional[str] = None) -> list:
    """``count`` layers, base first, as ``(blob digest, v1 json)``; the top layer has ``labels``.

    Ids come from ``seed`` and blobs from ``blob_seed`` (default: ``seed``), so two
    chains with the same seeds are the same image.
    """
    blob_seed = blob_seed if blob_seed is not None else seed
    layers = []
    parent = None
    for index in range(count):
        image_id = v1_id("%s-%d" % (seed, index))
        top = index == count - 1
        layers.append((sha256_digest("%s-blob-%d" % (blob_seed, index)),
                       v1_json(image_id, parent, labels=labels if top else None)))
        parent = image_id
    return layers


def build_manifest(namespace: str, repository: str, tag: str, layers: list, key=None):
    """A schema 1 manifest of ``layers`` (base first); signed when ``key`` is given."""
    builder = DockerSchema1ManifestBuilder(namespace, repository, tag)
    for digest, metadata in reversed(layers):  # the builder wants the leaf first
        builder.add_layer(digest, metadata)
    return builder.build(key)


def link_blobs(registry_model, repository_ref, digests, expiration_s: int = 3600) -> dict:
    """Upload and commit each distinct digest into the repository: ``{digest: Blob}``."""
    linked = {}
    for digest in dict.fromkeys(digests):
        upload = registry_model.create_blob_upload(repository_ref, str(uuid.uuid4()), "local",
                                                   {"backend": "memory"})
        upload = registry_model.update_blob_upload(upload, None, None, 100 + len(linked), 1,
                                                   None)
        linked[digest] = registry_model.commit_blob_upload(upload, digest, expiration_s)
    return linked


def push(registry_model, repository_ref, layers, tag: str = "latest", key=None,
         link: bool = True) -> tuple:
    """Push ``layers`` as ``tag`` like a client: link the blobs, then the manifest.

    Returns ``(built manifest, (Manifest, Tag))``.
    """
    manifest = build_manifest(repository_ref.namespace_name, repository_ref.name, tag, layers,
                              key)
    if link:
        link_blobs(registry_model, repository_ref, manifest.blob_digests)
    return manifest, registry_model.create_manifest_and_retarget_tag(repository_ref, manifest,
                                                                     tag, None)


def row_counts() -> dict:
    """Rows per table, to show that a failed write left the database as it was."""
    return {model.__name__: model.select().count() for model in ALL_MODELS}
