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
from collections import defaultdict
from typing import Iterable, Optional

from peewee import Expression, IntegrityError, fn

from registry_model import clock, errors, validation
from registry_model.connection import db
from registry_model.model.tables import Repository
from registry_model.pre_oci.tables import Image, RepositoryTag, TagManifest
from registry_model.statements import Statement, param, params
from registry_model.transactions import (
    WriteConflict,
    advisory_lock,
    locked,
    run_with_retry,
    transaction,
)

logger = logging.getLogger(__name__)

_IN_TRANSACTION_ATTEMPTS = 4


def alive_clause(now: int) -> Expression:
    """WHERE clause of tags alive at ``now``: no end, or an end still ahead."""
    return (RepositoryTag.lifetime_end_ts.is_null(True)
            | (RepositoryTag.lifetime_end_ts > now))


def _end_alive_rows(repository_id: int, tag_name: str, now: Optional[int]) -> tuple:
    """Lock the alive rows of the name and end them; return them and the time used.

    With ``now`` None the clock is read again once the rows are locked: a
    reading taken before the lock may predate a move or delete that committed
    while this write waited, and would end that row before it began (or end a
    deleted row a second time). The time never precedes a locked row's start.
    """
    # Every writer of the name queues here first: otherwise, on PostgreSQL, a move racing
    # a move and a delete could start before the end the delete gave the newest row.
    advisory_lock("%d/%s" % (repository_id, tag_name))
    first_reading = clock.now_ts() if now is None else now
    # Lock the name's newest row even when it has ended: every writer of the
    # name then queues on it, so a move or re-create never starts before the
    # end a concurrent delete gave that row. Each row carries its image's V1 id
    # from a subquery, which locks nothing, so a delete can report it.
    newest = (RepositoryTag.select(fn.MAX(RepositoryTag.id))
              .where(RepositoryTag.repository == repository_id, RepositoryTag.name == tag_name))
    docker_image_id = (Image.select(Image.docker_image_id)
                       .where(Image.id == RepositoryTag.image).alias("image_docker_id"))
    candidates = list(locked(RepositoryTag.select(RepositoryTag, docker_image_id,
                                                  _manifest_digest()).where(
        RepositoryTag.repository == repository_id, RepositoryTag.name == tag_name,
        alive_clause(first_reading) | (RepositoryTag.id == newest))))
    if now is None:
        now = max([first_reading, clock.now_ts()] + [row.lifetime_start_ts for row in candidates])
    alive = [row for row in candidates
             if row.lifetime_end_ts is None or row.lifetime_end_ts > now]
    for row in alive:
        ended = (RepositoryTag.update(lifetime_end_ts=now)
                 .where(RepositoryTag.id == row.id, alive_clause(now)).execute())
        if not ended:
            raise WriteConflict("tag %r was changed concurrently" % tag_name)
        row.lifetime_end_ts = now
    return alive, now


def move_tag(repository_id: int, tag_name: str, image_id: int, now: Optional[int],
             reversion: bool = False, hidden: bool = False) -> RepositoryTag:
    """End the alive row of ``tag_name`` and start one on ``image_id``, in the caller's transaction.

    For writes that move a tag as part of a larger unit; the caller runs the
    unit with :func:`registry_model.transactions.run_with_retry`. ``now`` None
    means the current time, read once the tag's rows are locked.
    """
    for _ in range(_IN_TRANSACTION_ATTEMPTS):
        _, start = _end_alive_rows(repository_id, tag_name, now)
        try:
            # A savepoint, so a lost insert leaves the transaction usable.
            with db.atomic():
                return RepositoryTag.create(repository=repository_id, name=tag_name,
                                            image=image_id, lifetime_start_ts=start,
                                            reversion=bool(reversion), hidden=bool(hidden))
        except IntegrityError:
            # Under PostgreSQL's READ COMMITTED, a writer that waited for the
            # lock searched a snapshot older than the winner's new row; a new
            # search in the same transaction sees that row and locks it.
            logger.debug("tag %r gained an alive row concurrently; looking again", tag_name)
    raise WriteConflict("tag %r kept changing while it was being moved" % tag_name)


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
    return run_with_retry(lambda: move_tag(repository.id, tag_name, image.id, now,
                                           reversion=reversion, hidden=hidden))


def delete_tag(repository: Repository, tag_name: str,
               now: Optional[int] = None) -> Optional[RepositoryTag]:
    """End the alive row of ``tag_name`` now; return it, or None if no tag was alive.

    The row stays in the time machine until the namespace's window passes. Its
    ``image`` (id and V1 id) is loaded in the same transaction: a read after the
    commit could fail and report a delete that happened as one that did not.
    """
    validation.check_tag_name(tag_name)

    def write() -> Optional[RepositoryTag]:
        ended, _ = _end_alive_rows(repository.id, tag_name, now)
        if not ended:
            return None
        row = ended[-1]
        row.image = Image(id=row.image_id, docker_image_id=row.image_docker_id)
        return row

    return run_with_retry(write)


def _manifest_digest():
    return (TagManifest.select(TagManifest.digest)
            .where(TagManifest.tag == RepositoryTag.id).alias("manifest_digest"))


def _tag_rows():
    """Tag columns plus the image's V1 id and the manifest digest, flat.

    Both come from scalar subqueries, not joins: PostgreSQL cannot tell that the
    alive-name index returns one row, expects hundreds, and would hash-join a
    scan of every image (15 ms instead of 0.2 ms on a 10,000-image database).
    """
    columns = [RepositoryTag.id, RepositoryTag.repository, RepositoryTag.name,
               RepositoryTag.image, RepositoryTag.lifetime_start_ts,
               RepositoryTag.lifetime_end_ts, RepositoryTag.hidden, RepositoryTag.reversion,
               Image.select(Image.docker_image_id)
               .where(Image.id == RepositoryTag.image).alias("docker_image_id"),
               _manifest_digest()]
    return RepositoryTag.select(*columns)


def _visible(query, include_hidden: bool):
    return query if include_hidden else query.where(RepositoryTag.hidden == False)  # noqa: E712


_ALIVE_TAGS_NAMED = Statement(lambda name_count, include_hidden: _visible(
    _tag_rows().where(
        RepositoryTag.repository == param("repository_id"),
        RepositoryTag.name.in_(params("names", name_count)),
        alive_clause(param("now"))),
    include_hidden))


def find_alive_tags(repository_id: int, tag_names: Iterable[str], now: int,
                    include_hidden: bool = False) -> list:
    """Alive tags of the repository with one of those names: one query.

    Rows are flat: tag columns plus ``docker_image_id`` and ``manifest_digest`` (None
    for a tag without a manifest), as every tag query of this module gives them.
    """
    names = [name for name in tag_names if validation.is_valid_tag_name(name)]
    if not names:
        return []
    return _ALIVE_TAGS_NAMED.rows((len(names), include_hidden),
                                  repository_id=repository_id, names=names, now=now)


_MOST_RECENT_TAG = Statement(lambda: (
    _tag_rows()
    .where(RepositoryTag.repository == param("repository_id"), alive_clause(param("now")),
           RepositoryTag.hidden == False)  # noqa: E712
    .order_by(RepositoryTag.lifetime_start_ts.desc(), RepositoryTag.id.desc())
    .limit(1)))


def get_most_recent_tag(repository_id: int, now: int) -> Optional[tuple]:
    """The alive, non-hidden tag started last (ties: highest id), flat row: one query."""
    return _MOST_RECENT_TAG.first(repository_id=repository_id, now=now)


_ALIVE_TAGS = Statement(lambda include_hidden: _visible(
    _tag_rows()
    .where(RepositoryTag.repository == param("repository_id"), alive_clause(param("now")))
    .order_by(RepositoryTag.name),
    include_hidden))


def list_alive_tags(repository_id: int, now: int, include_hidden: bool = False) -> list:
    """Every alive tag of the repository, by name, flat rows: one query."""
    return _ALIVE_TAGS.rows((include_hidden,), repository_id=repository_id, now=now)


def get_tag(repository_id: int, tag_name: str, now: int) -> Optional[tuple]:
    """The alive, non-hidden tag of that name, flat row, or None: one query."""
    found = find_alive_tags(repository_id, [tag_name], now)
    return found[0] if found else None


_ALIVE_TAG_NAMES = Statement(lambda: (
    RepositoryTag.select(RepositoryTag.image, RepositoryTag.name)
    .where(RepositoryTag.repository == param("repository_id"), alive_clause(param("now")),
           RepositoryTag.hidden == False)  # noqa: E712
    .order_by(RepositoryTag.name)))


def alive_tag_names_by_image(repository_id: int, now: int) -> dict:
    """``{image_id: [tag names]}`` of the alive, non-hidden tags, names sorted: one query."""
    by_image: dict = defaultdict(list)
    for image_id, name in _ALIVE_TAG_NAMES.tuples(repository_id=repository_id, now=now):
        by_image[image_id].append(name)
    return dict(by_image)


def list_tag_history(repository_id: int, tag_name: Optional[str] = None) -> list:
    """Every row (alive and ended) of the repository's tags, newest first: one query."""
    query = (_tag_rows()
             .where(RepositoryTag.repository == repository_id)
             .order_by(RepositoryTag.lifetime_start_ts.desc(), RepositoryTag.id.desc()))
    if tag_name is not None:
        query = query.where(RepositoryTag.name == tag_name)
    return list(query.namedtuples())


def _alive_tags_page(after_name: bool, limited: bool):
    query = (_tag_rows()
             .where(RepositoryTag.repository == param("repository_id"),
                    alive_clause(param("now")),
                    RepositoryTag.hidden == False)  # noqa: E712
             .order_by(RepositoryTag.name))
    if after_name:
        query = query.where(RepositoryTag.name > param("last"))
    return query.limit(param("limit")) if limited else query


_ALIVE_TAGS_PAGE = Statement(_alive_tags_page)


def list_alive_tags_page(repository_id: int, now: int, last: Optional[str] = None,
                         limit: Optional[int] = 100) -> list:
    """Up to ``limit`` (None: all) alive, non-hidden tags named after ``last``, by name: one query.

    The order and cursor of the OCI distribution tag listing (``n`` and ``last``).
    Rows are flat and carry ``manifest_digest``. A negative or non-integer
    limit raises DataModelException before any query.
    """
    if limit is not None:
        validation.check_count("limit", limit, minimum=0)
    return _ALIVE_TAGS_PAGE.rows((last is not None, limit is not None),
                                 repository_id=repository_id, now=now, last=last, limit=limit)


def _history_page(one_name: bool, active_only: bool):
    query = (_tag_rows()
             .where(RepositoryTag.repository == param("repository_id"),
                    RepositoryTag.hidden == False)  # noqa: E712
             .order_by(RepositoryTag.lifetime_start_ts.desc(), RepositoryTag.id.desc())
             .limit(param("limit"))
             .offset(param("offset")))
    if one_name:
        query = query.where(RepositoryTag.name == param("tag_name"))
    if active_only:
        query = query.where(alive_clause(param("now")))
    return query


_HISTORY_PAGE = Statement(_history_page)


def list_tag_history_page(repository_id: int, now: int, page: int = 1, size: int = 100,
                          tag_name: Optional[str] = None,
                          active_only: bool = False) -> tuple:
    """One page of the repository's non-hidden tag rows, newest first, and whether more follow.

    Rows are flat and carry their image's V1 id and manifest digest; one query.
    ``page`` and ``size`` start at 1 (DataModelException otherwise, before any query).
    """
    validation.check_count("page", page, minimum=1)
    validation.check_count("size", size, minimum=1)
    rows = _HISTORY_PAGE.rows((tag_name is not None, active_only), repository_id=repository_id,
                              tag_name=tag_name, now=now, limit=size + 1,
                              offset=(page - 1) * size)
    return rows[:size], len(rows) > size


def change_tag_expiration(tag_id: int, end_ts: Optional[int], now: int,
                          name: Optional[str] = None, start: Optional[int] = None) -> tuple:
    """Set the end of an alive tag row (None: no end); ``(previous end, changed)``.

    An end not after the tag's start, or a tag that is no longer alive, changes
    nothing and gives ``(None, False)``; so does a row of that id with another ``name`` or
    ``start`` than given (SQLite gives a collected row's id to the next new row). Two
    statements, one transaction.
    """
    query = RepositoryTag.select().where(RepositoryTag.id == tag_id, alive_clause(now))
    if name is not None:
        query = query.where(RepositoryTag.name == name)
    if start is not None:
        query = query.where(RepositoryTag.lifetime_start_ts == start)
    with transaction():
        tag = locked(query).get_or_none()
        if tag is None or (end_ts is not None and end_ts <= tag.lifetime_start_ts):
            return None, False
        (RepositoryTag.update(lifetime_end_ts=end_ts)
         .where(RepositoryTag.id == tag_id).execute())
    return tag.lifetime_end_ts, True


def end_tags(tag_ids: list, now: int) -> int:
    """End the given alive tag rows now, in the caller's transaction; how many ended."""
    if not tag_ids:
        return 0
    return (RepositoryTag.update(lifetime_end_ts=now)
            .where(RepositoryTag.id.in_(tag_ids), alive_clause(now)).execute())


_EXPIRED_TAG = Statement(lambda: (
    RepositoryTag.select(RepositoryTag.id)
    .where(RepositoryTag.repository == param("repository_id"),
           RepositoryTag.name == param("name"),
           RepositoryTag.hidden == False,  # noqa: E712
           RepositoryTag.lifetime_end_ts <= param("now"))
    .limit(1)))


def any_tag_exists() -> bool:
    """True when the table holds any tag row (one ``SELECT 1 ... LIMIT 1``)."""
    return RepositoryTag.select(RepositoryTag.id).exists()


def has_expired_tag(repository_id: int, tag_name: str, now: int) -> bool:
    """True when the repository has an ended (not hidden) row of that tag name: one query."""
    if not validation.is_valid_tag_name(tag_name):
        return False
    return _EXPIRED_TAG.first(repository_id=repository_id, name=tag_name, now=now) is not None


_ALIVE_TAGS_OF_DIGEST = Statement(lambda include_hidden: _visible(
    _tag_rows()
    .where(RepositoryTag.repository == param("repository_id"),
           RepositoryTag.id.in_(TagManifest.select(TagManifest.tag)
                                .where(TagManifest.digest == param("digest"))),
           alive_clause(param("now"))),
    include_hidden))


def alive_tags_for_digest(repository_id: int, digest: str, now: int,
                          include_hidden: bool = False) -> list:
    """Alive tag rows of the repository whose manifest has that digest, flat: one query."""
    return _ALIVE_TAGS_OF_DIGEST.rows((include_hidden,), repository_id=repository_id,
                                      digest=digest, now=now)


_ALIVE_IMAGE_ANCESTRIES = Statement(lambda: (
    RepositoryTag.select(Image.id, Image.ancestors)
    .join(Image)
    .where(RepositoryTag.repository == param("repository_id"), alive_clause(param("now")),
           RepositoryTag.id != param("tag_id"))))


def alive_image_ancestries(repository_id: int, now: int, excluding_tag_id: int) -> list:
    """``(image id, ancestors)`` of every other alive tag's image in the repository: one query."""
    return _ALIVE_IMAGE_ANCESTRIES.rows(repository_id=repository_id, now=now,
                                        tag_id=excluding_tag_id)


def set_expiration_for_digest(repository_id: int, digest: str, expiration_s: int,
                              now: int) -> int:
    """End every alive, non-hidden tag of that manifest digest ``expiration_s`` after its start.

    Runs in the caller's transaction; returns how many tags were changed. One statement
    (a push with ``quay.expires-after`` cannot afford a second within its budget).
    """
    # The subquery reads tag_manifest only, which MySQL allows inside an UPDATE.
    of_digest = TagManifest.select(TagManifest.tag).where(TagManifest.digest == digest)
    return (RepositoryTag.update(lifetime_end_ts=RepositoryTag.lifetime_start_ts + expiration_s)
            .where(RepositoryTag.repository == repository_id, RepositoryTag.id.in_(of_digest),
                   RepositoryTag.hidden == False,  # noqa: E712
                   alive_clause(now))
            .execute())
