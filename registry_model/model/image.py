"""Legacy (V1) images and their ancestry.

``Image.ancestors`` holds the ids of every ancestor, root first (``/7/9/``),
so all ancestors of an image, or all images of a repository, load in one query
whatever the depth of the chain.
"""
import logging
from datetime import datetime
from typing import Iterable, Optional

from peewee import IntegrityError

from registry_model import errors, validation
from registry_model.database import (
    MAX_ANCESTORS_LENGTH,
    Image,
    ImageStorage,
    Repository,
    transaction,
)

logger = logging.getLogger(__name__)


def create_image(repository: Repository, docker_image_id: str, storage: ImageStorage,
                 parent: Optional[Image] = None, created: Optional[datetime] = None,
                 comment: Optional[str] = None, command: Optional[str] = None,
                 v1_json_metadata: Optional[str] = None,
                 v1_checksum: Optional[str] = None) -> Image:
    """Create a legacy image of ``repository`` on top of ``parent`` (None for a base image).

    ``ancestors`` is filled from the parent and ``aggregate_size`` is the
    parent's plus this image's blob size, when both are known. The parent must
    belong to the same repository (InvalidImageException); a V1 id already used
    in the repository raises DuplicateException.
    """
    validation.check_docker_image_id(docker_image_id)
    if parent is not None:
        if parent.repository_id != repository.id:
            raise errors.InvalidImageException(
                "parent image %s belongs to another repository" % parent.docker_image_id)
        ancestors = "%s%d/" % (parent.ancestors, parent.id)
    else:
        ancestors = "/"
    if len(ancestors) > MAX_ANCESTORS_LENGTH:
        raise errors.InvalidImageException("image chain too deep: ancestors path over %d "
                                           "characters" % MAX_ANCESTORS_LENGTH)
    aggregate_size = storage.image_size
    if parent is not None:
        aggregate_size = (None if parent.aggregate_size is None or aggregate_size is None
                          else parent.aggregate_size + aggregate_size)
    try:
        with transaction():
            return Image.create(repository=repository, docker_image_id=docker_image_id,
                                ancestors=ancestors, storage=storage, created=created,
                                comment=comment, command=command,
                                aggregate_size=aggregate_size,
                                v1_json_metadata=v1_json_metadata, v1_checksum=v1_checksum)
    except IntegrityError as exc:
        raise errors.DuplicateException("image %s exists in the repository already (or its "
                                        "storage is gone)" % docker_image_id) from exc


def _with_storage():
    return Image.select(Image, ImageStorage).join(ImageStorage)


def get_repository_images(repository_id: int) -> list:
    """Every image of the repository with its storage, in id order: one query."""
    return list(_with_storage().where(Image.repository == repository_id).order_by(Image.id))


def get_image(repository_id: int, docker_image_id: str) -> Optional[Image]:
    """The image with that V1 id in the repository, storage loaded, or None: one query."""
    if not validation.is_valid_docker_image_id(docker_image_id):
        return None
    return (_with_storage()
            .where(Image.repository == repository_id, Image.docker_image_id == docker_image_id)
            .get_or_none())


def get_images_by_id(image_ids: Iterable[int]) -> dict:
    """The images with those ids, storage loaded, as ``{id: image}``: one query."""
    ids = list(image_ids)
    if not ids:
        return {}
    return {image.id: image for image in _with_storage().where(Image.id.in_(ids))}
