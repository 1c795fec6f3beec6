"""Legacy (V1) images and their ancestry.

``Image.ancestors`` holds the ids of every ancestor, root first (``/7/9/``),
so all ancestors of an image, or all images of a repository, load in one query
whatever the depth of the chain.
"""
import hashlib
import json
import logging
from datetime import datetime
from typing import Iterable, NamedTuple, Optional

from peewee import Case, IntegrityError

from registry_model import errors, validation
from registry_model.model.tables import ImageStorage, Repository
from registry_model.pre_oci.ancestors import ROOT, child_path, fits_chain, parse_ancestors
from registry_model.pre_oci.tables import Image
from registry_model.statements import Statement, param, params
from registry_model.transactions import locked, transaction

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
    path = child_path(parent)
    aggregate_size = storage.image_size
    if parent is not None:
        aggregate_size = (None if parent.aggregate_size is None or aggregate_size is None
                          else parent.aggregate_size + aggregate_size)
    try:
        with transaction():
            return Image.create(repository=repository, docker_image_id=docker_image_id,
                                ancestors=path, storage=storage, created=created,
                                comment=comment, command=command,
                                aggregate_size=aggregate_size,
                                v1_json_metadata=v1_json_metadata, v1_checksum=v1_checksum)
    except IntegrityError as exc:
        raise errors.DuplicateException("image %s exists in the repository already (or its "
                                        "storage is gone)" % docker_image_id) from exc


def _with_storage():
    return Image.select(Image, ImageStorage).join(ImageStorage)


def _image_rows():
    """Image columns plus its blob's size, state and digest, flat."""
    return (Image.select(Image.id, Image.repository, Image.docker_image_id, Image.ancestors,
                         Image.created, Image.comment, Image.command, Image.aggregate_size,
                         Image.v1_json_metadata, ImageStorage.image_size,
                         ImageStorage.uploading, ImageStorage.content_checksum)
            .join(ImageStorage))


_REPOSITORY_IMAGES = Statement(lambda: (
    _image_rows().where(Image.repository == param("repository_id")).order_by(Image.id)))
_IMAGE_BY_V1_ID = Statement(lambda: _image_rows().where(
    Image.repository == param("repository_id"),
    Image.docker_image_id == param("docker_image_id")))
_IMAGES_BY_ID = Statement(lambda count: _image_rows().where(
    Image.id.in_(params("ids", count))))


def get_repository_images(repository_id: int) -> list:
    """Every image of the repository with its storage columns, in id order: one query.

    Rows are flat: the image's columns plus ``image_size``, ``uploading`` and
    ``content_checksum`` of its blob.
    """
    return _REPOSITORY_IMAGES.rows(repository_id=repository_id)


def get_repository_image_tuples(repository_id: int) -> tuple:
    """``(column names, rows)``: :func:`get_repository_images` as plain tuples, one query.

    For listings of thousands of images, where a namedtuple per row costs as much
    as the rest of the work on a row.
    """
    return (_REPOSITORY_IMAGES.columns(),
            _REPOSITORY_IMAGES.tuples(repository_id=repository_id))


def get_image(repository_id: int, docker_image_id: str) -> Optional[tuple]:
    """The image with that V1 id in the repository (flat row with storage), or None: one query."""
    if not validation.is_valid_docker_image_id(docker_image_id):
        return None
    return _IMAGE_BY_V1_ID.first(repository_id=repository_id, docker_image_id=docker_image_id)


def get_images_by_id(image_ids: Iterable[int]) -> dict:
    """The images with those ids (flat rows with storage) as ``{id: row}``: one query."""
    ids = sorted(set(image_ids))
    if not ids:
        return {}
    return {row.id: row for row in _IMAGES_BY_ID.rows((len(ids),), ids=ids)}


class LayerSpec(NamedTuple):
    """One layer of a pushed manifest, base first, as the image chain needs it."""

    docker_image_id: str
    parent_image_id: Optional[str]
    blob_digest: str
    created: Optional[datetime]
    comment: Optional[str]
    command: Optional[str]
    v1_json_metadata: str


def _rewritten_id(original: str, blob_digest: str, parent_id: Optional[str]) -> str:
    seed = "%s@%s@%s" % (original, blob_digest, parent_id or "")
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()


def _with_ids(v1_json: str, image_id: str, parent_id: Optional[str]) -> str:
    try:
        metadata = json.loads(v1_json)
    except ValueError:
        metadata = {}
    if not isinstance(metadata, dict):
        metadata = {}
    metadata["id"] = image_id
    if parent_id is None:
        metadata.pop("parent", None)
    else:
        metadata["parent"] = parent_id
    return json.dumps(metadata, sort_keys=True)


def _fits(existing: Optional[Image], layer: LayerSpec, parent_row_id: Optional[int]) -> bool:
    if existing is None:
        return True
    existing_parent = (parse_ancestors(existing.ancestors) or [None])[-1]
    return (existing.storage.content_checksum == layer.blob_digest
            and existing_parent == parent_row_id)


def synthesize_image_chain(repository_id: int, layers: list, blobs: dict) -> list:
    """The Image rows of a pushed chain, base first, reusing or creating each, in the caller's txn.

    A layer keeps its V1 id when that id is free in the repository or names an
    image with the same blob and parent; from the first layer whose id clashes
    (or is malformed, or whose declared parent is not the previous layer), it
    and every layer above get a new id derived from the original id, the blob
    and the new parent, with their V1 JSON rewritten to match, as Docker
    clients expect. At most five statements whatever the chain's length.
    """
    if not layers:
        return []
    if not fits_chain(len(layers)):
        # Even one-digit ids ("/1/2/.../") would overflow the leaf's ancestors
        # path: refuse before inserting thousands of rows only to roll them back.
        raise errors.InvalidImageException("image chain too deep: %d layers" % len(layers))
    originals = [layer.docker_image_id for layer in layers]
    # Locked, as the garbage collector locks images before deleting them: an image this
    # chain builds on is either held here until the commit, or already gone.
    known = {image.docker_image_id: image for image in locked(_with_storage().where(
        Image.repository == repository_id, Image.docker_image_id.in_(originals)))}

    # Find where the original ids stop fitting; from there on every id is rewritten.
    final_ids: list = []
    parent_row_id: Optional[int] = None
    previous_original: Optional[str] = None
    first_rewritten = len(layers)
    for index, layer in enumerate(layers):
        existing = known.get(layer.docker_image_id)
        if (not validation.is_valid_docker_image_id(layer.docker_image_id)
                or layer.docker_image_id in final_ids  # one id twice in the chain
                or layer.parent_image_id != previous_original
                or not _fits(existing, layer, parent_row_id)):
            first_rewritten = index
            break
        final_ids.append(layer.docker_image_id)
        parent_row_id = existing.id if existing is not None else None
        previous_original = layer.docker_image_id
        if existing is None:
            parent_row_id = -1  # a new image: nothing existing can have it as parent
    for layer in layers[first_rewritten:]:
        parent_id = final_ids[-1] if final_ids else None
        final_ids.append(_rewritten_id(layer.docker_image_id, layer.blob_digest, parent_id))
    if first_rewritten < len(layers):
        known.update({image.docker_image_id: image for image in locked(_with_storage().where(
            Image.repository == repository_id,
            Image.docker_image_id.in_(final_ids[first_rewritten:])))})

    chain: list = []
    pending: list = []
    for index, (layer, image_id) in enumerate(zip(layers, final_ids, strict=True)):
        parent = chain[-1] if chain else None
        existing = known.get(image_id)
        parent_row_id = parent.id if parent is not None else None
        if existing is not None and _fits(existing, layer, parent_row_id) and not pending:
            chain.append(existing)
            continue
        if existing is not None:
            raise errors.InvalidImageException("V1 image id %s clashes with other content"
                                               % image_id)
        blob = blobs[layer.blob_digest]
        parent_size = parent.aggregate_size if parent is not None else 0
        row = Image(repository=repository_id, docker_image_id=image_id, storage=blob,
                    created=layer.created, comment=layer.comment, command=layer.command,
                    v1_json_metadata=(layer.v1_json_metadata if index < first_rewritten else
                                      _with_ids(layer.v1_json_metadata, image_id,
                                                final_ids[index - 1] if index else None)),
                    aggregate_size=(None if parent_size is None or blob.image_size is None
                                    else parent_size + blob.image_size),
                    ancestors=ROOT)
        pending.append(row)
        chain.append(row)
    if pending:
        _insert_chain(repository_id, chain, pending)
    return chain


def _insert_chain(repository_id: int, chain: list, pending: list) -> None:
    """Insert the new images, then read their ids and fill their ancestors: three statements."""
    columns = ("docker_image_id", "created", "comment", "command", "v1_json_metadata",
               "aggregate_size", "ancestors")
    Image.insert_many([dict({name: getattr(row, name) for name in columns},
                            repository=repository_id, storage=row.storage.id)
                       for row in pending]).execute()
    # A locking read: MariaDB's REPEATABLE READ snapshot may still show rows of these ids
    # that a concurrent collector deleted after it was taken.
    ids = dict(locked(Image.select(Image.docker_image_id, Image.id)
                      .where(Image.repository == repository_id,
                             Image.docker_image_id.in_([row.docker_image_id
                                                        for row in pending])))
               .tuples())
    new_rows = {id(row) for row in pending}  # by identity: new rows have no primary key yet
    paths: dict = {}
    parent = None
    for row in chain:
        if id(row) in new_rows:
            row.id = ids[row.docker_image_id]
            row.ancestors = paths[row.id] = child_path(parent)
        parent = row
    (Image.update(ancestors=Case(Image.id, list(paths.items())))
     .where(Image.id.in_(list(paths))).execute())
