"""Immutable values handed to callers of the interface.

Each datatype is a ``collections.namedtuple`` built by a ``for_*`` classmethod
from rows (or plain values) that were already loaded. They never hold a
connection and never run a query when an attribute is read, so what a call
costs is visible in the interface method that built them. The one value here
that is not a namedtuple is :class:`ParentChain`, the read-only sequence a
LegacyImage's ``parents`` may be. This module imports nothing from peewee.
"""
import enum
import json
from collections import namedtuple
from collections.abc import Sequence
from operator import attrgetter, itemgetter
from typing import Any, Iterable, Optional

from registry_model.media_types import (  # noqa: F401  (part of this module's API)
    DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE,
    DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE,
    schema1_media_type,
)
from registry_model.parent_chain import ParentChain
from registry_model.referrer_annotations import MEMO as _ANNOTATIONS_MEMO
from registry_model.referrer_annotations import annotations_of


class RepositoryState(enum.IntEnum):
    """Lifecycle state of a repository, stored as an integer in ``Repository.state``."""

    NORMAL = 0
    READ_ONLY = 1
    MIRROR = 2
    MARKED_FOR_DELETION = 3


class RepositoryReference(namedtuple("RepositoryReference", [
        "id", "namespace_name", "name", "kind", "is_public", "state"])):
    """A repository: its id, ``namespace_name/name``, kind name, visibility and state.

    ``state`` is a :class:`RepositoryState` member when
    the row was loaded, or None for a reference built from an id alone.
    """

    __slots__ = ()

    @classmethod
    def for_repo_obj(cls, repo: Any, namespace_name: Optional[str] = None,
                     kind_name: Optional[str] = None,
                     is_public: Optional[bool] = None) -> "RepositoryReference":
        """Build from a Repository row; the names its ids stand for are filled when not given.

        A Repository model row names itself: its namespace from the joined namespace
        (peewee loads one that was not joined: one query), its kind and visibility from the
        process's cache of the lookup tables (no query once loaded). A flat row must come
        with the names.
        """
        if namespace_name is None or kind_name is None or is_public is None:
            # The row names itself (registry_model.model.tables.Repository.reference_names).
            names = repo.reference_names()
            namespace_name = names[0] if namespace_name is None else namespace_name
            kind_name = names[1] if kind_name is None else kind_name
            is_public = names[2] if is_public is None else is_public
        return cls(id=repo.id, namespace_name=namespace_name, name=repo.name,
                   kind=kind_name, is_public=is_public, state=repo.state)

    @classmethod
    def for_id(cls, repo_id: int, namespace_name: Optional[str] = None,
               name: Optional[str] = None, kind: Optional[str] = None,
               is_public: Optional[bool] = None, state: Any = None) -> "RepositoryReference":
        """A reference to a repository known by id; the other fields stay None unless given."""
        return cls(id=repo_id, namespace_name=namespace_name, name=name, kind=kind,
                   is_public=is_public, state=state)

    @property
    def full_name(self) -> str:
        """``namespace/name``, the way clients spell the repository."""
        return "%s/%s" % (self.namespace_name, self.name)


def repository_id(repository_ref: Any) -> int:
    """The id of a RepositoryReference, or TypeError naming what was passed instead.

    The interface's methods call it first, so a None or a name where a reference belongs
    fails with a message that says so, before any statement.
    """
    if not isinstance(repository_ref, RepositoryReference):
        raise TypeError("expected a RepositoryReference (from lookup_repository), got %r"
                        % (repository_ref,))
    return repository_ref.id


class Namespace(namedtuple("Namespace", ["id", "name", "enabled",
                                         "removed_tag_expiration_s"])):
    """A namespace (a user or organization owning repositories) and its time-machine window.

    ``removed_tag_expiration_s`` is how long an ended tag of its repositories stays
    restorable before garbage collection may remove it.
    """

    __slots__ = ()

    @classmethod
    def for_namespace_row(cls, namespace: Any) -> "Namespace":
        """Build from a loaded Namespace row."""
        return cls(id=namespace.id, name=namespace.name, enabled=bool(namespace.enabled),
                   removed_tag_expiration_s=int(namespace.removed_tag_expiration_s))


class Tag(namedtuple("Tag", [
        "id", "name", "repository", "docker_image_id", "reversion",
        "lifetime_start_ts", "lifetime_end_ts", "image_id", "hidden", "manifest_digest",
        "immutable"])):
    """A tag row: its name, the legacy image it points at and its lifetime (Unix seconds).

    ``repository`` is a RepositoryReference with namespace and name filled;
    ``lifetime_end_ts`` is None for a tag with no end. ``image_id`` is the
    database id of the legacy image; ``manifest_digest`` the digest of its
    manifest when the query loaded it, else None. ``immutable`` is True for a tag
    that cannot be moved, deleted or expired (always False on the pre-OCI model).
    """

    __slots__ = ()

    @classmethod
    def for_repository_tag(cls, tag: Any, docker_image_id: str,
                           repository: RepositoryReference,
                           manifest_digest: Optional[str] = None) -> "Tag":
        """Build from a RepositoryTag row, its image's V1 id and its repository."""
        return cls(id=tag.id, name=tag.name, repository=repository,
                   docker_image_id=docker_image_id, reversion=tag.reversion,
                   lifetime_start_ts=tag.lifetime_start_ts,
                   lifetime_end_ts=tag.lifetime_end_ts, image_id=tag.image_id,
                   hidden=tag.hidden, manifest_digest=manifest_digest, immutable=False)

    @classmethod
    def for_oci_tag(cls, tag: Any, repository: RepositoryReference,
                    docker_image_id: Optional[str] = None) -> "Tag":
        """Build from an OCI tag row (millisecond lifetimes) carrying ``manifest_digest``.

        Lifetimes become Unix seconds (``ms // 1000``) as on the pre-OCI model;
        ``docker_image_id`` is the synthetic V1 id of the manifest's top layer (None for a
        list, an index or an artifact without layers) and ``image_id`` is None: OCI
        manifests have no legacy image rows.
        """
        end_ms = tag.lifetime_end_ms
        # Positional through tuple.__new__: a repository's listing builds thousands.
        return _new_tuple(cls, (tag.id, tag.name, repository, docker_image_id,
                                bool(tag.reversion), tag.lifetime_start_ms // 1000,
                                end_ms // 1000 if end_ms is not None else None, None,
                                bool(tag.hidden), tag.manifest_digest, bool(tag.immutable)))


class Manifest(namedtuple("Manifest", ["id", "digest", "media_type", "manifest_bytes",
                                       "tag_id"])):
    """A stored manifest: digest, media type and the exact bytes that were pushed.

    In the pre-OCI schema a manifest is a TagManifest row: ``id`` is its id and
    ``tag_id`` the tag it belongs to.
    """

    __slots__ = ()

    @classmethod
    def for_tag_manifest(cls, tag_manifest: Any,
                         media_type_name: Optional[str] = None) -> "Manifest":
        """Build from a TagManifest row and the name of its stored media type.

        With no media type (a row written by another tool) it is read from the
        stored JSON, which costs a parse of the whole manifest.
        """
        manifest_bytes = tag_manifest.json_data.encode("utf-8")
        return cls(id=tag_manifest.id, digest=tag_manifest.digest,
                   media_type=media_type_name or schema1_media_type(manifest_bytes),
                   manifest_bytes=manifest_bytes, tag_id=tag_manifest.tag_id)


    @classmethod
    def for_oci_manifest(cls, manifest: Any, media_type_name: str) -> "Manifest":
        """Build from an OCI manifest row (its stored bytes) and its media type's name.

        ``tag_id`` is None: an OCI manifest belongs to its repository, not to a tag.
        """
        return _new_tuple(cls, (manifest.id, manifest.digest, media_type_name,
                                bytes(manifest.manifest_bytes), None))


class Referrer(namedtuple("Referrer", ["digest", "media_type", "size", "artifact_type",
                                       "annotations"])):
    """A manifest whose subject is the manifest asked about (an OCI 1.1 referrer).

    What the referrers API lists: its descriptor's digest, media type and size in bytes,
    its artifact type (None when it has none) and its top-level annotations (a dict,
    empty when none).
    """

    __slots__ = ()

    @classmethod
    def for_manifest_row(cls, row: Any, media_type_name: str) -> "Referrer":
        """Build from a manifest row with ``digest``, ``artifact_type`` and the stored bytes.

        The annotations are read from the bytes, which the parser accepted at push time.
        """
        return cls.for_columns(row.digest, media_type_name, row.artifact_type,
                               row.manifest_bytes)

    @classmethod
    def for_columns(cls, digest: str, media_type_name: str, artifact_type: Optional[str],
                    manifest_bytes: bytes) -> "Referrer":
        """Build from a manifest's digest, media type name, artifact type and stored bytes."""
        manifest_bytes = bytes(manifest_bytes)
        return _new_tuple(cls, (digest, media_type_name, len(manifest_bytes), artifact_type,
                                dict(annotations_of(digest, manifest_bytes))))

    @classmethod
    def for_rows(cls, rows: Iterable, media_type_names: dict) -> list:
        """Build from many ``(digest, media type id, artifact type, stored bytes)`` rows.

        ``media_type_names`` maps the ids to names. The same as :meth:`for_columns` per row,
        in one loop: a listing of referrers is a loop of this and one statement.
        """
        built = []
        known_annotations = _ANNOTATIONS_MEMO.get
        for digest, media_type_id, artifact_type, manifest_bytes in rows:
            manifest_bytes = bytes(manifest_bytes)
            known = known_annotations(digest)
            # The bytes compared, not hashed: for 900 bytes 0.1 us against 0.2 us.
            if known is not None and known[0] == manifest_bytes:
                annotations = known[1]
            else:
                annotations = annotations_of(digest, manifest_bytes)
            built.append(_new_tuple(cls, (digest, media_type_names[media_type_id],
                                          len(manifest_bytes), artifact_type,
                                          dict(annotations))))
        return built


# Building many tuples: the constructors themselves, without a namedtuple's __new__ call.
_new_tuple = tuple.__new__
_new_object = object.__new__


class LegacyImage(namedtuple("LegacyImage", [
        "id", "docker_image_id", "created", "comment", "command", "image_size",
        "aggregate_size", "uploading", "v1_metadata_string", "blob_digest",
        "parents", "tags"])):
    """A V1 image with its blob's size and digest.

    ``parents`` is an immutable sequence of LegacyImage, nearest parent first (a
    tuple, or a :class:`ParentChain` shared with the images of the same chain), or
    None when not loaded; ``tags`` is a tuple of the names of alive, non-hidden tags
    pointing at the image, or None when not loaded.
    """

    __slots__ = ()

    @classmethod
    def for_image(cls, image: Any, parents: Optional[Sequence] = None,
                  tags: Optional[Iterable[str]] = None) -> "LegacyImage":
        """Build from a flat image row that carries its blob's columns too.

        Beside the image's own columns the row has ``image_size``, ``uploading``
        and ``content_checksum`` of its blob, as the model's image queries
        return it.
        """
        return _new_tuple(cls, _read_image_columns(image) + (
            parents, tuple(tags) if tags is not None else None))

    @classmethod
    def for_image_rows(cls, columns: Sequence[str], rows: Sequence, parent_row_ids: Sequence,
                       tags_by_image: Optional[dict],
                       strict: bool = True) -> Optional[dict]:
        """LegacyImages by id, in order, of many image rows that come after their parents.

        ``rows`` are flat image rows with the columns :meth:`for_image` reads, as
        tuples whose columns are named ``columns``; ``parent_row_ids`` the parent's id
        of each (None for a base image); ``tags_by_image`` the tag names by image id
        (None: not loaded). Each image's parents are its parent's with one
        :class:`ParentChain` link in front, so the whole listing costs O(1) an image
        whatever the depth. A row whose parent is not built yet makes it return None,
        or without ``strict`` gets no parents.
        """
        built: dict = {}
        if not rows:
            return built
        # One C-level pick of the ten columns per row; the loop below runs once per
        # image of a listing of thousands, so it makes no Python call of its own.
        pick = itemgetter(*(list(columns).index(name) for name in _IMAGE_ROW_COLUMNS))
        get_built, get_tags = built.get, (tags_by_image or {}).get
        no_tags = () if tags_by_image is not None else None
        for row, parent_row_id in zip(rows, parent_row_ids, strict=True):
            if parent_row_id is None:
                parents: Any = ()
            else:
                parent = get_built(parent_row_id)
                if parent is None:
                    if strict:
                        return None
                    parents = ()
                else:  # ParentChain(parent, parent.parents), without the call
                    parents = _new_object(ParentChain)
                    parents._head = parent
                    rest = parent[_PARENTS]
                    parents._tail = rest if rest.__class__ is ParentChain else None
            values = pick(row)
            names = get_tags(values[0])
            built[values[0]] = _new_tuple(cls, values + (
                parents, tuple(names) if names else no_tags))
        return built


# The row columns a LegacyImage is built from, in the order of its fields.
_IMAGE_ROW_COLUMNS = ("id", "docker_image_id", "created", "comment", "command", "image_size",
                      "aggregate_size", "uploading", "v1_json_metadata", "content_checksum")
_read_image_columns = attrgetter(*_IMAGE_ROW_COLUMNS)
_PARENTS = LegacyImage._fields.index("parents")


class Label(namedtuple("Label", ["id", "key", "value", "uuid", "source_type_name",
                                 "media_type_name"])):
    """A key/value label of a manifest, with its source (manifest, api, internal)."""

    __slots__ = ()

    @classmethod
    def for_label(cls, label: Any, source_type_name: str, media_type_name: str) -> "Label":
        """Build from a Label row plus the names its lookup ids stand for."""
        # Positional through tuple.__new__: a manifest's listing builds one per label.
        return _new_tuple(cls, (label.id, label.key, label.value, label.uuid, source_type_name,
                                media_type_name))


class Blob(namedtuple("Blob", ["id", "uuid", "digest", "compressed_size", "uncompressed_size",
                               "uploading", "placements"])):
    """A blob record: its digest and sizes; ``placements`` are location names, or None.

    The bytes live in a blob store under ``digest``, never in the database.
    """

    __slots__ = ()

    @classmethod
    def for_image_storage(cls, storage: Any, placements: Optional[Iterable[str]] = None) -> "Blob":
        """Build from an ImageStorage row (and its location names, when loaded)."""
        return cls(id=storage.id, uuid=storage.uuid, digest=storage.content_checksum,
                   compressed_size=storage.image_size,
                   uncompressed_size=storage.uncompressed_size, uploading=storage.uploading,
                   placements=tuple(placements) if placements is not None else None)


class BlobUpload(namedtuple("BlobUpload", [
        "id", "upload_id", "repository_id", "byte_count", "uncompressed_byte_count",
        "chunk_count", "sha_state", "location_name", "storage_metadata", "created"])):
    """A resumable upload: bytes so far, chunk count, the serialised sha256 state and metadata.

    ``sha_state`` is the text a resumable hash serialised itself to;
    ``storage_metadata`` is a dict the blob store keeps about the upload.
    """

    __slots__ = ()

    @classmethod
    def for_upload(cls, upload: Any, location_name: str) -> "BlobUpload":
        """Build from a BlobUpload row plus the name of its location."""
        metadata = json.loads(upload.storage_metadata) if upload.storage_metadata else {}
        return cls(id=upload.id, upload_id=upload.uuid, repository_id=upload.repository_id,
                   byte_count=upload.byte_count,
                   uncompressed_byte_count=upload.uncompressed_byte_count,
                   chunk_count=upload.chunk_count, sha_state=upload.sha_state,
                   location_name=location_name, storage_metadata=metadata,
                   created=upload.created)


class GCSummary(namedtuple("GCSummary", [
        "repositories", "purged", "tags", "manifests", "labels", "images", "links", "uploads",
        "blobs", "files", "bytes_freed", "recent_files", "orphan_files", "orphan_bytes",
        "last_repository_id"])):
    """What a garbage collection (or a dry run of one) removed, counted by kind.

    ``repositories`` were collected and ``purged`` of them deleted; ``tags``, ``manifests``,
    ``labels``, ``images``, ``links`` (temporary blob links), ``uploads`` and ``blobs`` are
    rows; ``files`` and ``bytes_freed`` are blob files removed from the store after the
    commit (a dry run: would be); ``recent_files`` were kept as written within the grace
    period; ``orphan_files`` and ``orphan_bytes`` are what an orphan sweep removed.
    ``last_repository_id`` is where a walk over every repository stopped, else None.
    """

    __slots__ = ()

    @classmethod
    def for_counts(cls, counts: dict, last_repository_id: Optional[int] = None) -> "GCSummary":
        """Build from a mapping of counts by field name (missing fields count 0)."""
        return cls(last_repository_id=last_repository_id,
                   **{field: int(counts.get(field, 0)) for field in cls._fields
                      if field != "last_repository_id"})


def _checked(value: Any, kind: type, source: str) -> Any:
    if not isinstance(value, kind):
        raise TypeError("expected a %s (from %s), got %r" % (kind.__name__, source, value))
    return value


def tag_id(tag: Any) -> int:
    """The id of a Tag, or TypeError naming what was passed instead (before any statement)."""
    return _checked(tag, Tag, "a tag lookup").id


def manifest_id(manifest: Any) -> int:
    """The id of a Manifest, or TypeError naming what was passed instead (before any statement)."""
    return _checked(manifest, Manifest, "a manifest lookup").id
