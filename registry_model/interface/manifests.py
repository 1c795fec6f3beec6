"""Manifests (stored and pushed) and their labels.

Part of :class:`registry_model.interface.RegistryDataInterface`; see that package for what
every method shares (datatypes, budgets, transactions, replicas, stale handles).
"""
from abc import ABC, abstractmethod


class ManifestsInterface(ABC):
    """Manifests (stored and pushed) and their labels."""

    # The manifest media types create_manifest_and_retarget_tag stores as they are; a
    # caller holding another format (an importer, a registry's push handler) converts it
    # first or refuses it. Reading it sends no statement.
    stored_manifest_media_types: frozenset = frozenset()

    @abstractmethod
    def get_manifest_for_tag(self, tag):
        """The Manifest stored for the Tag, or None. Budget: 1 statement."""

    @abstractmethod
    def lookup_manifest_by_digest(self, repository_ref, manifest_digest, allow_dead=False):
        """The Manifest with that digest under an alive tag of the repository, or None.

        Any tag, alive or in the time machine, counts when ``allow_dead``. On a model
        that stores lists and subjects (the OCI model) a manifest so found also brings
        the manifests it lists and those whose subject it is, at any depth: an image in
        an index in a tagged index. A malformed digest gives None. Budget: 1 statement.
        """

    @abstractmethod
    def create_manifest_and_retarget_tag(self, repository_ref, manifest_interface_instance,
                                         tag_name, storage):
        """Store a pushed schema 1 manifest and point ``tag_name`` at it: ``(Manifest, Tag)``.

        Every layer blob must be linked to the repository
        (ManifestBlobUnknownException otherwise). The legacy image chain is
        synthesized (clashing V1 ids rewritten), the tag moved (time machine
        kept) and the image config's labels stored as ``manifest`` labels, in
        one transaction, retried after a lost race. A manifest over
        ``validation.MAX_MANIFEST_BYTES`` (4 MiB) raises ManifestTooLargeException,
        a config label over the label limit LabelValueTooLargeException, before
        any write. Budget: 16 statements (whatever the number of layers).
        """

    @abstractmethod
    def delete_manifest(self, repository_ref, manifest_digest):
        """End every alive tag pointing at the repository's manifest of that digest.

        What a registry's DELETE of a manifest by digest does: hidden tags (a push by digest)
        end too, so the manifest stops being found by digest unless an alive list or index
        still holds it (on the OCI model also while it is a referrer of a found subject).
        The ended non-hidden Tags (maybe none), or None when no manifest of that digest is
        found in the repository (a malformed digest included). ImmutableTagException when
        one of the tags is immutable, nothing changed then. Retried after a lost race.
        Budget: 4 statements.
        """

    @abstractmethod
    def create_manifest_label(self, manifest, key, value, source_type_name,
                              media_type_name=None):
        """Create and return a Label on the Manifest.

        The key must follow the key rules unless the source type is
        ``manifest``; the value is at most ``validation.MAX_LABEL_VALUE_BYTES``
        (64 KiB) of UTF-8, else LabelValueTooLargeException before any write;
        the media type is inferred when None. A key with a
        handler (``quay.expires-after``) also changes the manifest's tags.
        Retried after a deadlock. Budget: 3 statements, 5 for a key with a handler.
        """

    @abstractmethod
    def list_manifest_labels(self, manifest, key_prefix=None):
        """The Manifest's labels in creation order, optionally only keys with that prefix.

        The prefix is case-sensitive and literal. Budget: 1 statement.
        """

    @abstractmethod
    def get_manifest_label(self, manifest, label_uuid):
        """The Manifest's Label with that uuid, or None. Budget: 1 statement."""

    @abstractmethod
    def delete_manifest_label(self, manifest, label_uuid):
        """Delete and return the Manifest's Label with that uuid, or None.

        ImmutableLabelException for a label of an immutable source type. Of
        concurrent deletes of one label, one returns it and the others None.
        Retried after a deadlock. Budget: 3 statements.
        """

    @abstractmethod
    def lookup_referrers(self, repository_ref, manifest_digest, artifact_type=None):
        """The Referrers of ``manifest_digest`` in the repository: manifests whose subject it is.

        Their digests, media types, sizes, artifact types and annotations, oldest first;
        only those of ``artifact_type`` when given. The subject need not be stored (a
        referrer may arrive before it); a malformed digest has none. A model without
        subjects (pre-OCI) returns an empty list without a statement. Budget: 1 statement.
        """
