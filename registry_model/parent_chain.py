"""ParentChain: the parents of a legacy image, a read-only sequence shared between images.

A value type of :mod:`registry_model.datatypes` (``LegacyImage.parents``), in a module of its
own because it is a container, not a row: building the images of a 100-deep chain as
tuples copies every parent into every child, this shares them. Standard library only.
"""
import operator
from collections.abc import Sequence
from itertools import islice
from typing import Any, Iterable, Iterator, Optional


class ParentChain(Sequence):
    """A read-only sequence of LegacyImage, nearest parent first, that shares its tail.

    ``ParentChain(parent, parent.parents)`` is the parents of ``parent``'s child: one
    link in front of the chain the parent already holds, so the images of a repository
    share their chains, and building n images of a chain d deep costs O(n), where tuples
    would copy O(n*d) references (:meth:`LegacyImage.for_image_rows` builds listings
    so). It stands in for the tuple of its items: equal to that tuple (and to another
    chain of equal items), hashing and ordering like it, and ``+`` with a tuple or
    chain gives a tuple. Indexing and ``len`` walk the links (O(depth)); slices are
    tuples. Pickles link by link, keeping the sharing. Read-only: no item assignment
    or mutating method, and no public attribute.
    """

    __slots__ = ("_head", "_tail", "_hash")

    def __init__(self, head: Any, rest: "Sequence" = ()) -> None:
        # Two plain slot assignments and nothing else: a listing builds one link per
        # image, so no __setattr__ guard (nothing public changes a chain) and no stored
        # length (len walks the links; truth needs no length, a chain is never empty).
        self._head = head
        # type(), not isinstance(): ABCMeta's check costs a call.
        self._tail = rest if type(rest) is ParentChain else ParentChain._of(rest)

    @staticmethod
    def _of(items: Iterable) -> Optional["ParentChain"]:
        """The chain of ``items`` in order, or None when there are none."""
        chain = None
        for item in reversed(tuple(items)):
            chain = ParentChain(item, chain if chain is not None else ())
        return chain

    def __len__(self) -> int:
        length = 0
        link: Optional[ParentChain] = self
        while link is not None:
            length += 1
            link = link._tail
        return length

    def __bool__(self) -> bool:
        return True

    def __iter__(self) -> Iterator:
        link: Optional[ParentChain] = self
        while link is not None:
            yield link._head
            link = link._tail

    def __reversed__(self) -> Iterator:
        return reversed(tuple(self))

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return tuple(self)[index]
        index = operator.index(index)
        if index < 0:
            index += len(self)
        for item in islice(self, index, None) if index >= 0 else ():
            return item
        raise IndexError("ParentChain index out of range")

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, (ParentChain, tuple)):
            return NotImplemented
        if len(other) != len(self):
            return False
        if isinstance(other, tuple):
            return all(mine is theirs or mine == theirs
                       for mine, theirs in zip(self, other, strict=True))
        mine, theirs = self, other
        while mine is not theirs:  # a shared tail is equal to itself
            if mine._head is not theirs._head:
                if not mine._head == theirs._head:
                    return False
                if (getattr(mine._head, "parents", None) is mine._tail
                        and getattr(theirs._head, "parents", None) is theirs._tail):
                    # The heads were equal parents included, and their parents are the
                    # rest of both chains: done. Comparing the rest again, link by link,
                    # would take time exponential in the depth.
                    return True
            mine, theirs = mine._tail, theirs._tail
        return True

    def __hash__(self) -> int:
        # Cached: an image's hash includes its parents', so an uncached chain would be
        # hashed again for each image in front of it (exponential in the depth).
        try:
            return self._hash
        except AttributeError:
            self._hash: int = hash(tuple(self))
            return self._hash

    def __lt__(self, other: Any) -> bool:
        return _as_tuple(self) < _as_tuple(other) if _comparable(other) else NotImplemented

    def __le__(self, other: Any) -> bool:
        return _as_tuple(self) <= _as_tuple(other) if _comparable(other) else NotImplemented

    def __gt__(self, other: Any) -> bool:
        return _as_tuple(self) > _as_tuple(other) if _comparable(other) else NotImplemented

    def __ge__(self, other: Any) -> bool:
        return _as_tuple(self) >= _as_tuple(other) if _comparable(other) else NotImplemented

    def __add__(self, other: Any) -> tuple:
        return tuple(self) + _as_tuple(other) if _comparable(other) else NotImplemented

    def __radd__(self, other: Any) -> tuple:
        return _as_tuple(other) + tuple(self) if _comparable(other) else NotImplemented

    def __repr__(self) -> str:
        return "ParentChain(%r)" % (tuple(self),)

    def __reduce__(self) -> tuple:
        return ParentChain, (self._head, self._tail if self._tail is not None else ())




def _comparable(value: Any) -> bool:
    return isinstance(value, (ParentChain, tuple))


def _as_tuple(value: Any) -> tuple:
    return value if isinstance(value, tuple) else tuple(value)
