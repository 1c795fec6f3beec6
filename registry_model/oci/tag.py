"""OCI tags: millisecond lifetimes, moves, the time machine, hidden and immutable tags.

A tag row points a name at a manifest from ``lifetime_start_ms`` to
``lifetime_end_ms`` (Unix milliseconds, NULL for no end); it is *alive* while
the end is NULL or still ahead. Moving or deleting a tag ends its alive row
and, for a move, starts a new one in the same transaction, so a name has at
most one alive row (the database enforces it) and its history stays unbroken.
Ended rows stay for the namespace's time-machine window. An *immutable* tag
cannot be moved, deleted or expired: such a write raises
ImmutableTagException before changing anything. Hidden tags (the temporary tag
of a push by digest) are never listed.

Writers of one name serialise on its newest row as in the pre-OCI wing: an advisory
lock on the name first (:func:`~registry_model.transactions.advisory_lock`), then a
locking read of the alive and newest rows.
"""
import logging
import uuid
from typing import Iterable, Optional

from peewee import Expression, IntegrityError, fn

from registry_model import clock, errors, validation
from registry_model.connection import backend_name, db
from registry_model.oci.tables import Manifest, Tag
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


def alive_clause(now_ms, tag=Tag) -> Expression:
    """WHERE clause of tags (``tag``: Tag or an alias) alive at ``now_ms``: no end, or an
    end still ahead."""
    return tag.lifetime_end_ms.is_null(True) | (tag.lifetime_end_ms > now_ms)


def _refuse_immutable(rows: Iterable, what: str) -> None:
    for row in rows:
        if row.immutable:
            raise errors.ImmutableTagException("tag %r is immutable: it cannot be %s"
                                               % (row.name, what))


def _manifest_digest():
    return Manifest.select(Manifest.digest).where(Manifest.id == Tag.manifest).alias(
        "manifest_digest")


def _manifest_layers_size():
    return Manifest.select(Manifest.layers_compressed_size).where(
        Manifest.id == Tag.manifest).alias("manifest_layers_size")


def _end_alive_rows(repository_id: int, tag_name: str, now_ms: Optional[int],
                    what: str) -> tuple:
    """Lock the name's alive rows and end them; ``(ended rows, time used)``.

    An immutable alive row raises ImmutableTagException (``what`` says what was refused)
    before anything changes. With ``now_ms`` None the clock is read once the rows are
    locked, never before a locked row's start.
    """
    advisory_lock("oci/%d/%s" % (repository_id, tag_name))  # see the module's docstring
    first_reading = clock.now_ms() if now_ms is None else now_ms
    newest = (Tag.select(fn.MAX(Tag.id))
              .where(Tag.repository == repository_id, Tag.name == tag_name))
    candidates = list(locked(Tag.select(Tag, _manifest_digest(), _manifest_layers_size()).where(
        Tag.repository == repository_id, Tag.name == tag_name,
        alive_clause(first_reading) | (Tag.id == newest))))
    if now_ms is None:
        now_ms = max([first_reading, clock.now_ms()]
                     + [row.lifetime_start_ms for row in candidates])
    alive = [row for row in candidates
             if row.lifetime_end_ms is None or row.lifetime_end_ms > now_ms]
    _refuse_immutable(alive, what)
    for row in alive:
        ended = (Tag.update(lifetime_end_ms=now_ms)
                 .where(Tag.id == row.id, alive_clause(now_ms)).execute())
        if not ended:
            raise WriteConflict("tag %r was changed concurrently" % tag_name)
        row.lifetime_end_ms = now_ms
    return alive, now_ms


def move_tag(repository_id: int, tag_name: str, manifest_id: int,
             now_ms: Optional[int] = None, reversion: bool = False, hidden: bool = False,
             end_ms: Optional[int] = None, lifetime_ms: Optional[int] = None) -> Tag:
    """End the alive row of ``tag_name`` and start one on the manifest, in the caller's
    transaction; the new row (with ``manifest_digest`` unset).

    For writes that move a tag as part of a larger unit (a push); the caller runs the
    unit with :func:`registry_model.transactions.run_with_retry`. ImmutableTagException
    when the alive row is immutable. ``end_ms`` gives the new row a scheduled end (a
    temporary tag); ``lifetime_ms`` one that long after the new row's start (a
    ``quay.expires-after`` label). Two statements (three on PostgreSQL) plus one per
    ended row.
    """
    for _ in range(_IN_TRANSACTION_ATTEMPTS):
        _, start = _end_alive_rows(repository_id, tag_name, now_ms, "moved")
        if lifetime_ms is not None:
            end_ms = start + lifetime_ms
        try:
            with db.atomic():  # a savepoint: a lost insert leaves the transaction usable
                return Tag.create(repository=repository_id, name=tag_name, manifest=manifest_id,
                                  lifetime_start_ms=start, lifetime_end_ms=end_ms,
                                  reversion=bool(reversion), hidden=bool(hidden))
        except IntegrityError:
            logger.debug("tag %r gained an alive row concurrently; looking again", tag_name)
    raise WriteConflict("tag %r kept changing while it was being moved" % tag_name)


def retarget_tag(repository_id: int, tag_name: str, manifest_id: int,
                 digest: Optional[str] = None, now_ms: Optional[int] = None,
                 reversion: bool = False) -> Optional[Tag]:
    """Point ``tag_name`` at a manifest of the repository, in its own transaction.

    The manifest row is locked first (checked against its repository and ``digest``
    when given), so a collector deleting it either waits or has already deleted it:
    then None and nothing changes. The new row carries ``manifest_digest`` and
    ``manifest_layers_size``. Retried when a concurrent writer moves the same tag
    (TagConflictException when it keeps losing); ImmutableTagException when the alive
    row is immutable, nothing changed. Three statements (four on PostgreSQL) plus one
    per ended row.
    """
    validation.check_tag_name(tag_name)

    def write() -> Optional[Tag]:
        query = Manifest.select(Manifest.id, Manifest.digest,
                                Manifest.layers_compressed_size).where(
            Manifest.id == manifest_id, Manifest.repository == repository_id)
        if digest is not None:
            query = query.where(Manifest.digest == digest)
        manifest = locked(query).get_or_none()
        if manifest is None:
            return None
        tag = move_tag(repository_id, tag_name, manifest_id, now_ms, reversion=reversion)
        tag.manifest_digest = manifest.digest
        tag.manifest_layers_size = manifest.layers_compressed_size
        return tag

    return run_with_retry(write)


def delete_tag(repository_id: int, tag_name: str, now_ms: Optional[int] = None) -> Optional[Tag]:
    """End the alive row of ``tag_name``; return it (with ``manifest_digest``), or None.

    ImmutableTagException for an immutable tag, nothing changed. Two statements
    (three on PostgreSQL), one transaction, retried after a lost race.
    """
    validation.check_tag_name(tag_name)

    def write() -> Optional[Tag]:
        ended, _ = _end_alive_rows(repository_id, tag_name, now_ms, "deleted")
        return ended[-1] if ended else None

    return run_with_retry(write)


def _tag_rows(joined: bool = False):
    """Tag columns plus the manifest's digest and layers' size (NULL: not an image).

    Scalar subqueries by default, as in the pre-OCI wing: the planner cannot tell that
    the alive-name index returns one row. ``joined`` reads them through a join instead,
    for pages (100 rows by name or by start: one probe a row instead of two, half the
    time on PostgreSQL at 100%) and for a whole listing on SQLite (a fifth less); a
    whole repository's listing on PostgreSQL keeps the subqueries, where a join is
    planned as a parallel merge three times slower.
    """
    columns = (Tag.id, Tag.repository, Tag.name, Tag.manifest, Tag.lifetime_start_ms,
               Tag.lifetime_end_ms, Tag.hidden, Tag.reversion, Tag.immutable)
    if not joined:
        return Tag.select(*columns, _manifest_digest(), _manifest_layers_size())
    return (Tag.select(*columns, Manifest.digest.alias("manifest_digest"),
                       Manifest.layers_compressed_size.alias("manifest_layers_size"))
            .join(Manifest, on=(Manifest.id == Tag.manifest)))


def _visible(query, include_hidden: bool):
    return query if include_hidden else query.where(Tag.hidden == False)  # noqa: E712


_ALIVE_TAGS_NAMED = Statement(lambda name_count, include_hidden: _visible(
    _tag_rows().where(Tag.repository == param("repository_id"),
                      Tag.name.in_(params("names", name_count)),
                      alive_clause(param("now"))),
    include_hidden))


def find_alive_tags(repository_id: int, tag_names: Iterable[str], now_ms: int,
                    include_hidden: bool = False) -> list:
    """Alive tags of the repository with one of those names, flat rows: one query."""
    names = sorted({name for name in tag_names if validation.is_valid_tag_name(name)})
    if not names:
        return []
    return _ALIVE_TAGS_NAMED.rows((len(names), include_hidden), repository_id=repository_id,
                                  names=names, now=now_ms)


_MOST_RECENT_TAG = Statement(lambda: (
    _tag_rows()
    .where(Tag.repository == param("repository_id"), alive_clause(param("now")),
           Tag.hidden == False)  # noqa: E712
    .order_by(Tag.lifetime_start_ms.desc(), Tag.id.desc())
    .limit(1)))


def get_most_recent_tag(repository_id: int, now_ms: int) -> Optional[tuple]:
    """The alive, non-hidden tag started last (ties: highest id), flat row: one query."""
    return _MOST_RECENT_TAG.first(repository_id=repository_id, now=now_ms)


def _alive_tags_page(after_name: bool, limited: bool):
    # Compiled per database, so the backend is known here (see _tag_rows).
    query = (_tag_rows(joined=limited or backend_name() != "postgresql")
             .where(Tag.repository == param("repository_id"), alive_clause(param("now")),
                    Tag.hidden == False)  # noqa: E712
             .order_by(Tag.name))
    if after_name:
        query = query.where(Tag.name > param("last"))
    return query.limit(param("limit")) if limited else query


_ALIVE_TAGS_PAGE = Statement(_alive_tags_page)


def list_alive_tags_page(repository_id: int, now_ms: int, last: Optional[str] = None,
                         limit: Optional[int] = 100) -> list:
    """Up to ``limit`` (None: all) alive, non-hidden tags named after ``last``: one query."""
    if limit is not None:
        validation.check_count("limit", limit, minimum=0)
    return _ALIVE_TAGS_PAGE.rows((last is not None, limit is not None),
                                 repository_id=repository_id, now=now_ms, last=last,
                                 limit=limit)


def _history_page(one_name: bool, active_only: bool):
    # One name's rows keep the subqueries: PostgreSQL misjudges (repository, name) and
    # would hash-join every manifest (a millisecond where the subqueries take 0.2).
    query = (_tag_rows(joined=not one_name)
             .where(Tag.repository == param("repository_id"), Tag.hidden == False)  # noqa: E712
             .order_by(Tag.lifetime_start_ms.desc(), Tag.id.desc())
             .limit(param("limit")).offset(param("offset")))
    if one_name:
        query = query.where(Tag.name == param("tag_name"))
    if active_only:
        query = query.where(alive_clause(param("now")))
    return query


_HISTORY_PAGE = Statement(_history_page)


def list_tag_history_page(repository_id: int, now_ms: int, page: int = 1, size: int = 100,
                          tag_name: Optional[str] = None, active_only: bool = False) -> tuple:
    """One page of non-hidden tag rows, newest first, and whether more follow: one query."""
    validation.check_count("page", page, minimum=1)
    validation.check_count("size", size, minimum=1)
    rows = _HISTORY_PAGE.rows((tag_name is not None, active_only), repository_id=repository_id,
                              tag_name=tag_name, now=now_ms, limit=size + 1,
                              offset=(page - 1) * size)
    return rows[:size], len(rows) > size


_EXPIRED_TAG = Statement(lambda: (
    Tag.select(Tag.id)
    .where(Tag.repository == param("repository_id"), Tag.name == param("name"),
           Tag.hidden == False, Tag.lifetime_end_ms <= param("now"))  # noqa: E712
    .limit(1)))


def any_tag_exists() -> bool:
    """True when the table holds any tag row (one ``SELECT 1 ... LIMIT 1``)."""
    return Tag.select(Tag.id).exists()


def has_expired_tag(repository_id: int, tag_name: str, now_ms: int) -> bool:
    """True when the repository has an ended, non-hidden row of that name: one query."""
    if not validation.is_valid_tag_name(tag_name):
        return False
    return _EXPIRED_TAG.first(repository_id=repository_id, name=tag_name,
                              now=now_ms) is not None


def _locked_alive_tag(tag_id: int, now_ms: int, name: Optional[str], start_s: Optional[int]):
    """The alive row of that id, locked, checked against its name and start when given.

    ``start_s`` is the start in seconds, as a Tag datatype shows it (SQLite gives a
    collected row's id to the next new row: the name and start tell them apart).
    """
    query = Tag.select().where(Tag.id == tag_id, alive_clause(now_ms))
    if name is not None:
        query = query.where(Tag.name == name)
    if start_s is not None:
        query = query.where(Tag.lifetime_start_ms >= start_s * 1000,
                            Tag.lifetime_start_ms < (start_s + 1) * 1000)
    return locked(query).get_or_none()


def change_tag_expiration(tag_id: int, end_ms: Optional[int], now_ms: int,
                          name: Optional[str] = None, start_s: Optional[int] = None) -> tuple:
    """Set the end of an alive tag row (None: no end): ``(previous end, changed)``.

    An end not after the tag's start, or a row no longer alive (or of that id with another
    ``name``/``start_s``), changes nothing: ``(None, False)``. ImmutableTagException when
    an end is set on an immutable tag. Two statements, one transaction.
    """
    with transaction():
        tag = _locked_alive_tag(tag_id, now_ms, name, start_s)
        if tag is None or (end_ms is not None and end_ms <= tag.lifetime_start_ms):
            return None, False
        if end_ms is not None:  # clearing the end of an immutable tag changes nothing
            _refuse_immutable([tag], "expired")
        Tag.update(lifetime_end_ms=end_ms).where(Tag.id == tag_id).execute()
    return tag.lifetime_end_ms, True


def change_tag_immutability(tag_id: int, immutable: bool, now_ms: int,
                            name: Optional[str] = None,
                            start_s: Optional[int] = None) -> Optional[Tag]:
    """Make an alive tag immutable or mutable again; the updated row, or None when not alive.

    A tag with a scheduled end cannot become immutable (it would expire while immutable):
    DataModelException, nothing changed. Two statements, one transaction.
    """
    with transaction():
        tag = _locked_alive_tag(tag_id, now_ms, name, start_s)
        if tag is None:
            return None
        if immutable and tag.lifetime_end_ms is not None:
            raise errors.DataModelException(
                "tag %r ends at %d ms: clear its expiration before making it immutable"
                % (tag.name, tag.lifetime_end_ms))
        Tag.update(immutable=bool(immutable)).where(Tag.id == tag_id).execute()
    tag.immutable = bool(immutable)
    return tag


_ALIVE_TAGS_OF_MANIFEST = Statement(lambda include_hidden: _visible(
    _tag_rows().where(Tag.manifest == param("manifest_id"), alive_clause(param("now"))),
    include_hidden))


def alive_tags_of_manifest(manifest_id: int, now_ms: int, include_hidden: bool = False) -> list:
    """Alive tag rows pointing at the manifest, flat: one query."""
    return _ALIVE_TAGS_OF_MANIFEST.rows((include_hidden,), manifest_id=manifest_id, now=now_ms)


def end_tags_of_manifest(manifest_id: int, now_ms: int, include_hidden: bool = False) -> list:
    """End every alive tag of the manifest now (hidden ones only when asked); the ended rows.

    Two statements. ImmutableTagException when any of them is immutable, nothing changed.
    Runs in its own transaction (or the caller's).
    """
    with transaction():
        rows = list(locked(_visible(_tag_rows().where(Tag.manifest == manifest_id,
                                                      alive_clause(now_ms)),
                                    include_hidden)))
        _refuse_immutable(rows, "deleted")
        if rows:
            (Tag.update(lifetime_end_ms=now_ms)
             .where(Tag.id.in_([row.id for row in rows]), alive_clause(now_ms)).execute())
        for row in rows:
            row.lifetime_end_ms = now_ms
    return rows


def set_expiration_of_manifest_tags(manifest_id: int, expiration_ms: int, now_ms: int) -> int:
    """End every alive, non-hidden tag of the manifest ``expiration_ms`` after its start.

    ImmutableTagException when one of them is immutable, nothing changed. Two statements
    in the caller's transaction (or its own); how many tags changed.
    """
    with transaction():
        _refuse_immutable(Tag.select(Tag.name, Tag.immutable).where(
            Tag.manifest == manifest_id, alive_clause(now_ms),
            Tag.hidden == False, Tag.immutable == True).limit(1), "expired")  # noqa: E712
        return (Tag.update(lifetime_end_ms=Tag.lifetime_start_ms + expiration_ms)
                .where(Tag.manifest == manifest_id, alive_clause(now_ms),
                       Tag.hidden == False)  # noqa: E712
                .execute())


_ALIVE_TAG_NAMES = Statement(lambda: (
    Tag.select(Tag.manifest, Tag.name)
    .where(Tag.repository == param("repository_id"), alive_clause(param("now")),
           Tag.hidden == False)  # noqa: E712
    .order_by(Tag.name)))


def alive_tag_names_by_manifest(repository_id: int, now_ms: int) -> dict:
    """``{manifest id: [names]}`` of the alive, non-hidden tags, names sorted: one query."""
    by_manifest: dict = {}
    names_of = by_manifest.get
    for manifest_id, name in _ALIVE_TAG_NAMES.tuples(repository_id=repository_id, now=now_ms):
        names = names_of(manifest_id)
        if names is None:  # not setdefault(id, []): a new list per tag of a listing of 2,000
            by_manifest[manifest_id] = [name]
        else:
            names.append(name)
    return by_manifest


def create_temporary_tag(repository_id: int, manifest_id: int, lifetime_ms: int,
                         now_ms: int) -> Tag:
    """A hidden tag keeping a manifest pushed by digest for ``lifetime_ms``: one statement.

    Its name is unique (``temp-`` and a random hex), so it ends no other row; it is
    never listed and ends by itself, then the time machine and collection let it go.
    """
    return Tag.create(repository=repository_id, name="temp-" + uuid.uuid4().hex,
                      manifest=manifest_id, lifetime_start_ms=now_ms,
                      lifetime_end_ms=now_ms + lifetime_ms, hidden=True)
