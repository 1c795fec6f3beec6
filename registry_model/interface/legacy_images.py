"""The legacy (V1) image view of a repository.

Part of :class:`registry_model.interface.RegistryDataInterface`; see that package for what
every method shares (datatypes, budgets, transactions, replicas, stale handles).
"""
from abc import ABC, abstractmethod


class LegacyImagesInterface(ABC):
    """The legacy (V1) image view of a repository."""

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
    def get_legacy_images_owned_by_tag(self, tag):
        """The LegacyImages that only this tag uses (no other alive tag reaches them).

        Budget: 3 statements.
        """
