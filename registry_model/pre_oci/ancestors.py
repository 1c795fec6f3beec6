"""The ancestors path of a legacy image: the only module that reads or writes its format.

``Image.ancestors`` holds the ids of every ancestor, root first, between
slashes: ``/`` for a base image, ``/7/9/`` for an image whose parent is 9 and
grandparent 7. All ancestors of an image (or every descendant, by prefix) load
in one query whatever the depth of the chain::

    path = child_path(parent)      # "/7/9/" under the image 9 whose path is "/7/"
    parse_ancestors(path)                            # [7, 9]
"""
from typing import Any, Iterable, Optional

from registry_model import errors

ROOT = "/"
MAX_ANCESTORS_LENGTH = 2048


def parse_ancestors(ancestors: str) -> list:
    """Turn an ancestors path (``/7/9/``) into its ids, root first (``[7, 9]``)."""
    return [int(part) for part in ancestors.split("/") if part]


def parent_id(ancestors: str) -> Optional[int]:
    """The parent's id in an ancestors path (``/7/9/`` gives 9), None for a base image (``/``).

    Reads only the end of the path, where a full parse of a 100-deep chain's
    path for each of its images would cost more than the query that loaded them.
    """
    return parent_ids((ancestors,))[0]


def parent_ids(ancestors_paths: Iterable[str]) -> list:
    """:func:`parent_id` of each path, in one call (a listing of thousands of images)."""
    # "/7/9/".rsplit("/", 2) is ["/7", "9", ""]: one call, faster than rindex and a slice.
    return [int(ancestors.rsplit("/", 2)[1]) if len(ancestors) > 1 else None
            for ancestors in ancestors_paths]


def depth(ancestors: str) -> int:
    """How many ancestors the path names (0 for a base image), without parsing the ids."""
    return ancestors.count("/") - 1


def child_path(parent: Optional[Any]) -> str:
    """The path of an image on top of ``parent`` (a row with ``id`` and ``ancestors``, or None).

    ``ROOT`` when there is no parent. InvalidImageException when the path would
    outgrow the column (:data:`MAX_ANCESTORS_LENGTH`).
    """
    if parent is None:
        return ROOT
    return check_length("%s%d/" % (parent.ancestors, parent.id))


def check_length(path: str) -> str:
    """``path`` itself, or InvalidImageException when it is longer than the column allows."""
    if len(path) > MAX_ANCESTORS_LENGTH:
        raise errors.InvalidImageException("image chain too deep: ancestors path over %d "
                                           "characters" % MAX_ANCESTORS_LENGTH)
    return path


def fits_chain(layer_count: int) -> bool:
    """Whether a chain of that many images can have its leaf's path stored at all.

    Even one-digit ids (``/1/2/.../``) take two characters an ancestor.
    """
    return 2 * layer_count - 1 <= MAX_ANCESTORS_LENGTH
