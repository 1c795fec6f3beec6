"""Tags: their lifetimes, moves and the time machine.

A tag row lives from ``lifetime_start_ts`` to ``lifetime_end_ts`` (Unix
seconds, NULL for no end). It is *alive* while the end is NULL or still in the
future. Moving or deleting a tag ends its alive row and, for a move, starts a
new one in the same transaction, so a name has at most one alive row and its
history stays unbroken (each row ends when the next begins). Ended rows stay
for the namespace's time-machine window. The database enforces that at most
one row per name has no end; a writer that loses that race is retried.
"""
import logging
import time
from typing import Iterable, Optional

from peewee import Expression

from registry_model import errors, validation
from registry_model.database import (
    Image,
    Repository,
    RepositoryTag,
    WriteConflict,
    db,
    run_with_retry,
)

logger = logging.getLogger(__name__)


def now_ts() -> int:
    """The current time as integer Unix seconds, the unit of tag lifetimes."""
    return int(time.time())


def alive_clause(now: int) -> Expression:
    """WHERE clause of tags alive at ``now``: no end, or an end still ahead."""
    return (RepositoryTag.lifetime_end_ts.is_null(True)
            | (RepositoryTag.lifetime_end_ts > now))


def _locked(query):
    return query.for_update() if db.obj.for_update else query


def _end_alive_rows(repository_id: int, tag_name: str, now: int) -> list:
    alive = list(_locked(RepositoryTag.select().where(
        RepositoryTag.repository == repository_id, RepositoryTag.name == tag_name,
        alive_clause(now))))
    for row in alive:
        ended = (RepositoryTag.update(lifetime_end_ts=now)
                 .where(RepositoryTag.id == row.id, alive_clause(now)).execute())
        if not ended:
            raise WriteConflict("tag %r was changed concurrently" % tag_name)
        row.lifetime_end_ts = now
    return alive


def create_or_update_tag(repository: Repository, tag_name: str, image: Image,
                         now: Optional[int] = None, reversion: bool = False,
                         hidden: bool = False) -> RepositoryTag:
    """Point ``tag_name`` at ``image``, ending the alive row of that name if there is one.

    The new row starts at ``now`` (default: the current time) and has no end.
    The image must belong to the repository (InvalidImageException). One
    transaction; retried when a concurrent writer moves the same tag, with
    TagConflictException if it keeps losing.
    """
    validation.check_tag_name(tag_name)
    if image.repository_id != repository.id:
        raise errors.InvalidImageException("image %s belongs to another repository"
                                           % image.docker_image_id)

    def write() -> RepositoryTag:
        start = now_ts() if now is None else now
        _end_alive_rows(repository.id, tag_name, start)
        return RepositoryTag.create(repository=repository.id, name=tag_name, image=image.id,
                                    lifetime_start_ts=start, reversion=bool(reversion),
                                    hidden=bool(hidden))

    return run_with_retry(write)


def delete_tag(repository: Repository, tag_name: str,
               now: Optional[int] = None) -> Optional[RepositoryTag]:
    """End the alive row of ``tag_name`` now; return it, or None if no tag was alive.

    The row stays in the time machine until the namespace's window passes.
    """
    validation.check_tag_name(tag_name)

    def write() -> Optional[RepositoryTag]:
        ended = _end_alive_rows(repository.id, tag_name, now_ts() if now is None else now)
        return ended[-1] if ended else None

    return run_with_retry(write)


def find_alive_tags(repository_id: int, tag_names: Iterable[str], now: int,
                    include_hidden: bool = False) -> list:
    """Alive tags of the repository with one of those names, image loaded: one query."""
    names = [name for name in tag_names if validation.is_valid_tag_name(name)]
    if not names:
        return []
    query = (RepositoryTag.select(RepositoryTag, Image.docker_image_id)
             .join(Image)
             .where(RepositoryTag.repository == repository_id,
                    RepositoryTag.name.in_(names), alive_clause(now)))
    if not include_hidden:
        query = query.where(RepositoryTag.hidden == False)  # noqa: E712
    return list(query)


def get_most_recent_tag(repository_id: int, now: int) -> Optional[RepositoryTag]:
    """The alive, non-hidden tag started last (ties: highest id), image loaded: one query."""
    return (RepositoryTag.select(RepositoryTag, Image.docker_image_id)
            .join(Image)
            .where(RepositoryTag.repository == repository_id, alive_clause(now),
                   RepositoryTag.hidden == False)  # noqa: E712
            .order_by(RepositoryTag.lifetime_start_ts.desc(), RepositoryTag.id.desc())
            .limit(1)
            .get_or_none())


def list_alive_tags(repository_id: int, now: int, include_hidden: bool = False) -> list:
    """Every alive tag of the repository, by name, image loaded: one query."""
    query = (RepositoryTag.select(RepositoryTag, Image.docker_image_id)
             .join(Image)
             .where(RepositoryTag.repository == repository_id, alive_clause(now))
             .order_by(RepositoryTag.name))
    if not include_hidden:
        query = query.where(RepositoryTag.hidden == False)  # noqa: E712
    return list(query)


def get_tag(repository_id: int, tag_name: str, now: int) -> Optional[RepositoryTag]:
    """The alive, non-hidden tag of that name, image loaded, or None: one query."""
    found = find_alive_tags(repository_id, [tag_name], now)
    return found[0] if found else None


def alive_tag_names_by_image(repository_id: int, now: int) -> dict:
    """``{image_id: [tag names]}`` of the alive, non-hidden tags, names sorted: one query."""
    by_image: dict = {}
    query = (RepositoryTag.select(RepositoryTag.image, RepositoryTag.name)
             .where(RepositoryTag.repository == repository_id, alive_clause(now),
                    RepositoryTag.hidden == False)  # noqa: E712
             .order_by(RepositoryTag.name))
    for row in query:
        by_image.setdefault(row.image_id, []).append(row.name)
    return by_image


def list_tag_history(repository_id: int, tag_name: Optional[str] = None) -> list:
    """Every row (alive and ended) of the repository's tags, newest first: one query."""
    query = (RepositoryTag.select(RepositoryTag, Image.docker_image_id)
             .join(Image)
             .where(RepositoryTag.repository == repository_id)
             .order_by(RepositoryTag.lifetime_start_ts.desc(), RepositoryTag.id.desc()))
    if tag_name is not None:
        query = query.where(RepositoryTag.name == tag_name)
    return list(query)
