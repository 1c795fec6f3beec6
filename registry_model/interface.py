"""RegistryDataInterface: the abstract API registry code programs to.

Every method returns datatypes from :mod:`registry_model.datatypes` (never a
peewee row), lists for several items. The budget in each docstring is the
largest number of SQL statements the method may send (BEGIN, COMMIT and
savepoints not counted, lookup tables cached), whatever the size of the data;
``tests/test_query_budgets.py`` holds every implementation to it.
"""
from abc import ABCMeta, abstractmethod

import six


@six.add_metaclass(ABCMeta)
class RegistryDataInterface:
    """What a registry needs from its data model: repositories, tags, manifests, images, labels."""

    @abstractmethod
    def find_matching_tag(self, repository_ref, tag_names):
        """The alive, non-hidden Tag whose name comes first in ``tag_names``, or None.

        Budget: 1 statement (0 for an empty list).
        """

    @abstractmethod
    def get_most_recent_tag(self, repository_ref):
        """The alive, non-hidden Tag with the latest start (ties: highest id), or None.

        Budget: 1 statement.
        """

    @abstractmethod
    def lookup_repository(self, namespace_name, repo_name, kind_filter=None):
        """The RepositoryReference of ``namespace_name/repo_name``, or None.

        None also when the repository is of another kind than ``kind_filter``
        or is marked for deletion. Budget: 1 statement.
        """

    @abstractmethod
    def get_manifest_for_tag(self, tag):
        """The Manifest stored for the Tag, or None. Budget: 1 statement."""

    @abstractmethod
    def lookup_manifest_by_digest(self, repository_ref, manifest_digest, allow_dead=False):
        """The Manifest with that digest under an alive tag of the repository, or None.

        Any tag, alive or in the time machine, counts when ``allow_dead``. A
        malformed digest gives None. Budget: 1 statement.
        """

    @abstractmethod
    def get_legacy_images(self, repository_ref):
        """Every LegacyImage of the repository, with ``parents`` and ``tags`` filled.

        Budget: 2 statements.
        """

    @abstractmethod
    def get_legacy_image(self, repository_ref, docker_image_id, include_parents=False):
        """That LegacyImage, or None; ``parents`` filled when asked, ``tags`` None.

        Budget: 1 statement, 2 with parents.
        """

    @abstractmethod
    def create_manifest_label(self, manifest, key, value, source_type_name,
                              media_type_name=None):
        """Create and return a Label on the Manifest.

        The key must follow the key rules unless the source type is
        ``manifest``; the media type is inferred when None. Budget: 3 statements.
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

        ImmutableLabelException for a label of an immutable source type.
        Budget: 3 statements.
        """
