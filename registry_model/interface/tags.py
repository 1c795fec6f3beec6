"""Tags: lookups, listings, history, moves, deletion and expiration.

Part of :class:`registry_model.interface.RegistryDataInterface`; see that package for what
every method shares (datatypes, budgets, transactions, replicas, stale handles).
"""
from abc import ABC, abstractmethod


class TagsInterface(ABC):
    """Tags: lookups, listings, history, moves, deletion and expiration."""

    @abstractmethod
    def find_matching_tag(self, repository_ref, tag_names):
        """The alive, non-hidden Tag whose name comes first in ``tag_names``, or None.

        ``tag_names`` must be a list or tuple of names (a string raises TypeError).
        Budget: 1 statement, 0 for an empty list.
        """

    @abstractmethod
    def get_most_recent_tag(self, repository_ref):
        """The alive, non-hidden Tag with the latest start (ties: highest id), or None.

        Budget: 1 statement.
        """

    @abstractmethod
    def get_repo_tag(self, repository_ref, tag_name):
        """The alive, non-hidden Tag of that name, with its manifest digest, or None.

        Budget: 1 statement.
        """

    @abstractmethod
    def list_all_active_repository_tags(self, repository_ref):
        """Every alive, non-hidden Tag of the repository, by name. Budget: 1 statement."""

    @abstractmethod
    def lookup_active_repository_tags(self, repository_ref, last=None, limit=100):
        """Up to ``limit`` alive, non-hidden Tags named after ``last``, sorted by name.

        The order and cursor of the OCI distribution tag list (``n``, ``last``).
        Budget: 1 statement.
        """

    @abstractmethod
    def list_repository_tag_history(self, repository_ref, page=1, size=100,
                                    specific_tag_name=None, active_tags_only=False):
        """One page of tag rows, alive and ended, newest first: ``(tags, has_more)``.

        Budget: 1 statement.
        """

    @abstractmethod
    def retarget_tag(self, repository_ref, tag_name, manifest_or_legacy_image, storage,
                     legacy_manifest_key, is_reversion=False):
        """Point ``tag_name`` at a Manifest or LegacyImage of the repository; the new Tag.

        With ``is_reversion`` the move restores an earlier state from the time
        machine and is marked so. A legacy image without a stored manifest gets
        a schema 1 manifest built for it (signed with ``legacy_manifest_key``
        when given); ManifestTooLargeException, before any write, when that
        manifest would exceed ``validation.MAX_MANIFEST_BYTES``. Retried after a
        lost race. Budget: 10 statements.
        """

    @abstractmethod
    def delete_tag(self, repository_ref, tag_name):
        """End the alive tag of that name; the ended Tag, or None.

        Retried after a lost race. Budget: 3 statements.
        """

    @abstractmethod
    def delete_tags_for_manifest(self, manifest):
        """End every alive tag whose manifest has this digest; the ended Tags.

        Budget: 3 statements.
        """

    @abstractmethod
    def change_repository_tag_expiration(self, tag, expiration_date):
        """Set when an alive tag ends (None: never): ``(previous expiration, changed)``.

        Datetimes are UTC. An expiration not after the tag's start changes
        nothing. Budget: 2 statements.
        """

    @abstractmethod
    def set_tags_expiration_for_manifest(self, manifest, expiration_sec):
        """End every alive tag pointing at the manifest ``expiration_sec`` after its start.

        Retried after a lost race. Budget: 3 statements.
        """

    @abstractmethod
    def has_any_tag(self):
        """True when this model's tables hold a tag row of any repository: alive, ended or
        hidden.

        Tells a database this model has never written (one written through the other
        model only, say) from an empty one. Budget: 1 statement.
        """

    @abstractmethod
    def has_expired_tag(self, repository_ref, tag_name):
        """True when the repository holds an ended row of that tag name. Budget: 1 statement."""

    @abstractmethod
    def change_tag_immutability(self, tag, immutable):
        """Make an alive Tag immutable (or mutable again); the updated Tag, or None if not alive.

        Moving, deleting or expiring an immutable tag raises ImmutableTagException and
        changes nothing. A tag with a scheduled end cannot become immutable
        (DataModelException). UnsupportedOperationException on a model without immutable
        tags (pre-OCI). Budget: 2 statements.
        """
