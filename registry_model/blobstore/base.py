"""The blob store contract: content-addressed bytes kept outside the database.

A blob is stored under its ``sha256:<hex>`` digest, computed by the store while
it writes, so a digest always names exactly the bytes behind it. Large blobs
arrive either whole through :meth:`BlobStore.put` or in chunks through an upload
session keyed by a UUID (``initiate_upload``, ``write_chunk``,
``complete_upload``), whose chunks may come from different worker processes.
The database keeps the session's byte count and running hash state
(:mod:`registry_model.blobstore.hashing`); the store keeps the bytes.

Every method validates its digest or upload id before touching storage, so a
crafted value (``sha256:../../etc``) raises instead of escaping the store.
Malformed digests raise :class:`~registry_model.errors.InvalidDigestException`
(``exists`` answers False, as read paths do for input that cannot exist).
"""
import abc
import uuid
from typing import (
    TYPE_CHECKING,
    BinaryIO,
    Iterable,
    Iterator,
    NamedTuple,
    Optional,
    Tuple,
    Union,
)

from registry_model import errors, validation

if TYPE_CHECKING:
    # hashing imports this module's exceptions, so only type checkers import it here.
    from registry_model.blobstore.hashing import ResumableSHA256

# Bytes read from a source or a blob at a time: large enough to keep system
# calls few, small enough that a 50 GB layer never sits in memory.
CHUNK_SIZE = 1024 * 1024

SUPPORTED_ALGORITHM = "sha256"

# The longest a redirect URL may stay valid: the limit of an S3 SigV4 presigned URL.
MAX_REDIRECT_EXPIRY_S = 7 * 24 * 3600
# The validity a server gives its redirects unless told another (Distribution's S3 driver
# uses the same 20 minutes): checked when a download starts, so a slow one is not cut.
DEFAULT_REDIRECT_EXPIRY_S = 20 * 60

BlobSource = Union[bytes, bytearray, memoryview, BinaryIO, Iterable[bytes]]


class BlobStoreException(errors.DataModelException):
    """Base class of the blob store's own errors."""


class BlobNotFoundException(BlobStoreException, errors.NotFoundException):
    """No blob is stored under the digest."""


class UnsupportedDigestException(BlobStoreException, errors.InvalidDigestException):
    """A well-formed digest of an algorithm the store does not keep (only sha256)."""


class BlobDigestMismatchException(BlobStoreException):
    """The uploaded bytes do not hash to the digest the client announced."""

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__("upload digest mismatch: expected %s, got %s" % (expected, actual))
        self.expected = expected
        self.actual = actual


class InvalidUploadIdException(BlobStoreException):
    """An upload id is not a UUID."""


class UploadNotFoundException(BlobStoreException, errors.NotFoundException):
    """No upload session with that id (never started, completed or cancelled)."""


class UploadExistsException(BlobStoreException, errors.DuplicateException):
    """An upload session with that id already exists."""


class UploadOffsetException(BlobStoreException):
    """A chunk's offset is not the upload's current length (a lost or repeated chunk)."""

    def __init__(self, upload_id: str, offset: object, length: int) -> None:
        super().__init__("chunk for upload %s starts at %r but the upload holds %d bytes"
                         % (upload_id, offset, length))
        self.upload_id = upload_id
        self.offset = offset
        self.length = length


class InvalidHashStateException(BlobStoreException):
    """A saved hash state is malformed, of another format or for other bytes."""


class StoredBlob(NamedTuple):
    """What :meth:`BlobStore.put` and :meth:`BlobStore.complete_upload` stored."""

    digest: str
    size: int


def check_blob_digest(digest: object) -> str:
    """Return the hex part of a ``sha256:<64 hex>`` digest, or raise.

    Raises InvalidDigestException for a malformed digest and
    UnsupportedDigestException for another algorithm. The hex part is safe to
    use as a file name: 64 characters of ``0-9a-f``.
    """
    validation.check_digest(digest)
    algorithm, encoded = digest.split(":", 1)
    if algorithm != SUPPORTED_ALGORITHM:
        raise UnsupportedDigestException("only %s digests are stored, not %r"
                                         % (SUPPORTED_ALGORITHM, digest))
    return encoded


def is_blob_digest(digest: object) -> bool:
    """True when ``digest`` is a digest the store can hold (``sha256:<64 hex>``)."""
    return validation.is_valid_digest(digest) and digest.startswith(SUPPORTED_ALGORITHM + ":")


def check_upload_id(upload_id: object) -> str:
    """Return the canonical spelling of a UUID upload id, or raise InvalidUploadIdException.

    Any standard spelling (upper case, braces) names the same upload.
    """
    if not validation.is_valid_uuid(upload_id):
        raise InvalidUploadIdException("upload id must be a UUID: %.80r" % (upload_id,))
    return str(uuid.UUID(upload_id))


def check_offset_type(offset: object) -> None:
    """Raise TypeError unless ``offset`` is an int: parsing it is the caller's job."""
    if isinstance(offset, bool) or not isinstance(offset, int):
        raise TypeError("upload offset must be an int, not %s" % type(offset).__name__)


def check_redirect_expiry(expires_s: object) -> int:
    """Return ``expires_s`` if it is an int of 1 s to 7 days (a redirect URL's validity),
    else raise ValueError."""
    if isinstance(expires_s, bool) or not isinstance(expires_s, int) \
            or not 1 <= expires_s <= MAX_REDIRECT_EXPIRY_S:
        raise ValueError("a redirect expires in 1 to %d seconds, not %r"
                         % (MAX_REDIRECT_EXPIRY_S, expires_s))
    return expires_s


def iter_chunks(data: BlobSource, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield the bytes of ``data`` a bounded piece at a time.

    ``data`` is bytes-like, a binary file object (read ``chunk_size`` at a time,
    never whole) or an iterable of bytes-like chunks such as a generator. Text
    is a programming error and raises TypeError.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        view = memoryview(data).cast("B")
        for start in range(0, len(view), chunk_size):
            yield bytes(view[start:start + chunk_size])
        return
    if hasattr(data, "read"):
        while True:
            chunk = data.read(chunk_size)
            if isinstance(chunk, str):
                raise TypeError("blob source is a text file; open it in binary mode")
            if not chunk:
                return
            yield _as_bytes(chunk)
    if isinstance(data, str) or not isinstance(data, Iterable):
        raise TypeError("a blob is bytes, a binary file object or an iterable of bytes, "
                        "not %s" % type(data).__name__)
    for chunk in data:
        if chunk:
            yield _as_bytes(chunk)


def _as_bytes(chunk: object) -> bytes:
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, (bytearray, memoryview)):
        return bytes(chunk)
    raise TypeError("blob chunks must be bytes, not %s" % type(chunk).__name__)


class BlobStore(abc.ABC):
    """Content-addressed blob storage with resumable chunked uploads.

    Implementations: :class:`~registry_model.blobstore.filesystem.FilesystemBlobStore`
    and :class:`~registry_model.blobstore.memory.InMemoryBlobStore`; both pass the
    same conformance suite (``tests/blobstore/test_conformance.py``).

    On a digest mismatch :meth:`complete_upload` keeps the upload unchanged, so the
    caller may retry with the right digest or call :meth:`cancel_upload`.

    A store whose blobs a client can fetch without this process (an object store) sets
    :attr:`can_redirect` and answers :meth:`redirect_url`; the others keep the defaults.
    """

    #: True when :meth:`redirect_url` gives URLs: a server may then send clients there.
    can_redirect: bool = False

    def redirect_url(self, digest: str, expires_s: int) -> Optional[str]:
        """A URL from which anyone holding it may GET the blob for ``expires_s`` seconds,
        with ``Range`` honoured; None when the store cannot give one (a folder, memory).

        Whoever calls this has checked that the caller may read the blob and that the
        blob exists: a store may sign a URL without asking its backend, so the URL of a
        missing blob answers 404 only when fetched.
        """
        return None

    @abc.abstractmethod
    def exists(self, digest: str) -> bool:
        """True when a blob is stored under ``digest``; False also for a malformed digest."""

    @abc.abstractmethod
    def size(self, digest: str) -> int:
        """The blob's size in bytes; BlobNotFoundException when absent."""

    @abc.abstractmethod
    def open(self, digest: str) -> BinaryIO:
        """A binary file object reading the blob from its start, for streaming.

        The caller closes it (``with store.open(d) as f``). A blob removed while
        open stays readable through the object on backends that allow it.
        """

    def read(self, digest: str) -> bytes:
        """The whole blob as bytes: for small blobs (manifests, configs) only."""
        with self.open(digest) as blob:
            return blob.read()

    @abc.abstractmethod
    def put(self, data: BlobSource) -> StoredBlob:
        """Store ``data``, hashing it while writing, and return its digest and size.

        ``data`` is bytes, a binary file object or an iterable of bytes; it is
        consumed in bounded chunks. The blob appears whole or not at all, and
        storing a blob that exists already succeeds and refreshes its
        :meth:`last_modified`, so a sweep's grace period restarts.
        """

    @abc.abstractmethod
    def remove(self, digest: str) -> None:
        """Delete the blob; BlobNotFoundException when absent."""

    @abc.abstractmethod
    def list_digests(self) -> Iterator[str]:
        """Yield the digest of every stored blob, in sorted order, each once."""

    @abc.abstractmethod
    def last_modified(self, digest: str) -> float:
        """When the blob was last stored, in seconds since the epoch."""

    def list_blobs(self) -> Iterator[Tuple[str, int, float]]:
        """Yield ``(digest, size, last_modified)`` of every blob, sorted by digest.

        What a sweep needs in one pass: a store that lists sizes and times together (S3,
        1,000 per request) overrides this; a blob removed while listed is left out.
        """
        for digest in self.list_digests():
            try:
                yield digest, self.size(digest), self.last_modified(digest)
            except BlobNotFoundException:
                continue

    def remove_many(self, digests: Iterable[str]) -> None:
        """Delete those blobs; an absent one is no error. S3 deletes 1,000 per request."""
        for digest in digests:
            try:
                self.remove(digest)
            except BlobNotFoundException:
                continue

    @abc.abstractmethod
    def initiate_upload(self, upload_id: str) -> None:
        """Start an empty upload session; UploadExistsException if the id is taken."""

    @abc.abstractmethod
    def write_chunk(self, upload_id: str, offset: int, data: BlobSource,
                    hasher: Optional["ResumableSHA256"] = None) -> int:
        """Append ``data`` at ``offset`` and return the upload's new length.

        ``offset`` must equal the current length (UploadOffsetException otherwise,
        nothing written). When ``hasher`` is given it must have hashed exactly
        ``offset`` bytes (else InvalidHashStateException) and is fed the chunk as
        it is written, so the caller can save ``hasher.to_state()``. A chunk whose
        source fails midway is rolled back: the upload and hasher are as before.
        """

    @abc.abstractmethod
    def upload_length(self, upload_id: str) -> int:
        """The number of bytes written to the upload so far."""

    @abc.abstractmethod
    def upload_hasher(self, upload_id: str,
                      hash_state: Optional[str] = None) -> "ResumableSHA256":
        """A hasher over every byte written to the upload, its ``length`` the upload's.

        How a caller whose record of a session lags the store (a chunk written, its
        progress never saved) catches up. ``hash_state`` covers a prefix of the upload
        (None: nothing) and the bytes after it are read, as :meth:`complete_upload` reads
        them, with no chunk half written; a store keeping a running hash of its own (S3,
        whose parts cannot be read back before the upload completes) answers with that.
        InvalidHashStateException when the state is malformed or covers more bytes than
        the upload holds; UploadNotFoundException when there is no such upload.
        """

    @abc.abstractmethod
    def complete_upload(self, upload_id: str, expected_digest: str,
                        hash_state: Optional[str] = None) -> StoredBlob:
        """Check the upload's digest and store its bytes as that blob; end the session.

        ``hash_state`` (from ``ResumableSHA256.to_state``) covers a prefix of the
        upload; only the bytes after it are read. It is trusted: a state saved for
        other bytes yields another digest and so a mismatch. With None, every byte
        is hashed. A mismatch raises BlobDigestMismatchException and keeps the
        upload as it was; completing to a blob that exists already succeeds.
        """

    @abc.abstractmethod
    def cancel_upload(self, upload_id: str) -> None:
        """Discard the upload's bytes and end the session; UploadNotFoundException if none."""

