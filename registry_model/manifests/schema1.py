"""Docker image manifest v2, schema 1: parse, verify and build.

Schema 1 (Docker distribution's "Image Manifest Version 2, Schema 1") names an image by
``name``/``tag``, lists its layer blobs in ``fsLayers`` and the matching legacy V1 image JSON in
``history``, both leaf (top) layer first. A signed manifest (``...v1+prettyjws``) appends JWS
signatures whose payload is the manifest without them (see :mod:`registry_model.manifests.jws`);
its digest is the SHA-256 of that payload, so re-signing never changes it. Everything this module
reports comes from the signed payload, never from bytes outside it.

Typical use::

    manifest = DockerSchema1Manifest(data, media_type=DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE)
    manifest.digest, manifest.layers[-1].v1_metadata.image_id
"""
from __future__ import annotations

import json
import logging
import re
from collections import namedtuple
from types import MappingProxyType
from typing import Any, Mapping

from jwcrypto.jwk import JWK

from registry_model.manifests import jws
from registry_model.manifests.digests import DEFAULT_DIGEST_ALGORITHM, compute_digest
from registry_model.manifests.errors import ManifestException

logger = logging.getLogger(__name__)

DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE = (
    "application/vnd.docker.distribution.manifest.v1+prettyjws")
# The spec says registries also accept schema 1 sent as plain application/json.
DOCKER_SCHEMA1_CONTENT_TYPES = frozenset({
    DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE,
    DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE,
    "application/json",
})

# OCI digest grammar: algorithm[+.-_algorithm]*:encoded
_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+", re.ASCII)

Schema1V1Metadata = namedtuple(
    "Schema1V1Metadata",
    ["image_id", "parent_image_id", "created", "comment", "command", "author", "labels"],
)
Schema1V1Metadata.__doc__ = """The legacy V1 image fields of one ``v1Compatibility`` entry.

``command`` is ``container_config.Cmd`` as a tuple of strings (None when absent), ``labels`` is
``config.Labels`` as a dict (empty when absent); the other fields are strings or None.
"""

Schema1Layer = namedtuple("Schema1Layer", ["digest", "v1_metadata", "raw_v1_metadata"])
Schema1Layer.__doc__ = """One layer: its blob digest (``blobSum``), its parsed V1 metadata and
the exact ``v1Compatibility`` string it came from."""


def _optional(data: dict, key: str, kind: type, where: str) -> Any:
    value = data.get(key)
    if value is not None and not isinstance(value, kind):
        raise ManifestException(f"{where}: {key} is not a {kind.__name__}")
    return value


def _command(value: object, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    # Docker's strslice accepts a lone string for a one-word command.
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return tuple(value)
    raise ManifestException(f"{where}: container_config.Cmd is not a list of strings")


def _labels(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ManifestException(f"{where}: config.Labels is not an object of strings")
    return dict(value)


def parse_v1_metadata(raw: object, where: str) -> Schema1V1Metadata:
    """Parse one ``v1Compatibility`` string into :class:`Schema1V1Metadata`.

    Raises :class:`ManifestException` when it is not a JSON object with a non-empty string
    ``id`` or when a field used here has the wrong type.
    """
    if not isinstance(raw, str):
        raise ManifestException(f"{where}: v1Compatibility is not a string")
    data = jws.load_json(raw, f"{where}: v1Compatibility")
    if not isinstance(data, dict):
        raise ManifestException(f"{where}: v1Compatibility is not a JSON object")
    image_id = data.get("id")
    if not isinstance(image_id, str) or not image_id:
        raise ManifestException(f"{where}: v1Compatibility has no image id")
    container_config = _optional(data, "container_config", dict, where) or {}
    config = _optional(data, "config", dict, where) or {}
    return Schema1V1Metadata(
        image_id=image_id,
        parent_image_id=_optional(data, "parent", str, where),
        created=_optional(data, "created", str, where),
        comment=_optional(data, "comment", str, where),
        command=_command(container_config.get("Cmd"), where),
        author=_optional(data, "author", str, where),
        labels=_labels(config.get("Labels"), where),
    )


def _layers_top_first(content: dict) -> tuple[Schema1Layer, ...]:
    fs_layers = content.get("fsLayers")
    history = content.get("history")
    if not isinstance(fs_layers, list) or not fs_layers:
        raise ManifestException("fsLayers is not a non-empty array")
    if not isinstance(history, list) or len(history) != len(fs_layers):
        raise ManifestException("history is not an array as long as fsLayers")
    layers = []
    for index, (fs_layer, entry) in enumerate(zip(fs_layers, history, strict=True)):
        where = f"layer {index} (from the top)"
        digest = fs_layer.get("blobSum") if isinstance(fs_layer, dict) else None
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            raise ManifestException(f"{where}: blobSum is not a digest")
        raw = entry.get("v1Compatibility") if isinstance(entry, dict) else None
        layers.append(Schema1Layer(digest, parse_v1_metadata(raw, where), raw))
    return tuple(layers)


class DockerSchema1Manifest:
    """A parsed Docker schema 1 manifest, signed or not.

    Construction parses ``manifest_bytes`` (exactly as received) and, when ``validate`` is true,
    verifies every signature; anything malformed or unverifiable raises
    :class:`ManifestException`. With ``validate=False`` signatures are not checked, and a
    signed payload that is not JSON (a document edited after signing) falls back to the whole
    document without its signatures, which is what tolerant registries did.
    ``digest_algorithm`` (sha256 or sha512) is the one :attr:`digest` uses.
    """

    def __init__(self, manifest_bytes: bytes, validate: bool = True,
                 media_type: str = DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE,
                 digest_algorithm: str = DEFAULT_DIGEST_ALGORITHM) -> None:
        if not isinstance(manifest_bytes, (bytes, bytearray, memoryview)):
            raise ManifestException("manifest bytes must be bytes, not "
                                    f"{type(manifest_bytes).__name__}")
        if not isinstance(media_type, str) or media_type not in DOCKER_SCHEMA1_CONTENT_TYPES:
            raise ManifestException(f"{media_type!r} is not a Docker schema 1 media type")
        self._bytes = bytes(manifest_bytes)
        self._read_unsigned_fallback = False
        document = jws.load_json(self._bytes, "manifest")
        if not isinstance(document, dict):
            raise ManifestException("manifest is not a JSON object")
        raw_signatures = document.get("signatures")
        if raw_signatures is not None and not isinstance(raw_signatures, list):
            raise ManifestException("signatures is not an array")
        if not raw_signatures:
            if media_type == DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE:
                raise ManifestException(f"a {media_type} manifest must carry signatures")
            self._signatures: tuple[jws.ManifestSignature, ...] = ()
            self._payload = self._bytes
            content = document
        else:
            self._signatures = tuple(
                jws.parse_signature(entry, index) for index, entry in enumerate(raw_signatures))
            self._payload = jws.signed_payload(self._bytes, list(self._signatures))
            if validate:
                self.verify()
            content = self._signed_content(document, validate)
        self._parse_content(content)
        self._digest = compute_digest(self._payload, digest_algorithm)

    def _signed_content(self, document: dict, validate: bool) -> dict:
        try:
            content = jws.load_json(self._payload, "signed payload")
            if not isinstance(content, dict):
                raise ManifestException("signed payload is not a JSON object")
        except ManifestException:
            if validate:
                raise
            logger.warning("schema 1 manifest payload is not JSON (edited after signing?); "
                           "reading the unverified document instead")
            self._read_unsigned_fallback = True
            return {key: value for key, value in document.items() if key != "signatures"}
        return content

    def _parse_content(self, content: dict) -> None:
        version = content.get("schemaVersion")
        if type(version) is not int or version != 1:
            raise ManifestException(f"schemaVersion is {version!r}, not 1")
        name, tag = content.get("name"), content.get("tag")
        if not isinstance(name, str) or not name:
            raise ManifestException("name is not a non-empty string")
        if not isinstance(tag, str) or not tag:
            raise ManifestException("tag is not a non-empty string")
        self._name, self._tag = name, tag
        self._architecture = _optional(content, "architecture", str, "manifest")
        self._layers_top_first = _layers_top_first(content)

    def verify(self) -> None:
        """Verify every signature against the signed payload; raise ManifestException if any
        fails, or if the fields were read from outside the payload (``validate=False`` on a
        payload that is not JSON). An unsigned manifest has nothing to verify and passes."""
        for index, signature in enumerate(self._signatures):
            jws.verify_signature(signature, self._payload, index)
        if self._read_unsigned_fallback:
            raise ManifestException("the signed payload is not a JSON manifest: the fields were "
                                    "read from unsigned bytes")

    @property
    def bytes(self) -> bytes:
        """The manifest exactly as given, signatures included."""
        return self._bytes

    @property
    def payload(self) -> bytes:
        """The signed payload (the bytes without signatures); the whole bytes when unsigned."""
        return self._payload

    @property
    def digest(self) -> str:
        """``sha256:<hex>`` (or the algorithm asked for) of :attr:`payload`, the digest Docker
        registries address it by."""
        return self._digest

    def digest_for(self, algorithm: str) -> str:
        """The digest of :attr:`payload` under ``algorithm`` (``sha256`` or ``sha512``)."""
        return compute_digest(self._payload, algorithm)

    @property
    def media_type(self) -> str:
        """The schema 1 media type this manifest is served with: prettyjws when signed."""
        if self._signatures:
            return DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE
        return DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE

    @property
    def is_signed(self) -> bool:
        """True when the manifest carries at least one signature."""
        return bool(self._signatures)

    @property
    def signatures(self) -> list[jws.ManifestSignature]:
        """The signatures as found in the document (checked only by :meth:`verify`)."""
        return list(self._signatures)

    @property
    def schema_version(self) -> int:
        """Always 1."""
        return 1

    @property
    def name(self) -> str:
        """The full repository name, e.g. ``library/ubuntu``."""
        return self._name

    @property
    def namespace_name(self) -> str:
        """The part of :attr:`name` before the first slash; empty when there is none."""
        return self._name.split("/", 1)[0] if "/" in self._name else ""

    @property
    def repo_name(self) -> str:
        """The part of :attr:`name` after the first slash (the whole name when there is none)."""
        return self._name.split("/", 1)[1] if "/" in self._name else self._name

    @property
    def tag(self) -> str:
        """The tag the manifest was pushed under."""
        return self._tag

    @property
    def architecture(self) -> str | None:
        """The ``architecture`` field, None when absent."""
        return self._architecture

    @property
    def layers(self) -> list[Schema1Layer]:
        """The layers base first, leaf (top) last: the reverse of the document's order."""
        return list(reversed(self._layers_top_first))

    @property
    def layers_top_first(self) -> list[Schema1Layer]:
        """The layers in the document's order: leaf (top) first, base last."""
        return list(self._layers_top_first)

    @property
    def leaf_layer(self) -> Schema1Layer:
        """The top layer, whose V1 metadata describes the image as a whole."""
        return self._layers_top_first[0]

    @property
    def blob_digests(self) -> list[str]:
        """Every layer's blob digest, base first; repeated blobs (empty layers) repeat."""
        return [layer.digest for layer in self.layers]

    # The common manifest properties (registry_model.manifests.protocol): schema 1 has no
    # config, children, subject, artifact type, annotations or layer sizes.
    @property
    def config(self) -> None:
        """Always None: schema 1 has no config blob."""
        return None

    @property
    def child_manifests(self) -> tuple:
        """Always empty."""
        return ()

    @property
    def subject(self) -> None:
        """Always None."""
        return None

    @property
    def artifact_type(self) -> None:
        """Always None."""
        return None

    @property
    def annotations(self) -> Mapping[str, str]:
        """Always empty."""
        return MappingProxyType({})

    @property
    def is_manifest_list(self) -> bool:
        """Always False."""
        return False

    @property
    def is_index(self) -> bool:
        """Always False."""
        return False

    @property
    def layers_compressed_size(self) -> None:
        """Always None: schema 1 does not give layer sizes."""
        return None

    @property
    def labels(self) -> dict[str, str]:
        """The image's labels: ``config.Labels`` of the top layer."""
        return dict(self.leaf_layer.v1_metadata.labels)

    def __repr__(self) -> str:
        return f"<DockerSchema1Manifest {self._name}:{self._tag} {self.digest}>"


class DockerSchema1ManifestBuilder:
    """Assemble a schema 1 manifest and build it, signed or unsigned.

    Layers are added in schema 1 order, as they appear in ``fsLayers``: the top (leaf) layer
    first and the base layer last. ``add_layer`` returns the builder so calls can be chained.
    """

    def __init__(self, namespace_name: str, repo_name: str, tag: str,
                 architecture: str = "amd64") -> None:
        self._name = f"{namespace_name}/{repo_name}" if namespace_name else repo_name
        self._tag = tag
        self._architecture = architecture
        self._fs_layers: list[dict] = []
        self._history: list[dict] = []

    def add_layer(self, blob_digest: str, v1_json_metadata: str) -> DockerSchema1ManifestBuilder:
        """Append a layer below the ones already added (leaf first, base last)."""
        self._fs_layers.append({"blobSum": blob_digest})
        self._history.append({"v1Compatibility": v1_json_metadata})
        return self

    def build(self, json_web_key: JWK | None = None) -> DockerSchema1Manifest:
        """Build the manifest: signed with ``json_web_key`` (a private jwcrypto JWK, see
        :func:`registry_model.manifests.jws.generate_signing_key`) as prettyjws, or unsigned
        (v1+json) without one. The result is parsed back with validation, so bad layer input
        raises :class:`ManifestException` here rather than in a later reader.
        """
        content = {
            "schemaVersion": 1,
            "name": self._name,
            "tag": self._tag,
            "architecture": self._architecture,
            "fsLayers": self._fs_layers,
            "history": self._history,
        }
        try:
            payload = json.dumps(content, indent=3).encode("ascii")
        except (TypeError, ValueError) as exc:
            raise ManifestException(f"manifest fields cannot be serialized: {exc}") from exc
        if json_web_key is None:
            return DockerSchema1Manifest(payload, media_type=DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE)
        return DockerSchema1Manifest(jws.sign_pretty(payload, json_web_key),
                                     media_type=DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE)
