"""Tests of the OCI wing, plus the builders they share.

The builders make what current clients push: image configs with history and labels,
Docker schema 2 and OCI image manifests (with subjects and artifact types), Docker
manifest lists and OCI indexes, and blobs linked to a repository the way an upload
commit links them.
"""
import hashlib
import json
from typing import Optional

from registry_model import clock
from registry_model.database import ALL_MODELS
from registry_model.manifests import parse_manifest_from_bytes
from registry_model.model import blob as blob_model
from registry_model.testing.factories import ImageStorageFactory

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
HOUR = 3600


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(media_type: str, data: bytes, **extra) -> dict:
    return dict({"mediaType": media_type, "digest": sha256_digest(data), "size": len(data)},
                **extra)


def config_bytes(layer_count: int, labels: Optional[dict] = None, seed: str = "") -> bytes:
    """An image config with one non-empty history step per layer and an empty one between."""
    history = []
    for index in range(layer_count):
        history.append({"created": "2024-01-0%dT00:00:00Z" % (index % 9 + 1),
                        "created_by": "RUN step %d %s" % (index, seed),
                        "comment": "layer %d" % index})
        history.append({"created_by": "ENV X=%d" % index, "empty_layer": True})
    config = {"architecture": "amd64", "os": "linux",
              "config": {"Labels": labels} if labels is not None else {},
              "rootfs": {"type": "layers",
                         "diff_ids": [sha256_digest(b"diff %d %s" % (i, seed.encode()))
                                      for i in range(layer_count)]},
              "history": history}
    return json.dumps(config, sort_keys=True).encode()


def layer_bytes(index: int, seed: str = "") -> bytes:
    return b"layer %d %s" % (index, seed.encode())


def image_manifest(config: bytes, layers: list, media_type: str = OCI_MANIFEST,
                   subject: Optional[bytes] = None, artifact_type: Optional[str] = None,
                   annotations: Optional[dict] = None, config_type: Optional[str] = None,
                   subject_type: str = OCI_MANIFEST) -> bytes:
    docker = media_type == DOCKER_MANIFEST
    document: dict = {
        "schemaVersion": 2, "mediaType": media_type,
        "config": descriptor(config_type or (DOCKER_CONFIG if docker else OCI_CONFIG), config),
        "layers": [descriptor(DOCKER_LAYER if docker else OCI_LAYER, layer) for layer in layers],
    }
    if subject is not None:
        document["subject"] = descriptor(subject_type, subject)
    if artifact_type is not None:
        document["artifactType"] = artifact_type
    if annotations is not None:
        document["annotations"] = annotations
    return json.dumps(document, indent=3).encode()


def index_manifest(children: list, media_type: str = OCI_INDEX,
                   child_type: str = OCI_MANIFEST, subject: Optional[bytes] = None,
                   child_types: Optional[list] = None) -> bytes:
    """A list/index of ``children`` (manifest bytes), one platform each, all of
    ``child_type`` or each of its ``child_types``; an OCI index may name a ``subject`` (an
    image manifest's bytes)."""
    types = child_types if child_types is not None else [child_type] * len(children)
    document: dict = {"schemaVersion": 2, "mediaType": media_type, "manifests": [
        descriptor(types[index], child, platform={"architecture": "arch%d" % index,
                                                  "os": "linux"})
        for index, child in enumerate(children)]}
    if subject is not None:
        document["subject"] = descriptor(OCI_MANIFEST, subject)
    return json.dumps(document).encode()


def parse(manifest_bytes: bytes):
    return parse_manifest_from_bytes(manifest_bytes, json.loads(manifest_bytes)["mediaType"])


def link_blobs(repo, *datas: bytes, now: Optional[int] = None) -> list:
    """Blob records for the bytes, each linked to the repository for an hour."""
    now = clock.now_ts() if now is None else now
    storages = []
    for data in datas:
        storage = ImageStorageFactory(content_checksum=sha256_digest(data), image_size=len(data))
        blob_model.link_blob(repo.id, storage.id, HOUR, now)
        storages.append(storage)
    return storages


def pushable_image(repo, layer_count: int = 2, seed: str = "", **manifest_options):
    """``(parsed manifest, config bytes)`` of an image whose blobs are linked to ``repo``."""
    config = config_bytes(layer_count, seed=seed, labels=manifest_options.pop("labels", None))
    layers = [layer_bytes(index, seed) for index in range(layer_count)]
    link_blobs(repo, config, *layers)
    return parse(image_manifest(config, layers, **manifest_options)), config


def row_counts() -> dict:
    """Rows per table: equal before and after a refused write when it wrote nothing."""
    return {model.__name__: model.select().count() for model in ALL_MODELS}
