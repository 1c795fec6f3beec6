"""A small, deterministic sample image to try the ``registry-model`` command on.

::

    registry-model sample sample.tar
    registry-model import sample.tar acme/hello:latest

:func:`write_sample_archive` writes the same bytes on every machine and every run: three
uncompressed layers made with :func:`make_layer_tar` (fixed owners and mtimes) and a config for
linux/amd64 with a few labels, one of them a JSON document, saved as a ``docker save`` archive.
"""
import hashlib
import io
import json
import logging
import os
from typing import BinaryIO, Union

from registry_model.archive import WrittenArchive, write_docker_archive
from registry_model.archive.oci_layout import make_layer_tar

logger = logging.getLogger(__name__)

SAMPLE_REPO_TAG = "acme/hello:latest"
# 2024-01-01T00:00:00Z: a fixed time for file mtimes, so the layer digests never change.
_MTIME = 1_704_067_200

SAMPLE_LABELS = {
    "org.opencontainers.image.title": "hello",
    "org.opencontainers.image.description": "The registry_model sample image",
    "org.opencontainers.image.version": "1.0.0",
    "com.example.settings": json.dumps({"greeting": "hello", "replicas": 2, "debug": False},
                                       sort_keys=True),
}


def sample_layers() -> list:
    """The three layer tars of the sample image, base first."""
    return [
        make_layer_tar({
            "etc/os-release": "ID=sample\nNAME=\"registry_model sample\"\nVERSION_ID=1\n",
            "bin/hello": "#!/bin/sh\ncat /usr/share/hello/greeting.txt\n",
        }, mtime=_MTIME),
        make_layer_tar({
            "usr/share/hello/greeting.txt": "Hello from registry_model!\n",
            "usr/share/doc/hello/README": "A sample image for the registry-model command.\n" * 8,
        }, mtime=_MTIME),
        make_layer_tar({
            "app/config.json": json.dumps({"greeting": "hello", "replicas": 2}) + "\n",
            "app/data.bin": bytes(range(256)) * 16,
        }, mtime=_MTIME),
    ]


def sample_config(diff_ids: list) -> bytes:
    """The sample image's config for the given layer diff_ids, as compact sorted JSON."""
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-01T00:00:03Z",
        "author": "registry_model",
        "config": {
            "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"],
            "Cmd": ["/bin/hello"],
            "WorkingDir": "/app",
            "Labels": SAMPLE_LABELS,
        },
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
        "history": [
            {"created": "2024-01-01T00:00:00Z", "created_by": "ADD rootfs /"},
            {"created": "2024-01-01T00:00:01Z",
             "created_by": "COPY greeting.txt README /usr/share/"},
            {"created": "2024-01-01T00:00:02Z", "created_by": "LABEL org.opencontainers...",
             "empty_layer": True},
            {"created": "2024-01-01T00:00:03Z", "created_by": "COPY app /app"},
        ],
    }
    return json.dumps(config, sort_keys=True, separators=(",", ":")).encode("utf-8")


def write_sample_archive(path: Union[str, os.PathLike, BinaryIO],
                         repo_tag: str = SAMPLE_REPO_TAG) -> WrittenArchive:
    """Write the sample image as a ``docker save`` archive tagged ``repo_tag``; same bytes always.

    Returns what :func:`write_docker_archive` wrote (config digest and V1 layer ids).
    """
    layers = sample_layers()
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    written = write_docker_archive(
        path, repo_tag, sample_config(diff_ids),
        [(diff_id, len(layer), io.BytesIO(layer)) for diff_id, layer in
         zip(diff_ids, layers, strict=True)])
    logger.info("wrote sample image %s (%s)", repo_tag, written.config_digest)
    return written

