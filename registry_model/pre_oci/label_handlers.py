"""Labels that change the manifest they are put on.

``quay.expires-after`` with a value like ``90m``, ``12h``, ``2d`` or ``3w`` sets the
expiration of every tag pointing at the manifest to that long after the tag's
start. A value that does not parse is kept as a plain label and changes nothing.
"""
import logging
from typing import Callable, Optional

from registry_model.model.label import EXPIRES_AFTER_KEY, parse_duration
from registry_model.pre_oci import tag as tag_model
from registry_model.pre_oci.tables import RepositoryTag, TagManifest

logger = logging.getLogger(__name__)

__all__ = ["EXPIRES_AFTER_KEY", "HANDLERS", "apply_label", "has_handler", "parse_duration"]


def _expires_after(tag_manifest_id: int, value: str, now: int,
                   owner: Optional[tuple]) -> Optional[int]:
    seconds = parse_duration(value)
    if seconds is None:
        logger.info("ignoring %s=%r: not a duration", EXPIRES_AFTER_KEY, value)
        return None
    if owner is None:
        manifest = (TagManifest.select(TagManifest.digest, RepositoryTag.repository)
                    .join(RepositoryTag)
                    .where(TagManifest.id == tag_manifest_id)
                    .get_or_none())
        if manifest is None:
            return None
        owner = (manifest.tag.repository_id, manifest.digest)
    repository_id, digest = owner
    tag_model.set_expiration_for_digest(repository_id, digest, seconds, now)
    return seconds


HANDLERS: dict = {EXPIRES_AFTER_KEY: _expires_after}


def has_handler(key: str) -> bool:
    """True when creating a label with this key changes the manifest's tags."""
    return key in HANDLERS


def apply_label(tag_manifest_id: int, key: str, value: str, now: int,
                owner: Optional[tuple] = None) -> Optional[int]:
    """Run the handler of ``key`` (if any) in the caller's transaction.

    ``owner`` is the manifest's ``(repository id, digest)`` when the caller has
    them at hand (a push), which saves reading them. Returns the expiration in
    seconds the handler gave the manifest's alive tags (counted from each tag's
    start), or None when it set none.
    """
    handler: Optional[Callable] = HANDLERS.get(key)
    return handler(tag_manifest_id, value, now, owner) if handler is not None else None
