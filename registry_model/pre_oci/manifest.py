"""Tag manifests: the manifest bytes stored for a tag row, found by tag or digest."""
import logging
from typing import Optional

from peewee import IntegrityError

from registry_model import clock, errors, validation
from registry_model.media_types import schema1_media_type
from registry_model.model import blob as blob_model
from registry_model.model import lookup
from registry_model.model.tables import Namespace, Repository
from registry_model.pre_oci import image as image_model
from registry_model.pre_oci import label as label_model
from registry_model.pre_oci import label_handlers
from registry_model.pre_oci import tag as tag_model
from registry_model.pre_oci.tables import Image, RepositoryTag, TagManifest, tag_manifest_clause
from registry_model.pre_oci.tag import alive_clause
from registry_model.statements import Statement, param
from registry_model.transactions import run_with_retry, transaction

logger = logging.getLogger(__name__)


def manifest_text(manifest_bytes: bytes | str) -> str:
    """The manifest as the text column stores it: UTF-8 decoded, NUL-free, else an error.

    ManifestTooLargeException beyond ``validation.MAX_MANIFEST_BYTES``.
    """
    if isinstance(manifest_bytes, bytes):
        validation.check_manifest_size(len(manifest_bytes))
        try:
            json_data = manifest_bytes.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise errors.DataModelException("manifest bytes are not UTF-8") from exc
    elif isinstance(manifest_bytes, str):
        size = validation.utf8_size(manifest_bytes)
        if size is None:
            raise errors.DataModelException("manifest text is not UTF-8 (a lone surrogate)")
        validation.check_manifest_size(size)
        json_data = manifest_bytes
    else:
        raise errors.DataModelException("manifest must be bytes or text")
    if "\x00" in json_data:
        raise errors.DataModelException("manifest holds a NUL character")
    return json_data


def create_tag_manifest(tag_id: int, digest: str, json_data: str) -> TagManifest:
    """Insert the manifest row of a tag with its media type, in the caller's transaction.

    The media type is worked out here, once, so reading the manifest back never
    parses it. One statement.
    """
    media_type_id = lookup.media_type_id(schema1_media_type(json_data))
    return TagManifest.create(tag=tag_id, digest=digest, json_data=json_data,
                              media_type=media_type_id)


def media_type_name(row) -> Optional[str]:
    """The stored media type of a manifest row, or None for a row written without one."""
    return lookup.media_type_name(row.media_type_id) if row.media_type_id else None


def store_tag_manifest(tag: RepositoryTag, digest: str, manifest_bytes: bytes | str) -> TagManifest:
    """Store the manifest of a tag row under its digest.

    ``manifest_bytes`` must be UTF-8 (bytes or text) and is kept exactly, so the
    digest of what is read back matches what was pushed, and at most
    ``validation.MAX_MANIFEST_BYTES`` long (ManifestTooLargeException before any
    write). A tag row holds one manifest: a second one raises DuplicateException.
    """
    validation.check_digest(digest)
    json_data = manifest_text(manifest_bytes)
    try:
        with transaction():
            return create_tag_manifest(tag.id, digest, json_data)
    except IntegrityError as exc:
        raise errors.DuplicateException("tag %s has a manifest already (or is gone)"
                                        % tag.id) from exc


_MANIFEST_COLUMNS = (TagManifest.id, TagManifest.tag, TagManifest.digest, TagManifest.json_data,
                     TagManifest.media_type)

_MANIFEST_OF_TAG = Statement(lambda: (
    TagManifest.select(*_MANIFEST_COLUMNS).where(TagManifest.tag == param("tag_id"))))


def get_tag_manifest(tag_id: int) -> Optional[tuple]:
    """The manifest stored for the tag row (flat row: id, tag_id, digest, json_data,
    media_type_id), or None.

    One query.
    """
    return _MANIFEST_OF_TAG.first(tag_id=tag_id)


def _manifest_by_digest(allow_dead: bool):
    query = (TagManifest.select(*_MANIFEST_COLUMNS)
             .join(RepositoryTag)
             .where(RepositoryTag.repository == param("repository_id"),
                    TagManifest.digest == param("digest"))
             .order_by(TagManifest.id.desc())
             .limit(1))
    return query if allow_dead else query.where(alive_clause(param("now")))


_MANIFEST_BY_DIGEST = Statement(_manifest_by_digest)


def find_manifest_by_digest(repository_id: int, digest: str, now: int,
                            allow_dead: bool = False) -> Optional[tuple]:
    """A manifest with that digest under a tag of the repository: one query.

    Only alive tags count unless ``allow_dead``; hidden tags count, since a
    manifest pushed by digest lives under one. The newest such row wins.
    """
    if not validation.is_valid_digest(digest):
        return None
    return _MANIFEST_BY_DIGEST.first((bool(allow_dead),), repository_id=repository_id,
                                     digest=digest, now=now)


def get_manifest_owner(tag_manifest_id: int, digest: Optional[str] = None,
                       tag_id: Optional[int] = None) -> Optional[TagManifest]:
    """The manifest with its tag, tag image id, repository and namespace loaded: one query.

    With ``digest`` and ``tag_id`` (a caller's Manifest's), a row of that id with another
    digest or tag row gives None (see :func:`~registry_model.pre_oci.tables.tag_manifest_clause`).
    """
    return (TagManifest.select(TagManifest, RepositoryTag, Image.id, Image.docker_image_id,
                               Repository, Namespace)
            .join(RepositoryTag)
            .join(Image)
            .join_from(RepositoryTag, Repository)
            .join(Namespace)
            .where(tag_manifest_clause(tag_manifest_id, digest, tag_id))
            .get_or_none())


def get_tag_with_repository(tag_id: int) -> Optional[RepositoryTag]:
    """The tag row with its repository and namespace loaded, or None: one query."""
    return (RepositoryTag.select(RepositoryTag, Repository, Namespace)
            .join(Repository)
            .join(Namespace)
            .where(RepositoryTag.id == tag_id)
            .get_or_none())


def store_manifest_and_retarget_tag(repository_id: int, tag_name: str, digest: str,
                                    manifest_bytes: bytes, layers: list, labels: dict,
                                    now: Optional[int] = None) -> tuple:
    """Store a pushed manifest and move ``tag_name`` to it: ``(TagManifest, tag, leaf image)``.

    ``layers`` are :class:`registry_model.model.image.LayerSpec`, base first;
    every layer blob must be linked to the repository
    (ManifestBlobUnknownException). Synthesizes the legacy image chain, moves
    the tag, stores the manifest and ``labels`` as ``manifest`` labels and runs
    their handlers: one transaction, retried when a concurrent push wins a
    race, with a statement count that does not grow with the layers.
    """
    validation.check_tag_name(tag_name)
    validation.check_digest(digest)
    json_data = manifest_text(manifest_bytes)
    label_specs = [(key, value, label_model.MANIFEST_SOURCE_TYPE, None)
                   for key, value in labels.items()]
    label_model.check_manifest_labels(label_specs)

    def write() -> tuple:
        # Without an explicit time, the tag move reads the clock once it holds the tag's lock.
        checked_at = clock.now_ts() if now is None else now
        blobs = blob_model.get_repository_blobs(repository_id,
                                                [layer.blob_digest for layer in layers],
                                                checked_at)
        missing = sorted({layer.blob_digest for layer in layers} - set(blobs))
        if missing:
            raise errors.ManifestBlobUnknownException(
                "manifest layers not linked to the repository: %s" % ", ".join(missing))
        chain = image_model.synthesize_image_chain(repository_id, layers, blobs)
        tag = tag_model.move_tag(repository_id, tag_name, chain[-1].id, now)
        tag_manifest = create_tag_manifest(tag.id, digest, json_data)
        label_model.create_manifest_labels(tag_manifest.id, repository_id, label_specs)
        handled = [(key, value) for key, value, _, _ in label_specs
                   if label_handlers.has_handler(key)]
        for key, value in handled:
            expiration_s = label_handlers.apply_label(tag_manifest.id, key, value,
                                                      tag.lifetime_start_ts,
                                                      owner=(repository_id, digest))
            if expiration_s is not None:
                # The handler's UPDATE covered this new, alive, visible tag too.
                tag.lifetime_end_ts = tag.lifetime_start_ts + expiration_s
        return tag_manifest, tag, chain[-1]

    if not layers:
        raise errors.DataModelException("a manifest needs at least one layer")
    return run_with_retry(write)


def point_tag_at(repository_id: int, tag_name: str, image_id: int, digest: str,
                 json_data: str, reversion: bool = False) -> RepositoryTag:
    """Move ``tag_name`` to the image and store its manifest: one transaction.

    Retried after a lost race (TagConflictException when it keeps losing). The time
    machine keeps the row the tag had.
    """
    def write() -> RepositoryTag:
        row = tag_model.move_tag(repository_id, tag_name, image_id, None, reversion=reversion)
        create_tag_manifest(row.id, digest, json_data)
        return row

    return run_with_retry(write)


def end_tags_of_manifest(tag_manifest_id: int, digest: str, tag_id: Optional[int],
                         now: int) -> tuple:
    """End every alive tag whose manifest has this digest: ``(repository row, ended rows)``.

    The ended rows are flat tag rows with their new end. ``(None, [])`` when the manifest
    row is gone (or its id names another manifest now). Three statements, one transaction.
    """
    with transaction():
        owner = get_manifest_owner(tag_manifest_id, digest, tag_id)
        if owner is None:
            return None, []
        rows = tag_model.alive_tags_for_digest(owner.tag.repository_id, digest, now)
        tag_model.end_tags([row.id for row in rows], now)
    return owner.tag.repository, [row._replace(lifetime_end_ts=now) for row in rows]


def set_expiration_of_manifest_tags(tag_manifest_id: int, digest: str, tag_id: Optional[int],
                                    expiration_s: int, now: int) -> int:
    """End every alive tag of the manifest's digest ``expiration_s`` after its start.

    How many tags changed (0 when the manifest is gone). Two statements, one transaction,
    retried after a deadlock (ConcurrentWriteException when it keeps losing).
    """
    def write() -> int:
        owner = get_manifest_owner(tag_manifest_id, digest, tag_id)
        if owner is None:
            return 0
        return tag_model.set_expiration_for_digest(owner.tag.repository_id, digest,
                                                   expiration_s, now)

    return run_with_retry(write, retry_integrity_errors=False,
                          conflict=errors.ConcurrentWriteException)
