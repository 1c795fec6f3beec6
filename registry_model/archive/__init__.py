"""Image archives on disk: ``docker save`` tarballs, legacy V1 metadata and OCI image layouts.

Everything here works on files and bytes only, never on the database, so importers and exporters
can be tested without one. The pieces:

- :mod:`registry_model.archive.reader` reads ``docker save`` archives
  (``read_docker_archive``), streaming layers and checking their digests, and
  :mod:`registry_model.archive.writer` writes them (``write_docker_archive``);
- :mod:`registry_model.archive.v1` converts between an image config and the per-layer legacy V1
  JSON that the pre-OCI schema stores (``v1_layers_from_config``, ``config_from_v1_layers``);
- :mod:`registry_model.archive.oci_layout` writes small OCI image layouts for tests and samples.

Every failure caused by the input is an :class:`ArchiveException` with a one-line message.

Typical use::

    from registry_model.archive import read_docker_archive
    archive = read_docker_archive("image.tar")
    for layer in archive.layers:
        with layer.open() as stream:   # raises ArchiveException on a digest mismatch
            store(layer.diff_id, stream)
"""
from __future__ import annotations

from registry_model.errors import DataModelException


class ArchiveException(DataModelException):
    """An archive, image config or V1 metadata is malformed, truncated or inconsistent."""


# The submodules import ArchiveException from here, so they can only be loaded once it exists.
from registry_model.archive.reader import (  # noqa: E402
    ArchiveLayer,
    DockerArchive,
    LayerReader,
    read_docker_archive,
)
from registry_model.archive.v1 import config_from_v1_layers, v1_layers_from_config  # noqa: E402
from registry_model.archive.writer import WrittenArchive, write_docker_archive  # noqa: E402

__all__ = [
    "ArchiveException",
    "ArchiveLayer",
    "DockerArchive",
    "LayerReader",
    "WrittenArchive",
    "config_from_v1_layers",
    "read_docker_archive",
    "v1_layers_from_config",
    "write_docker_archive",
]
