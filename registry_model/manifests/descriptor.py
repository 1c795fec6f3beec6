"""Content descriptors and platforms, the building blocks of schema 2 and OCI manifests.

A descriptor points at content by ``mediaType``, ``digest`` and ``size`` (all required), with
optional ``urls`` it may be fetched from, ``annotations``, embedded ``data`` (base64),
``artifactType`` and, for manifests in a list or index, the ``platform`` they run on (OCI
image-spec descriptor.md and image-index.md; Docker's manifest-v2-2.md for the Docker shapes).
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from registry_model.manifests import fields
from registry_model.manifests.digests import check_digest
from registry_model.manifests.errors import ManifestFieldException
from registry_model.media_types import ENCRYPTED_SUFFIX, FOREIGN_LAYER_CONTENT_TYPES


def _no_annotations() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Platform:
    """The platform a manifest of a list or index runs on: ``architecture`` and ``os`` are
    required, ``os.version``, ``os.features``, ``variant`` and (Docker's) ``features`` not."""

    architecture: str
    os: str
    os_version: str | None = None
    os_features: tuple[str, ...] = ()
    variant: str | None = None
    features: tuple[str, ...] = ()


@dataclass(frozen=True)
class Descriptor:
    """One descriptor as parsed; ``data`` is the decoded embedded content, if any.

    ``is_foreign`` tells a non-distributable layer (Docker's ``foreign`` or OCI's
    ``nondistributable`` types): clients fetch it from ``urls``, not from the registry.
    """

    media_type: str
    digest: str
    size: int
    urls: tuple[str, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=_no_annotations)
    artifact_type: str | None = None
    platform: Platform | None = None
    data: bytes | None = None

    def __hash__(self) -> int:
        # The generated hash would fail on the read-only annotations mapping; equal
        # descriptors agree on these fields, so this hash is consistent with ==.
        return hash((self.media_type, self.digest, self.size))

    @property
    def is_foreign(self) -> bool:
        """True for a non-distributable (foreign) layer media type."""
        return self.media_type in FOREIGN_LAYER_CONTENT_TYPES

    @property
    def is_encrypted(self) -> bool:
        """True for an ocicrypt-encrypted layer (media type ending in ``+encrypted``)."""
        return self.media_type.endswith(ENCRYPTED_SUFFIX)

    @property
    def fetched_from_urls(self) -> bool:
        """True when the registry need not hold the blob: a foreign layer that has urls."""
        return self.is_foreign and bool(self.urls)


def parse_platform(value: object, where: str) -> Platform:
    """Parse a ``platform`` object; :class:`ManifestFieldException` names the bad field."""
    if not isinstance(value, dict):
        raise ManifestFieldException(where, f"is {fields.json_type(value)}, not an object")
    architecture = fields.read_string(value, "architecture", fields.path(where, "architecture"))
    os = fields.read_string(value, "os", fields.path(where, "os"))
    return Platform(
        architecture=architecture,
        os=os,
        os_version=fields.read_string(value, "os.version", fields.path(where, "os.version"),
                                      required=False),
        os_features=fields.read_string_list(value, "os.features",
                                            fields.path(where, "os.features")) or (),
        variant=fields.read_string(value, "variant", fields.path(where, "variant"),
                                   required=False),
        features=fields.read_string_list(value, "features", fields.path(where, "features")) or (),
    )


def _read_data(value: dict, where: str, size: int) -> bytes | None:
    encoded = fields.read_string(value, "data", where, required=False)
    if encoded is None:
        return None
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ManifestFieldException(where, f"is not base64: {exc}") from exc
    # The digest is not checked: published examples embed data under placeholder digests.
    if len(data) != size:
        raise ManifestFieldException(where, f"decodes to {len(data)} bytes, but size is {size}")
    return data


def parse_descriptor(value: object, where: str, platform_required: bool = False,
                     allowed_media_types: frozenset[str] | None = None) -> Descriptor:
    """Parse one descriptor found at ``where`` (e.g. ``layers[2]``).

    ``platform_required`` is Docker's manifest list rule; ``allowed_media_types`` restricts the
    ``mediaType`` where a format does. Every failure is a :class:`ManifestFieldException` (or
    its :class:`InvalidDigestException`) naming the field.
    """
    if not isinstance(value, dict):
        raise ManifestFieldException(where, f"is {fields.json_type(value)}, not an object")
    media_type_field = fields.path(where, "mediaType")
    media_type = fields.read_media_type(value, "mediaType", media_type_field)
    if allowed_media_types is not None and media_type not in allowed_media_types:
        allowed = ", ".join(sorted(allowed_media_types))
        raise ManifestFieldException(media_type_field, f"{media_type!r} is not one of {allowed}")
    digest_field = fields.path(where, "digest")
    digest = check_digest(fields.read_string(value, "digest", digest_field), digest_field)
    size = fields.read_size(value, "size", fields.path(where, "size"))
    has_platform = "platform" in value
    if not has_platform and platform_required:
        raise ManifestFieldException(fields.path(where, "platform"), "is required")
    return Descriptor(
        media_type=media_type,
        digest=digest,
        size=size,
        urls=fields.read_string_list(value, "urls", fields.path(where, "urls")) or (),
        annotations=fields.read_annotations(value, "annotations",
                                            fields.path(where, "annotations")),
        artifact_type=fields.read_media_type(value, "artifactType",
                                             fields.path(where, "artifactType"), required=False),
        platform=(parse_platform(value["platform"], fields.path(where, "platform"))
                  if has_platform else None),
        data=_read_data(value, fields.path(where, "data"), size),
    )


def parse_descriptor_list(document: dict, key: str,
                          platform_required: bool = False,
                          allowed_media_types: frozenset[str] | None = None,
                          ) -> tuple[Descriptor, ...]:
    """Parse the required array of descriptors at ``document[key]`` (``layers``,
    ``manifests``); entries are named ``key[index]`` in errors."""
    entries = fields.read_array(document, key, key)
    return tuple(parse_descriptor(entry, fields.path(key, index), platform_required,
                                  allowed_media_types)
                 for index, entry in enumerate(entries))
