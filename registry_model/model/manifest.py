"""Tag manifests: the manifest bytes stored for a tag row, found by tag or digest."""
import logging
from typing import Optional

from peewee import IntegrityError

from registry_model import errors, validation
from registry_model.database import RepositoryTag, TagManifest, transaction
from registry_model.model.tag import alive_clause

logger = logging.getLogger(__name__)


def store_tag_manifest(tag: RepositoryTag, digest: str, manifest_bytes: bytes | str) -> TagManifest:
    """Store the manifest of a tag row under its digest.

    ``manifest_bytes`` must be UTF-8 (bytes or text) and is kept exactly, so the
    digest of what is read back matches what was pushed. A tag row holds one
    manifest: a second one raises DuplicateException.
    """
    validation.check_digest(digest)
    if isinstance(manifest_bytes, bytes):
        try:
            json_data = manifest_bytes.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise errors.DataModelException("manifest bytes are not UTF-8") from exc
    elif isinstance(manifest_bytes, str):
        json_data = manifest_bytes
    else:
        raise errors.DataModelException("manifest must be bytes or text")
    if "\x00" in json_data:
        raise errors.DataModelException("manifest holds a NUL character")
    try:
        with transaction():
            return TagManifest.create(tag=tag.id, digest=digest, json_data=json_data)
    except IntegrityError as exc:
        raise errors.DuplicateException("tag %s has a manifest already (or is gone)"
                                        % tag.id) from exc


def get_tag_manifest(tag_id: int) -> Optional[TagManifest]:
    """The manifest stored for the tag row, or None: one query."""
    return TagManifest.get_or_none(TagManifest.tag == tag_id)


def find_manifest_by_digest(repository_id: int, digest: str, now: int,
                            allow_dead: bool = False) -> Optional[TagManifest]:
    """A manifest with that digest under a tag of the repository: one query.

    Only alive tags count unless ``allow_dead``; hidden tags count, since a
    manifest pushed by digest lives under one. The newest such row wins.
    """
    if not validation.is_valid_digest(digest):
        return None
    query = (TagManifest.select(TagManifest)
             .join(RepositoryTag)
             .where(RepositoryTag.repository == repository_id, TagManifest.digest == digest))
    if not allow_dead:
        query = query.where(alive_clause(now))
    return query.order_by(TagManifest.id.desc()).limit(1).get_or_none()
