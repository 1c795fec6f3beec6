"""Blobs as files under one root folder, shared safely by several processes.

::

    store = FilesystemBlobStore("/var/lib/registry")
    digest, size = store.put(open("layer.tar.gz", "rb"))
    with store.open(digest) as blob:
        shutil.copyfileobj(blob, response)

Layout (decided by :class:`_Layout` and nowhere else)::

    root/blobs/sha256/ab/abcdef...   a blob, named by the hex of its digest
    root/uploads/<uuid>              the bytes of an upload session so far
    root/tmp/<random>                a put() in progress

Blobs are written to ``tmp/`` and renamed into place, so a reader sees a blob
whole or not at all; ``tmp/`` and ``uploads/`` sit under the same root so the
rename never crosses file systems. Upload sessions are serialised across
processes with ``flock`` on the upload's file: a chunk checks the length and
appends under the lock, so two workers cannot both write at one offset.
Files left in ``tmp/`` by a crash are never read; delete them at leisure.
POSIX only (``fcntl``).
"""
import contextlib
import fcntl
import hashlib
import logging
import os
import uuid
from typing import BinaryIO, Iterator, Optional, Union

from registry_model.blobstore.base import (
    CHUNK_SIZE,
    SUPPORTED_ALGORITHM,
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

_HEX = frozenset("0123456789abcdef")


class _Layout:
    """The path scheme: every path the store touches is built here from validated names."""

    def __init__(self, root: Union[str, os.PathLike]) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self.blobs = os.path.join(self.root, "blobs", SUPPORTED_ALGORITHM)
        self.uploads = os.path.join(self.root, "uploads")
        self.tmp = os.path.join(self.root, "tmp")

    def blob_dir(self, hex_digest: str) -> str:
        # Two-character fan-out keeps any one directory to 1/256th of the blobs.
        return os.path.join(self.blobs, hex_digest[:2])

    def blob_path(self, digest: str) -> str:
        hex_digest = check_blob_digest(digest)
        return os.path.join(self.blob_dir(hex_digest), hex_digest)

    def upload_path(self, upload_id: str) -> str:
        return os.path.join(self.uploads, check_upload_id(upload_id))

    def temp_path(self) -> str:
        return os.path.join(self.tmp, uuid.uuid4().hex)

    def iter_digests(self) -> Iterator[str]:
        for prefix in _sorted_listing(self.blobs):
            if len(prefix) != 2 or not _HEX.issuperset(prefix):
                continue
            for name in _sorted_listing(os.path.join(self.blobs, prefix)):
                digest = "%s:%s" % (SUPPORTED_ALGORITHM, name)
                if name.startswith(prefix) and is_blob_digest(digest):
                    yield digest


def _hash_rest(upload: BinaryIO, hash_state: Optional[str]) -> ResumableSHA256:
    """``hash_state`` resumed and fed the upload's bytes after it, to the file's end."""
    hasher = resume_sha256(hash_state, os.fstat(upload.fileno()).st_size)
    upload.seek(hasher.length)
    for chunk in iter(lambda: upload.read(CHUNK_SIZE), b""):
        hasher.update(chunk)
    return hasher


def _sorted_listing(path: str) -> list:
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []


class FilesystemBlobStore(BlobStore):
    """A :class:`BlobStore` on a local or shared POSIX file system under ``root``.

    ``fsync`` (default True) flushes every blob and chunk to disk before it is
    acknowledged; turn it off only for throw-away stores such as tests.
    """

    def __init__(self, root: Union[str, os.PathLike], fsync: bool = True) -> None:
        """Use (and create if needed) the store under ``root``."""
        self._layout = _Layout(root)
        self._fsync = fsync
        for path in (self._layout.blobs, self._layout.uploads, self._layout.tmp):
            os.makedirs(path, exist_ok=True)

    @property
    def root(self) -> str:
        """The absolute path of the store's root folder."""
        return self._layout.root

    def __repr__(self) -> str:
        return "FilesystemBlobStore(%r)" % self._layout.root

    # -- blobs --------------------------------------------------------------

    def exists(self, digest: str) -> bool:
        """True when a blob is stored under ``digest``; False also for a malformed digest."""
        return is_blob_digest(digest) and os.path.isfile(self._layout.blob_path(digest))

    def size(self, digest: str) -> int:
        """The blob's size in bytes; BlobNotFoundException when absent."""
        return self._stat(digest).st_size

    def last_modified(self, digest: str) -> float:
        """When the blob was last stored, in seconds since the epoch."""
        return self._stat(digest).st_mtime

    def open(self, digest: str) -> BinaryIO:
        """A buffered binary file reading the blob; it stays readable if the blob is removed."""
        path = self._layout.blob_path(digest)
        try:
            return open(path, "rb")
        except FileNotFoundError:
            raise BlobNotFoundException("no blob %s" % digest) from None

    def put(self, data: BlobSource) -> StoredBlob:
        """Stream ``data`` to a temporary file, hashing it, then rename it into place."""
        temp = self._layout.temp_path()
        hasher = hashlib.sha256()
        size = 0
        try:
            with open(temp, "xb") as out:
                for chunk in iter_chunks(data):
                    hasher.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                self._flush(out)
            blob = StoredBlob("sha256:" + hasher.hexdigest(), size)
            self._move_into_place(temp, blob.digest)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.remove(temp)
            raise
        logger.debug("stored blob %s (%d bytes)", blob.digest, blob.size)
        return blob

    def remove(self, digest: str) -> None:
        """Delete the blob; BlobNotFoundException when absent."""
        try:
            os.remove(self._layout.blob_path(digest))
        except FileNotFoundError:
            raise BlobNotFoundException("no blob %s" % digest) from None
        logger.debug("removed blob %s", digest)

    def list_digests(self) -> Iterator[str]:
        """Yield the digest of every stored blob, sorted; stray files are skipped."""
        return self._layout.iter_digests()

    def _stat(self, digest: str) -> os.stat_result:
        try:
            return os.stat(self._layout.blob_path(digest))
        except FileNotFoundError:
            raise BlobNotFoundException("no blob %s" % digest) from None

    def _move_into_place(self, source: str, digest: str) -> None:
        target = self._layout.blob_path(digest)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        # replace() is atomic and, when the blob exists, swaps in identical
        # bytes with a fresh mtime: concurrent puts of one blob all succeed.
        os.replace(source, target)

    def _flush(self, out: BinaryIO) -> None:
        out.flush()
        if self._fsync:
            os.fsync(out.fileno())

    # -- uploads ------------------------------------------------------------

    def initiate_upload(self, upload_id: str) -> None:
        """Create the empty upload file; UploadExistsException if the id is taken."""
        path = self._layout.upload_path(upload_id)
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        except FileExistsError:
            raise UploadExistsException("upload %s exists already" % upload_id) from None

    def write_chunk(self, upload_id: str, offset: int, data: BlobSource,
                    hasher: Optional[ResumableSHA256] = None) -> int:
        """Append ``data`` at ``offset`` under the upload's lock; return the new length."""
        check_offset_type(offset)
        with self._locked_upload(upload_id, "r+b", fcntl.LOCK_EX) as upload:
            length = os.fstat(upload.fileno()).st_size
            if offset != length:
                raise UploadOffsetException(upload_id, offset, length)
            if hasher is not None and hasher.length != offset:
                raise InvalidHashStateException("hasher covers %d bytes, chunk starts at %d"
                                                % (hasher.length, offset))
            saved_state = hasher.to_state() if hasher is not None else None
            upload.seek(length)
            try:
                for chunk in iter_chunks(data):
                    upload.write(chunk)
                    if hasher is not None:
                        hasher.update(chunk)
                self._flush(upload)
            except BaseException:
                upload.seek(length)
                upload.truncate(length)
                if hasher is not None:
                    hasher.load_state(saved_state)
                raise
            return upload.tell()

    def upload_length(self, upload_id: str) -> int:
        """The bytes written so far; waits for a chunk being written to finish."""
        with self._locked_upload(upload_id, "rb", fcntl.LOCK_SH) as upload:
            return os.fstat(upload.fileno()).st_size

    def upload_hasher(self, upload_id: str,
                      hash_state: Optional[str] = None) -> ResumableSHA256:
        """``hash_state`` fed the bytes after it, read under the lock a writer takes."""
        with self._locked_upload(upload_id, "rb", fcntl.LOCK_SH) as upload:
            return _hash_rest(upload, hash_state)

    def complete_upload(self, upload_id: str, expected_digest: str,
                        hash_state: Optional[str] = None) -> StoredBlob:
        """Hash what the state does not cover, compare, and rename the upload into place."""
        check_blob_digest(expected_digest)
        with self._locked_upload(upload_id, "rb", fcntl.LOCK_EX) as upload:
            hasher = _hash_rest(upload, hash_state)
            length = hasher.length
            actual = hasher.digest_str()
            if actual != expected_digest:
                raise BlobDigestMismatchException(expected_digest, actual)
            # Renamed while locked: a writer waiting for the lock then finds the
            # path gone (see _locked_upload) instead of appending to the blob.
            self._move_into_place(upload.name, expected_digest)
        logger.debug("completed upload %s as %s (%d bytes)", upload_id, actual, length)
        return StoredBlob(actual, length)

    def cancel_upload(self, upload_id: str) -> None:
        """Delete the upload file once no chunk is being written to it."""
        with self._locked_upload(upload_id, "rb", fcntl.LOCK_EX) as upload:
            os.remove(upload.name)

    @contextlib.contextmanager
    def _locked_upload(self, upload_id: str, mode: str, lock: int) -> Iterator[BinaryIO]:
        """The upload's file, opened and flock-ed; UploadNotFoundException if there is none.

        After the lock is granted the path must still name the opened file: a
        session completed or cancelled while we waited has moved or removed it.
        """
        path = self._layout.upload_path(upload_id)
        try:
            upload = open(path, mode)
        except FileNotFoundError:
            raise UploadNotFoundException("no upload %s" % upload_id) from None
        with upload:
            fcntl.flock(upload.fileno(), lock)
            opened = os.fstat(upload.fileno())
            try:
                current = os.stat(path)
            except FileNotFoundError:
                current = None
            if current is None or (current.st_dev, current.st_ino) != (opened.st_dev,
                                                                        opened.st_ino):
                raise UploadNotFoundException("upload %s ended while waiting" % upload_id)
            yield upload
