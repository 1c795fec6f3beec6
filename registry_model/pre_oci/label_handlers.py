"""Labels that change the manifest they are put on.

``quay.expires-after`` with a value like ``90m``, ``12h``, ``2d`` or ``3w`` sets the
expiration of every tag pointing at the manifest to that long after the tag's
start. A value that does not parse is kept as a plain label and changes nothing.
"""
import logging
import re
from typing import Callable, Optional

from registry_model.pre_oci import tag as tag_model
from registry_model.pre_oci.tables import RepositoryTag, TagManifest

logger = logging.getLogger(__name__)

EXPIRES_AFTER_KEY = "quay.expires-after"
_DURATION = re.compile(r"^([1-9][0-9]{0,8})([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: str) -> Optional[int]:
    """Seconds in a duration like ``90m`` or ``3w``, or None when it does not parse."""
    match = _DURATION.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


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
