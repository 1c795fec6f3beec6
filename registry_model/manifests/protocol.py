"""The one shape every parsed manifest has, whatever its format.

Callers (the model layers, the CLI) treat a parsed manifest through :class:`ParsedManifest`:
Docker schema 1, Docker schema 2, Docker manifest lists, OCI image manifests and OCI indexes all
provide it. Format-specific details (schema 1's V1 metadata, say) stay on the concrete classes.
"""
from __future__ import annotations

from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

from registry_model.manifests.descriptor import Descriptor


@runtime_checkable
class ParsedManifest(Protocol):
    """A manifest parsed from its exact bytes; immutable.

    ``layers`` holds :class:`Descriptor` objects, except for schema 1 whose layers are
    ``Schema1Layer`` tuples (both have ``digest``). Lists and indexes have no config and no
    layers; image manifests have no child manifests.
    """

    @property
    def bytes(self) -> bytes:
        """The manifest exactly as received."""

    @property
    def digest(self) -> str:
        """Its digest: sha256 unless parsed for another algorithm."""

    def digest_for(self, algorithm: str) -> str:
        """Its digest under ``algorithm`` (``sha256`` or ``sha512``)."""

    @property
    def media_type(self) -> str:
        """The media type it is served with."""

    @property
    def schema_version(self) -> int:
        """1 or 2."""

    @property
    def config(self) -> Descriptor | None:
        """The config descriptor of an image manifest; None otherwise."""

    @property
    def layers(self) -> Sequence[Any]:
        """The layers, base first."""

    @property
    def child_manifests(self) -> Sequence[Descriptor]:
        """The manifests a list or index names, with their platforms; empty otherwise."""

    @property
    def subject(self) -> Descriptor | None:
        """The manifest this one refers to (OCI 1.1 referrers); None when it has none."""

    @property
    def artifact_type(self) -> str | None:
        """``artifactType``, else the config media type of a non-image config, else None."""

    @property
    def annotations(self) -> Mapping[str, str]:
        """The top-level annotations; empty when none."""

    @property
    def is_manifest_list(self) -> bool:
        """True for a Docker manifest list or an OCI index."""

    @property
    def is_index(self) -> bool:
        """Same as :attr:`is_manifest_list` (the OCI name)."""

    @property
    def blob_digests(self) -> Sequence[str]:
        """The blob digests the registry must hold for this manifest: config and layers,
        without foreign layers fetched from urls, each once (schema 1 keeps its own API:
        every layer's, base first, repeats included); empty for lists and indexes."""

    @property
    def layers_compressed_size(self) -> int | None:
        """Sum of the layers' sizes; None when unknown (schema 1) or not an image."""
