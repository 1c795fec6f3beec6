"""A SHA-256 whose running state can be saved as text and resumed in another process.

A chunked upload may be served by several worker processes, one chunk each, and
the blob's digest must cover every byte. ``hashlib`` objects cannot be
serialised, so the running hash lives in :class:`ResumableSHA256`, whose state
goes into a database text column between chunks::

    hasher = ResumableSHA256()
    hasher.update(first_chunk)
    row.hash_state = hasher.to_state()          # later, maybe elsewhere:
    hasher = ResumableSHA256.from_state(row.hash_state)
    hasher.update(second_chunk)
    hasher.digest_str()                         # "sha256:..." of both chunks

The hashing itself is done by the ``rehashes`` package (RustCrypto's sha2 with its
documented ``SerializableState``). The state is plain bytes, never a pickle, so
loading one read from a database cannot run code; :meth:`ResumableSHA256.from_state`
still checks its shape and its byte count, and rejects anything else with
:class:`~registry_model.blobstore.base.InvalidHashStateException`.

A hash that need not resume, that of a large ``put``, is a :class:`BackgroundSHA256`
instead: ``hashlib`` on a thread of its own, so that hashing one part overlaps reading and
sending the next rather than delaying them.
"""
import base64
import binascii
import collections
import hashlib
from concurrent.futures import ThreadPoolExecutor
from typing import Optional, Union

from rehashes import PySha256

from registry_model.blobstore.base import InvalidHashStateException

# Names the encoding of to_state(); a new raw layout gets a new tag so that
# states written by an older release are refused rather than misread.
STATE_FORMAT = "sha256-rehashes-1"

# rehashes 0.3 serialises SHA-256 as 8 state words, a little-endian u64 count of
# compressed 64-byte blocks, then the pending-bytes count and the 63-byte buffer.
_RAW_STATE_LENGTH = 104
_BLOCK_COUNT = slice(32, 40)
_BUFFERED_BYTES = 40
_BLOCK_SIZE = 64


class ResumableSHA256:
    """A SHA-256 hasher with ``hashlib``'s ``update``/``hexdigest`` plus a text state.

    ``length`` counts the bytes hashed so far. Reading a digest does not end the
    hash: more data may follow, as with ``hashlib``.
    """

    name = "sha256"

    def __init__(self, data: bytes = b"") -> None:
        """Start a hash, optionally over ``data``."""
        self._hasher = PySha256()
        self._length = 0
        if data:
            self.update(data)

    @property
    def length(self) -> int:
        """The number of bytes hashed so far."""
        return self._length

    def update(self, data: bytes) -> None:
        """Hash ``data`` (bytes, bytearray or memoryview) after what came before."""
        if not isinstance(data, bytes):
            # rehashes takes exactly bytes; bytes() also rejects str with a TypeError.
            data = bytes(data)
        self._hasher.update(data)
        self._length += len(data)

    def hexdigest(self) -> str:
        """The lowercase hexadecimal digest of everything hashed so far."""
        return self._hasher.finalize()

    def digest(self) -> bytes:
        """The raw 32-byte digest of everything hashed so far."""
        return bytes.fromhex(self.hexdigest())

    def digest_str(self) -> str:
        """The OCI digest string, ``sha256:<hex>``, of everything hashed so far."""
        return "sha256:" + self.hexdigest()

    def copy(self) -> "ResumableSHA256":
        """An independent hasher in the same state."""
        return self.from_state(self.to_state())

    def to_state(self) -> str:
        """The running state as ASCII text, to store and pass to :meth:`from_state`.

        The text is ``<format>:<length>:<base64 of the raw state>``; it holds up to
        63 of the last bytes hashed, so treat it as being as confidential as the blob.
        """
        raw = base64.b64encode(self._hasher.serialize()).decode("ascii")
        return "%s:%d:%s" % (STATE_FORMAT, self._length, raw)

    @classmethod
    def from_state(cls, state: Union[str, bytes]) -> "ResumableSHA256":
        """Restore a hasher from :meth:`to_state` text, in this or any other process.

        Raises InvalidHashStateException for anything that is not such a state of
        this format, including a state whose recorded length disagrees with its
        block count (a truncated or edited row).
        """
        hasher = cls.__new__(cls)
        hasher.load_state(state)
        return hasher

    def load_state(self, state: Union[str, bytes]) -> None:
        """Put this hasher in the state of :meth:`to_state` text, e.g. to roll it back.

        Raises InvalidHashStateException, leaving the hasher unchanged, as
        :meth:`from_state` does.
        """
        if isinstance(state, bytes):
            try:
                state = state.decode("ascii")
            except UnicodeDecodeError:
                raise InvalidHashStateException("hash state is not ASCII text") from None
        if not isinstance(state, str):
            raise InvalidHashStateException("hash state must be text, not %s"
                                            % type(state).__name__)
        parts = state.split(":")
        if len(parts) != 3 or parts[0] != STATE_FORMAT:
            raise InvalidHashStateException("not a %s hash state: %.40r" % (STATE_FORMAT, state))
        length_text, raw_text = parts[1], parts[2]
        if not (length_text.isascii() and length_text.isdigit()):
            raise InvalidHashStateException("hash state length is not a number: %.40r"
                                            % length_text)
        try:
            raw = base64.b64decode(raw_text, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidHashStateException("hash state is not valid base64") from None
        length = int(length_text)
        if len(raw) != _RAW_STATE_LENGTH:
            raise InvalidHashStateException("hash state holds %d bytes, expected %d"
                                            % (len(raw), _RAW_STATE_LENGTH))
        covered = int.from_bytes(raw[_BLOCK_COUNT], "little") * _BLOCK_SIZE + raw[_BUFFERED_BYTES]
        if covered != length:
            raise InvalidHashStateException("hash state covers %d bytes but records %d"
                                            % (covered, length))
        try:
            hasher = PySha256.deserialize(raw)
        except ValueError as exc:
            raise InvalidHashStateException("hash state rejected: %s" % exc) from None
        self._hasher = hasher
        self._length = length

def resume_sha256(hash_state: Optional[str], available: int) -> ResumableSHA256:
    """A hasher to finish ``available`` bytes: restored from ``hash_state``, or new if None.

    The caller hashes the bytes from ``hasher.length`` on. Raises
    InvalidHashStateException when the state is malformed or covers more bytes
    than are available, as it would for a state saved for another upload.
    """
    if hash_state is None:
        return ResumableSHA256()
    hasher = ResumableSHA256.from_state(hash_state)
    if hasher.length > available:
        raise InvalidHashStateException("hash state covers %d bytes but the upload holds %d"
                                        % (hasher.length, available))
    return hasher


class BackgroundSHA256:
    """A ``hashlib`` SHA-256 fed on a thread of its own, in the order of :meth:`update`.

    ``update`` queues the bytes (which must not change afterwards) and returns at once,
    unless ``backlog`` of them are still waiting: that bounds the memory held.
    :meth:`hexdigest` waits for the queue and stops the thread; so does :meth:`close`,
    which a caller that gives up calls instead. ``length`` counts the bytes queued.
    """

    def __init__(self, backlog: int = 4) -> None:
        """A hash of nothing yet; its thread starts with the first update."""
        self._hash = hashlib.sha256()
        self._backlog = backlog
        self._pool: Optional[ThreadPoolExecutor] = None
        self._pending: collections.deque = collections.deque()
        self.length = 0

    def update(self, data: bytes) -> None:
        """Queue ``data`` to be hashed after what came before."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="sha256")
        while len(self._pending) >= self._backlog:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(self._hash.update, data))
        self.length += len(data)

    def hexdigest(self) -> str:
        """The lowercase hexadecimal digest of everything queued, once it is hashed."""
        self.close()
        return self._hash.hexdigest()

    def close(self) -> None:
        """Wait for the queued bytes to be hashed and stop the thread."""
        while self._pending:
            self._pending.popleft().result()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
