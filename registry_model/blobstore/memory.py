"""Blobs in a dictionary, for tests: fast, isolated per instance, gone with the process.

::

    store = InMemoryBlobStore()
    digest, size = store.put(b"{}")
    assert store.read(digest) == b"{}"

It keeps the :class:`~registry_model.blobstore.base.BlobStore` contract exactly,
including its errors, so code tested against it behaves the same on disk. It is
safe to share between threads (one lock guards every operation), not between
processes.
"""
import hashlib
import io
import logging
import threading
import time
from typing import BinaryIO, Callable, Dict, Iterator, Optional, Tuple

from registry_model.blobstore.base import (
    BlobDigestMismatchException,
    BlobNotFoundException,
    BlobSource,
    BlobStore,
    InvalidHashStateException,
    StoredBlob,
    UploadExistsException,
    UploadNotFoundException,
    UploadOffsetException,
    check_blob_digest,
    check_offset_type,
    check_upload_id,
    is_blob_digest,
    iter_chunks,
)
from registry_model.blobstore.hashing import ResumableSHA256, resume_sha256

logger = logging.getLogger(__name__)


class InMemoryBlobStore(BlobStore):
    """A :class:`BlobStore` holding blobs and uploads in memory.

    ``clock`` stamps :meth:`last_modified`; tests of a sweep's grace period can
    pass a fake one instead of waiting.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        """Start empty."""
        self._clock = clock
        self._lock = threading.RLock()
        self._blobs: Dict[str, Tuple[bytes, float]] = {}
        self._uploads: Dict[str, bytearray] = {}

    def __repr__(self) -> str:
        return "InMemoryBlobStore(<%d blobs>)" % len(self._blobs)

    # -- blobs --------------------------------------------------------------

    def exists(self, digest: str) -> bool:
        """True when a blob is stored under ``digest``; False also for a malformed digest."""
        with self._lock:
            return is_blob_digest(digest) and digest in self._blobs

    def size(self, digest: str) -> int:
        """The blob's size in bytes; BlobNotFoundException when absent."""
        return len(self._get(digest)[0])

    def last_modified(self, digest: str) -> float:
        """When the blob was last stored, in seconds since the epoch."""
        return self._get(digest)[1]

    def open(self, digest: str) -> BinaryIO:
        """A BytesIO over the blob's bytes."""
        return io.BytesIO(self._get(digest)[0])

    def read(self, digest: str) -> bytes:
        """The whole blob as bytes."""
        return self._get(digest)[0]

    def put(self, data: BlobSource) -> StoredBlob:
        """Hash ``data`` chunk by chunk, then store it (replacing identical bytes)."""
        hasher = hashlib.sha256()
        chunks = []
        for chunk in iter_chunks(data):
            hasher.update(chunk)
            chunks.append(chunk)
        content = b"".join(chunks)
        blob = StoredBlob("sha256:" + hasher.hexdigest(), len(content))
        with self._lock:
            self._blobs[blob.digest] = (content, self._clock())
        logger.debug("stored blob %s (%d bytes)", blob.digest, blob.size)
        return blob

    def remove(self, digest: str) -> None:
        """Delete the blob; BlobNotFoundException when absent."""
        check_blob_digest(digest)
        with self._lock:
            if self._blobs.pop(digest, None) is None:
                raise BlobNotFoundException("no blob %s" % digest)

    def list_digests(self) -> Iterator[str]:
        """Yield the digest of every stored blob, sorted (a snapshot taken at the call)."""
        with self._lock:
            return iter(sorted(self._blobs))

    def _get(self, digest: str) -> Tuple[bytes, float]:
        check_blob_digest(digest)
        with self._lock:
            try:
                return self._blobs[digest]
            except KeyError:
                raise BlobNotFoundException("no blob %s" % digest) from None

    # -- uploads ------------------------------------------------------------

    def initiate_upload(self, upload_id: str) -> None:
        """Start an empty upload session; UploadExistsException if the id is taken."""
        upload_id = check_upload_id(upload_id)
        with self._lock:
            if upload_id in self._uploads:
                raise UploadExistsException("upload %s exists already" % upload_id)
            self._uploads[upload_id] = bytearray()

    def write_chunk(self, upload_id: str, offset: int, data: BlobSource,
                    hasher: Optional[ResumableSHA256] = None) -> int:
        """Append ``data`` at ``offset``; the whole chunk or nothing."""
        check_offset_type(offset)
        with self._lock:
            upload = self._upload(upload_id)
            if offset != len(upload):
                raise UploadOffsetException(upload_id, offset, len(upload))
            if hasher is not None and hasher.length != offset:
                raise InvalidHashStateException("hasher covers %d bytes, chunk starts at %d"
                                                % (hasher.length, offset))
            work = hasher.copy() if hasher is not None else None
            chunks = []
            for chunk in iter_chunks(data):
                chunks.append(chunk)
                if work is not None:
                    work.update(chunk)
            upload.extend(b"".join(chunks))
            if hasher is not None:
                hasher.load_state(work.to_state())
            return len(upload)

    def upload_length(self, upload_id: str) -> int:
        """The number of bytes written to the upload so far."""
        with self._lock:
            return len(self._upload(upload_id))

    def upload_hasher(self, upload_id: str,
                      hash_state: Optional[str] = None) -> ResumableSHA256:
        """``hash_state`` fed the upload's bytes after it."""
        with self._lock:
            return _hash_rest(self._upload(upload_id), hash_state)

    def complete_upload(self, upload_id: str, expected_digest: str,
                        hash_state: Optional[str] = None) -> StoredBlob:
        """Check the digest and move the upload's bytes to the blobs."""
        check_blob_digest(expected_digest)
        with self._lock:
            upload = self._upload(upload_id)
            actual = _hash_rest(upload, hash_state).digest_str()
            if actual != expected_digest:
                raise BlobDigestMismatchException(expected_digest, actual)
            self._blobs[actual] = (bytes(upload), self._clock())
            del self._uploads[check_upload_id(upload_id)]
        return StoredBlob(actual, len(upload))

    def cancel_upload(self, upload_id: str) -> None:
        """Discard the upload's bytes; UploadNotFoundException if there is none."""
        with self._lock:
            self._upload(upload_id)
            del self._uploads[check_upload_id(upload_id)]

    def _upload(self, upload_id: str) -> bytearray:
        try:
            return self._uploads[check_upload_id(upload_id)]
        except KeyError:
            raise UploadNotFoundException("no upload %s" % upload_id) from None


def _hash_rest(upload: bytearray, hash_state: Optional[str]) -> ResumableSHA256:
    """``hash_state`` resumed and fed the upload's bytes after it."""
    hasher = resume_sha256(hash_state, len(upload))
    hasher.update(bytes(upload[hasher.length:]))
    return hasher
