"""RegistryDataInterface: the abstract API registry code programs to, the union of narrow ABCs.

One ABC per concept, each in its own module: :class:`RepositoriesInterface`
(repositories and namespaces), :class:`TagsInterface`, :class:`ManifestsInterface`
(manifests and labels), :class:`LegacyImagesInterface`, :class:`BlobsInterface` (blobs,
uploads, mounts) and :class:`CollectionInterface` (garbage collection). Code that needs
one concept can depend on that ABC alone.

Every method returns datatypes from :mod:`registry_model.datatypes` (never a
peewee row), lists for several items. The budget in each docstring ("Budget: N
statements, M with ...") is the largest number of SQL statements the method may send
(BEGIN, COMMIT and savepoints not counted, lookup tables cached), whatever the size of
the data; it is stated there once, and the conformance suite reads it from there
(:func:`registry_model.testing.budgets.budget`) to hold every implementation to it.
A repository reference, tag or manifest argument of the wrong type (None included)
raises TypeError before any statement.

With read replicas configured (:mod:`registry_model.replicas`), the lookups and
listings may be answered by a replica, a little behind the primary, outside a
transaction: find_matching_tag, get_most_recent_tag, lookup_repository,
get_repo_tag, get_manifest_for_tag, lookup_manifest_by_digest, get_legacy_images,
get_legacy_image, list_manifest_labels, get_manifest_label,
get_repo_blob_by_digest, lookup_referrers, list_all_active_repository_tags,
lookup_active_repository_tags, list_repository_tag_history, has_expired_tag,
list_repositories and get_namespace.
Those returning one item or None ask the primary again before answering None
(one statement more), so what was just created is always found; a listing may
lack the newest rows. Every other method reads and writes on the primary:
lookup_blob_upload (the push flow reads the upload it has just written) and
get_legacy_images_owned_by_tag (it decides what a deletion removes) included.

Every write is one transaction. A write that the database ends as a deadlock victim,
by a serialization failure or a lock timeout never surfaces as a driver error: the
writes marked "retried" run again in a new transaction, up to eight times; a write that
is not retried, or keeps losing, raises ConcurrentWriteException having written nothing.
Any call raises DatabaseUnavailableException when the database server cannot be reached.

A datatype passed back in is checked against its row: a Manifest by its digest and tag row,
a LegacyImage by its V1 id, a Blob by its digest, a Tag by its name and start. One whose row
is gone names nothing (None, False, an empty list or NotFoundException, as for a row that
never existed), even where SQLite has given its id to a newer row.
"""
from registry_model.interface.blobs import BlobsInterface
from registry_model.interface.collection import CollectionInterface
from registry_model.interface.legacy_images import LegacyImagesInterface
from registry_model.interface.manifests import ManifestsInterface
from registry_model.interface.repositories import RepositoriesInterface
from registry_model.interface.tags import TagsInterface

CONCEPTS = (RepositoriesInterface, TagsInterface, ManifestsInterface, LegacyImagesInterface,
            BlobsInterface, CollectionInterface)


class RegistryDataInterface(RepositoriesInterface, TagsInterface, ManifestsInterface,
                            LegacyImagesInterface, BlobsInterface, CollectionInterface):
    """What a registry needs from its data model: every concept's ABC in one."""

    __slots__ = ()


__all__ = ["CONCEPTS", "BlobsInterface", "CollectionInterface", "LegacyImagesInterface",
           "ManifestsInterface", "RegistryDataInterface", "RepositoriesInterface",
           "TagsInterface"]
