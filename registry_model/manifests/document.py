"""The common part of Docker schema 2 and OCI documents: bytes, digest, media type, version.

Every schema 2 / OCI format is a JSON object with ``schemaVersion`` 2 and a ``mediaType`` that,
when present, must be the format's own (Docker requires it, OCI lets it out). Its digest is
computed over the exact bytes received. The OCI formats may also carry ``artifactType``,
``subject`` and ``annotations``; the Docker formats have no such fields and ignore them.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import ClassVar, Mapping

from registry_model.manifests import fields
from registry_model.manifests.descriptor import Descriptor, parse_descriptor
from registry_model.manifests.digests import DEFAULT_DIGEST_ALGORITHM, compute_digest
from registry_model.manifests.errors import (
    ManifestFieldException,
    MediaTypeMismatchException,
    UnknownSchemaVersionException,
)

# Fields that tell one manifest format from another (containers/image's ambiguity rule): a
# document may carry only its own, so no document reads as two different formats.
_FORMAT_FIELDS = frozenset({"config", "layers", "manifests", "fsLayers", "history"})


class JsonManifest:
    """Base of the schema 2 and OCI manifest classes; not used on its own.

    Subclasses set :attr:`MEDIA_TYPE`, whether the ``mediaType`` field is required, whether
    the OCI 1.1 fields are read, which format fields they own, and implement ``_parse``.
    Parsing happens in the constructor; the object never changes afterwards.
    """

    MEDIA_TYPE: ClassVar[str]
    MEDIA_TYPE_REQUIRED: ClassVar[bool]
    READS_OCI_FIELDS: ClassVar[bool]
    OWN_FIELDS: ClassVar[frozenset[str]]

    def __init__(self, manifest_bytes: bytes,
                 digest_algorithm: str = DEFAULT_DIGEST_ALGORITHM,
                 document: dict | None = None) -> None:
        """Parse ``manifest_bytes``; ``document`` may pass their JSON when already decoded.

        Raises a :class:`ManifestException` subclass naming the field at fault.
        """
        self._bytes = fields.check_size_limit(manifest_bytes)
        self._digest = compute_digest(self._bytes, digest_algorithm)
        if document is None:
            document = fields.load_document(self._bytes)
        version = fields.read_schema_version(document)
        if version != 2:
            raise UnknownSchemaVersionException("schemaVersion",
                                                f"is {version}, not 2 ({self.MEDIA_TYPE})")
        self._check_media_type(document)
        foreign_fields = sorted((_FORMAT_FIELDS - self.OWN_FIELDS) & document.keys())
        if foreign_fields:
            raise ManifestFieldException(foreign_fields[0],
                                         f"is not a field of {self.MEDIA_TYPE}")
        self._subject: Descriptor | None = None
        self._artifact_type: str | None = None
        self._annotations: Mapping[str, str] = MappingProxyType({})
        if self.READS_OCI_FIELDS:
            self._read_oci_fields(document)
        self._parse(document)

    def _check_media_type(self, document: dict) -> None:
        declared = fields.read_string(document, "mediaType", "mediaType",
                                      required=self.MEDIA_TYPE_REQUIRED)
        if declared is not None and declared != self.MEDIA_TYPE:
            raise MediaTypeMismatchException(
                "mediaType", f"is {declared[:150]!r}, but the manifest is a {self.MEDIA_TYPE}")

    def _read_oci_fields(self, document: dict) -> None:
        self._artifact_type = fields.read_media_type(document, "artifactType", "artifactType",
                                                     required=False)
        if "subject" in document:
            self._subject = parse_descriptor(document["subject"], "subject")
        self._annotations = fields.read_annotations(document, "annotations", "annotations")

    def _parse(self, document: dict) -> None:
        raise NotImplementedError

    @property
    def bytes(self) -> bytes:
        """The manifest exactly as received."""
        return self._bytes

    @property
    def digest(self) -> str:
        """The digest of :attr:`bytes` under the algorithm it was parsed for (sha256 default)."""
        return self._digest

    def digest_for(self, algorithm: str) -> str:
        """The digest of :attr:`bytes` under ``algorithm`` (``sha256`` or ``sha512``)."""
        return compute_digest(self._bytes, algorithm)

    @property
    def media_type(self) -> str:
        """The format's media type (also when the document leaves its ``mediaType`` out)."""
        return self.MEDIA_TYPE

    @property
    def schema_version(self) -> int:
        """Always 2."""
        return 2

    @property
    def subject(self) -> Descriptor | None:
        """The OCI ``subject`` this manifest refers to; None when absent (always for Docker)."""
        return self._subject

    @property
    def annotations(self) -> Mapping[str, str]:
        """The top-level OCI ``annotations`` (read-only); empty when absent."""
        return self._annotations

    @property
    def artifact_type(self) -> str | None:
        """The ``artifactType`` field; image manifests add the config rule."""
        return self._artifact_type

    @property
    def config(self) -> Descriptor | None:
        """The config descriptor; None for lists and indexes."""
        return None

    @property
    def layers(self) -> tuple[Descriptor, ...]:
        """The layers, base first; empty for lists and indexes."""
        return ()

    @property
    def child_manifests(self) -> tuple[Descriptor, ...]:
        """The manifests of a list or index; empty for image manifests."""
        return ()

    @property
    def is_manifest_list(self) -> bool:
        """True for a Docker manifest list or an OCI index."""
        return False

    @property
    def is_index(self) -> bool:
        """Same as :attr:`is_manifest_list`."""
        return self.is_manifest_list

    @property
    def blob_digests(self) -> tuple[str, ...]:
        """The blobs the registry must hold; none for lists and indexes."""
        return ()

    @property
    def layers_compressed_size(self) -> int | None:
        """The sum of the layer sizes; None for lists and indexes."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._digest}>"
