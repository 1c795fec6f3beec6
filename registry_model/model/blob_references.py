"""What references a blob record, declared by each wing, asked by every blob decision.

A blob record (ImageStorage) stays while something references it: a row of a
wing (the pre-OCI wing's ``Image.storage``; the OCI wing's manifest-blob rows)
or an unexpired temporary link (UploadedBlob) of a fresh upload or mount. Each
wing declares its referencing column when its tables are imported::

    blob_references.declare(Image, Image.storage, Image.repository)

and everything that decides about a blob (collection and its dry run, the
sweep of unreferenced records, "is this blob in the repository?", releasing
links) builds its condition here, so while two wings hold rows (a backfill)
neither loses the other's blobs. The rule is written once: :func:`referenced`.
"""
import operator
from functools import reduce
from typing import Iterable, Mapping, NamedTuple, Optional

from peewee import SQL, Expression, Field, ModelBase, fn

from registry_model import statements
from registry_model.model.tables import ImageStorage, UploadedBlob


class BlobReference(NamedTuple):
    """A column of a table that names a blob record, and the column naming its repository."""

    table: ModelBase
    blob: Field
    repository: Field


_declared: list = []


def declare(table: ModelBase, blob_field: Field, repository_field: Field) -> None:
    """Declare that rows of ``table`` reference the blob in ``blob_field`` (idempotent)."""
    reference = BlobReference(table, blob_field, repository_field)
    if reference not in _declared:
        _declared.append(reference)
        statements.forget_all()  # precompiled reads built their conditions from the old list


def wing_references() -> tuple:
    """The references the installed wings declared (temporary links not included)."""
    return tuple(_declared)


def _exists(reference: BlobReference, blob_column: Field, repository_id,
            ignoring: Iterable[int]) -> Expression:
    query = reference.table.select(reference.table.id).where(reference.blob == blob_column)
    if repository_id is not None:
        query = query.where(reference.repository == repository_id)
    ignored = sorted(ignoring)
    if ignored:
        query = query.where(reference.table.id.not_in(ignored))
    return fn.EXISTS(query)


def referenced(now, repository_id=None, blob_column: Field = ImageStorage.id,
               ignoring: Optional[Mapping] = None, links: bool = True) -> Expression:
    """The condition "some row references the blob in ``blob_column``", for a WHERE clause.

    A wing's row, or (with ``links``) a temporary link unexpired at ``now``; only
    in ``repository_id`` when given (a value or a statement parameter). Rows whose
    ids ``ignoring[table]`` holds do not count: a dry run's view of a collection
    that would have deleted them. EXISTS stops at the first reference, where a
    popular base layer has tens of thousands.
    """
    ignoring = ignoring or {}
    clauses = [_exists(reference, blob_column, repository_id, ignoring.get(reference.table, ()))
               for reference in _declared]
    if links:
        link = UploadedBlob.select(UploadedBlob.id).where(UploadedBlob.blob == blob_column,
                                                          UploadedBlob.expires_at > now)
        if repository_id is not None:
            link = link.where(UploadedBlob.repository == repository_id)
        ignored = sorted(ignoring.get(UploadedBlob, ()))
        if ignored:
            link = link.where(UploadedBlob.id.not_in(ignored))
        clauses.append(fn.EXISTS(link))
    if not clauses:
        return SQL("1 = 0")  # no wing installed and links left out: nothing references
    return reduce(operator.or_, clauses)


def used_blob_ids(storage_ids: list, now: int, ignoring: Optional[Mapping] = None) -> set:
    """The ids among ``storage_ids`` that something references, anywhere: one query.

    The collection's check under lock, and its dry run's (with ``ignoring``).
    """
    if not storage_ids:
        return set()
    return {row[0] for row in ImageStorage.select(ImageStorage.id)
            .where(ImageStorage.id.in_(storage_ids), referenced(now, ignoring=ignoring))
            .tuples()}


def unreferenced_blob_ids(after: int, up_to_id: int, limit: int, now: int) -> list:
    """Ids of finished blob records in ``(after, up_to_id]`` nothing references: one query."""
    return [row[0] for row in ImageStorage.select(ImageStorage.id).where(
        ImageStorage.id > after, ImageStorage.id <= up_to_id,
        ImageStorage.uploading == False,  # noqa: E712
        ~referenced(now)).order_by(ImageStorage.id).limit(limit).tuples()]
