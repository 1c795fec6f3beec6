"""Blob records (ImageStorage) and where their bytes are placed.

The database never holds blob bytes: a record names the blob by its
``content_checksum`` and says in which storage locations the bytes live.
"""
import logging
from typing import Iterable, Optional

from registry_model import validation
from registry_model.model import lookup
from registry_model.model.tables import ImageStorage, ImageStoragePlacement
from registry_model.statements import Statement, param
from registry_model.transactions import transaction

logger = logging.getLogger(__name__)


def _check_size(name: str, value: Optional[int]) -> None:
    if value is not None:
        validation.check_count(name, value, 0)


def create_storage(content_checksum: Optional[str] = None, image_size: Optional[int] = None,
                   uncompressed_size: Optional[int] = None, uploading: bool = False,
                   locations: Iterable[str] = ("local",)) -> ImageStorage:
    """Create a blob record placed in ``locations``, in one transaction.

    ``content_checksum`` is the blob's digest (``sha256:<hex>``) or None while
    an upload is still running. Unknown locations raise before any write.
    """
    if content_checksum is not None:
        validation.check_digest(content_checksum)
    _check_size("image_size", image_size)
    _check_size("uncompressed_size", uncompressed_size)
    location_ids = sorted({lookup.location_id(name) for name in locations})
    with transaction():
        storage = ImageStorage.create(content_checksum=content_checksum, image_size=image_size,
                                      uncompressed_size=uncompressed_size,
                                      uploading=bool(uploading))
        if location_ids:
            ImageStoragePlacement.insert_many(
                [{"storage": storage.id, "location": loc} for loc in location_ids]).execute()
    return storage


_LOCATIONS = Statement(lambda: ImageStoragePlacement.select(ImageStoragePlacement.location)
                       .where(ImageStoragePlacement.storage == param("storage_id")))


def get_storage_locations(storage_id: int) -> list:
    """Names of the locations holding the blob's bytes, sorted: one query."""
    return sorted(lookup.location_name(row.location_id)
                  for row in _LOCATIONS.rows(storage_id=storage_id))
