"""Blobs as objects in an S3 bucket (AWS S3, Ceph's RADOS Gateway, ...), shared by any number
of registry processes on any number of machines.

::

    store = S3BlobStore("blobs", prefix="registry", endpoint_url="http://127.0.0.1:7480")
    digest, size = store.put(open("layer.tar.gz", "rb"))

Credentials come from boto3's usual sources (``AWS_ACCESS_KEY_ID`` and
``AWS_SECRET_ACCESS_KEY``, ``~/.aws/credentials``, ...), never from the storage URI. The
constructor asks for the bucket once, so a missing bucket, wrong credentials or an endpoint
that does not answer fail there with one clear exception.

Keys under the prefix::

    blobs/sha256/ab/abcdef...      a blob, named by the hex of its digest
    uploads/<uuid>/state           an upload session: JSON, see _UploadState
    uploads/<uuid>/tail-<random>   the upload's bytes not yet in a multipart part
    uploads/<uuid>/data            the assembled upload, copied to its blob key, then removed
    tmp/<random>                   a large put() being assembled

A blob appears whole or not at all: a small one is one PUT under its digest, a larger one
a multipart upload under ``tmp/`` or ``uploads/`` that is copied (server side) to its
digest key only once its digest is known and checked. An upload session maps onto an S3
multipart upload: chunks are cut into parts of ``part_size`` bytes and the rest waits in a
tail object, since S3 refuses parts under 5 MiB but the last. The state object keeps the
multipart upload id, the parts and their ETags, the length and the running SHA-256
(:mod:`~registry_model.blobstore.hashing`), so any process can write the next chunk; it is
replaced with ``If-Match`` on its ETag, so of two writers at one offset one wins and the
other gets UploadOffsetException.
"""
import io
import json
import logging
import uuid
from typing import BinaryIO, Iterable, Iterator, List, Optional, Tuple

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from registry_model.blobstore.base import (
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
from registry_model.blobstore.errors import (
    BlobStoreRequestException,
    BlobStoreUnavailableException,
    StorageConfigurationException,
    translated,
)
from registry_model.blobstore.hashing import ResumableSHA256, resume_sha256

logger = logging.getLogger(__name__)

# S3's smallest part but the last is 5 MiB; larger parts mean fewer requests.
DEFAULT_PART_SIZE = 8 * 1024 * 1024
# CopyObject copies at most 5 GiB in one request; above that boto3's managed copy splits it.
MAX_SINGLE_COPY = 5 * 1024 ** 3
# Failed requests (a gateway restarting, a dropped connection) are retried this often.
MAX_ATTEMPTS = 4
DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys

_HEX = frozenset("0123456789abcdef")


def make_client(endpoint_url: Optional[str] = None, region: Optional[str] = None):
    """A boto3 S3 client with bounded retries and timeouts, path-style addressing."""
    config = Config(retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
                    connect_timeout=5, read_timeout=60,
                    s3={"addressing_style": "path"})
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, region_name=region,
                                          config=config)


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def _is_missing(error: ClientError) -> bool:
    return _status(error) == 404 or _code(error) in ("NoSuchKey", "404", "NotFound")


class _Keys:
    """The key scheme: every key the store touches is built here from validated names."""

    def __init__(self, prefix: str) -> None:
        prefix = prefix.strip("/")
        self.root = prefix + "/" if prefix else ""
        self.blobs = self.root + "blobs/%s/" % SUPPORTED_ALGORITHM

    def blob(self, digest: str) -> str:
        hex_digest = check_blob_digest(digest)
        return "%s%s/%s" % (self.blobs, hex_digest[:2], hex_digest)

    def digest_of(self, key: str) -> Optional[str]:
        rest = key[len(self.blobs):]
        fan, _, name = rest.partition("/")
        digest = "%s:%s" % (SUPPORTED_ALGORITHM, name)
        if len(fan) == 2 and _HEX.issuperset(fan) and name.startswith(fan) \
                and is_blob_digest(digest):
            return digest
        return None

    def upload(self, upload_id: str, name: str) -> str:
        return "%suploads/%s/%s" % (self.root, check_upload_id(upload_id), name)

    def temp(self) -> str:
        return "%stmp/%s" % (self.root, uuid.uuid4().hex)


class S3BlobStore(BlobStore):
    """A :class:`BlobStore` on an S3 bucket, under ``prefix``.

    ``client`` is a boto3 S3 client (default: :func:`make_client` for ``endpoint_url``).
    ``part_size`` (at least 5 MiB) is the size of each multipart part.
    """

    def __init__(self, bucket: str, prefix: str = "", endpoint_url: Optional[str] = None,
                 client=None, part_size: int = DEFAULT_PART_SIZE,
                 region: Optional[str] = None) -> None:
        """Use the bucket; StorageConfigurationException if it is missing or refused."""
        if part_size < 5 * 1024 * 1024:
            raise ValueError("part_size must be at least 5 MiB")
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self._keys = _Keys(prefix)
        self._part_size = part_size
        self._client = client if client is not None else make_client(endpoint_url, region)
        self._check_bucket()

    def __repr__(self) -> str:
        return "S3BlobStore(%r, prefix=%r)" % (self.bucket, self._keys.root)

    def _where(self) -> str:
        return "bucket %r at %s" % (self.bucket, self.endpoint_url or "the default endpoint")

    def _check_bucket(self) -> None:
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            status = _status(exc)
            if status == 404:
                raise StorageConfigurationException("no %s" % self._where()) from None
            if status in (401, 403):
                raise StorageConfigurationException(
                    "access to %s denied: check the AWS credentials" % self._where()) from None
            raise StorageConfigurationException("%s: %s" % (self._where(), _code(exc))) from None
        except BotoCoreError as exc:
            raise BlobStoreUnavailableException("%s: %s" % (self._where(), exc)) from None

    # -- blobs --------------------------------------------------------------

    def _head(self, digest: str) -> dict:
        key = self._keys.blob(digest)
        with translated(self._where()):
            try:
                return self._client.head_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if _is_missing(exc):
                    raise BlobNotFoundException("no blob %s" % digest) from None
                raise

    def exists(self, digest: str) -> bool:
        """True when a blob is stored under ``digest``; False also for a malformed digest."""
        if not is_blob_digest(digest):
            return False
        try:
            self._head(digest)
        except BlobNotFoundException:
            return False
        return True

    def size(self, digest: str) -> int:
        """The blob's size in bytes; BlobNotFoundException when absent."""
        return int(self._head(digest)["ContentLength"])

    def last_modified(self, digest: str) -> float:
        """When the blob was last stored (the object's Last-Modified), in epoch seconds."""
        return self._head(digest)["LastModified"].timestamp()

    def open(self, digest: str) -> BinaryIO:
        """A seekable file object streaming the blob; a seek re-reads from that offset."""
        key = self._keys.blob(digest)
        with translated(self._where()):
            try:
                response = self._client.get_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if _is_missing(exc):
                    raise BlobNotFoundException("no blob %s" % digest) from None
                raise
        # Unbuffered on purpose: a failed read then has delivered nothing, so tell() is
        # exactly what the caller received and a read after a failure resumes there.
        return _ObjectReader(self, key, response)

    def put(self, data: BlobSource) -> StoredBlob:
        """Store ``data``: one PUT when it fits a part, else a multipart upload then a copy."""
        hasher = ResumableSHA256()
        buffer = bytearray()
        chunks = iter_chunks(data)
        for chunk in chunks:
            buffer += chunk
            hasher.update(chunk)
            if len(buffer) >= self._part_size:
                return self._put_large(buffer, chunks, hasher)
        blob = StoredBlob(hasher.digest_str(), hasher.length)
        with translated(self._where()):
            self._client.put_object(Bucket=self.bucket, Key=self._keys.blob(blob.digest),
                                    Body=bytes(buffer))
        logger.debug("stored blob %s (%d bytes)", blob.digest, blob.size)
        return blob

    def _put_large(self, buffer: bytearray, chunks: Iterator[bytes],
                   hasher: ResumableSHA256) -> StoredBlob:
        temp = self._keys.temp()
        with translated(self._where()):
            multipart = self._client.create_multipart_upload(Bucket=self.bucket, Key=temp)
        upload_id = multipart["UploadId"]
        try:
            parts = []
            for chunk in chunks:
                buffer += chunk
                hasher.update(chunk)
                while len(buffer) >= self._part_size:
                    parts.append(self._upload_part(temp, upload_id, len(parts) + 1,
                                                   bytes(buffer[:self._part_size])))
                    del buffer[:self._part_size]
            if buffer or not parts:
                parts.append(self._upload_part(temp, upload_id, len(parts) + 1, bytes(buffer)))
            self._complete_multipart(temp, upload_id, parts)
        except BaseException:
            self._abort_quietly(temp, upload_id)
            raise
        blob = StoredBlob(hasher.digest_str(), hasher.length)
        try:
            self._copy(temp, self._keys.blob(blob.digest), blob.size)
        finally:
            self._delete_quietly([temp])
        logger.debug("stored blob %s (%d bytes, multipart)", blob.digest, blob.size)
        return blob

    def remove(self, digest: str) -> None:
        """Delete the blob; BlobNotFoundException when absent."""
        self._head(digest)
        with translated(self._where()):
            self._client.delete_object(Bucket=self.bucket, Key=self._keys.blob(digest))
        logger.debug("removed blob %s", digest)

    def remove_many(self, digests: Iterable[str]) -> None:
        """Delete the blobs, up to 1000 per request; absent ones are no error."""
        keys = [self._keys.blob(digest) for digest in digests]
        for start in range(0, len(keys), DELETE_BATCH):
            with translated(self._where()):
                answer = self._client.delete_objects(Bucket=self.bucket, Delete={
                    "Objects": [{"Key": key} for key in keys[start:start + DELETE_BATCH]],
                    "Quiet": True})
            if answer.get("Errors"):
                raise BlobStoreUnavailableException("could not delete %d blobs from %s: %s"
                                                    % (len(answer["Errors"]), self._where(),
                                                       answer["Errors"][0].get("Code")))

    def list_digests(self) -> Iterator[str]:
        """Yield the digest of every stored blob, sorted (S3 lists keys in order), page by page."""
        for digest, _, _ in self.list_blobs():
            yield digest

    def list_blobs(self) -> Iterator[Tuple[str, int, float]]:
        """Yield ``(digest, size, last_modified)`` of every blob, sorted, 1000 per request."""
        paginator = self._client.get_paginator("list_objects_v2")
        with translated(self._where()):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._keys.blobs):
                for item in page.get("Contents", ()):
                    digest = self._keys.digest_of(item["Key"])
                    if digest is not None:
                        yield digest, int(item["Size"]), item["LastModified"].timestamp()

    # -- S3 helpers -----------------------------------------------------------

    def _upload_part(self, key: str, upload_id: str, number: int, body: bytes) -> list:
        with translated(self._where()):
            answer = self._client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                              PartNumber=number, Body=body)
        return [number, answer["ETag"], len(body)]

    def _complete_multipart(self, key: str, upload_id: str, parts: list) -> None:
        with translated(self._where()):
            self._client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": number, "ETag": etag}
                                           for number, etag, _ in parts]})

    def _copy(self, source: str, target: str, size: int) -> None:
        with translated(self._where()):
            if size <= MAX_SINGLE_COPY:
                self._client.copy_object(Bucket=self.bucket, Key=target,
                                         CopySource={"Bucket": self.bucket, "Key": source})
            else:
                self._client.copy({"Bucket": self.bucket, "Key": source}, self.bucket, target)

    def _abort_quietly(self, key: str, upload_id: str) -> None:
        try:
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except (ClientError, BotoCoreError):
            logger.warning("could not abort multipart upload %s of %s", upload_id, key)

    def _delete_quietly(self, keys: List[str]) -> None:
        for key in keys:
            try:
                self._client.delete_object(Bucket=self.bucket, Key=key)
            except (ClientError, BotoCoreError):
                logger.warning("could not delete %s; it stays as garbage", key)

    def _read_object(self, key: str, start: int = 0) -> bytes:
        with translated(self._where()):
            extra = {"Range": "bytes=%d-" % start} if start else {}
            return self._client.get_object(Bucket=self.bucket, Key=key, **extra)["Body"].read()

    def _get_range(self, key: str, start: int):
        with translated(self._where()):
            return self._client.get_object(Bucket=self.bucket, Key=key,
                                           Range="bytes=%d-" % start)["Body"]

    # -- uploads ------------------------------------------------------------

    def initiate_upload(self, upload_id: str) -> None:
        """Create the upload's state object; UploadExistsException if the id is taken."""
        key = self._keys.upload(upload_id, "state")
        with translated(self._where()):
            try:
                self._client.put_object(Bucket=self.bucket, Key=key, IfNoneMatch="*",
                                        Body=_UploadState.new().dump())
            except ClientError as exc:
                if _status(exc) in (409, 412):
                    raise UploadExistsException("upload %s exists already" % upload_id) from None
                raise

    def _load_upload(self, upload_id: str) -> Tuple["_UploadState", str]:
        key = self._keys.upload(upload_id, "state")
        with translated(self._where()):
            try:
                answer = self._client.get_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if _is_missing(exc):
                    raise UploadNotFoundException("no upload %s" % upload_id) from None
                raise
            return _UploadState.load(answer["Body"].read()), answer["ETag"]

    def _save_upload(self, upload_id: str, state: "_UploadState", etag: str,
                     offset: int) -> None:
        key = self._keys.upload(upload_id, "state")
        # Ceph 16's gateway compares If-Match without the quotes AWS puts around an ETag.
        for spelling in (etag, etag.strip('"')):
            with translated(self._where()):
                try:
                    self._client.put_object(Bucket=self.bucket, Key=key, IfMatch=spelling,
                                            Body=state.dump())
                    return
                except ClientError as exc:
                    if _status(exc) not in (404, 409, 412):
                        raise
        # Another writer replaced the state first (or the upload ended): this chunk lost.
        current = self._load_upload(upload_id)[0].length
        raise UploadOffsetException(upload_id, offset, current)

    def upload_length(self, upload_id: str) -> int:
        """The number of bytes written to the upload so far."""
        return self._load_upload(upload_id)[0].length

    def write_chunk(self, upload_id: str, offset: int, data: BlobSource,
                    hasher: Optional[ResumableSHA256] = None) -> int:
        """Append ``data``: full parts go to the multipart upload, the rest to a new tail."""
        check_offset_type(offset)
        state, etag = self._load_upload(upload_id)
        if offset != state.length:
            raise UploadOffsetException(upload_id, offset, state.length)
        if hasher is not None and hasher.length != offset:
            raise InvalidHashStateException("hasher covers %d bytes, chunk starts at %d"
                                            % (hasher.length, offset))
        saved = hasher.to_state() if hasher is not None else None
        writer = _ChunkWriter(self, upload_id, state)
        try:
            for chunk in iter_chunks(data):
                writer.append(chunk)
                if hasher is not None:
                    hasher.update(chunk)
            new_state = writer.finish()
            self._save_upload(upload_id, new_state, etag, offset)
        except BaseException:
            if hasher is not None:
                hasher.load_state(saved)
            writer.roll_back()
            raise
        if state.tail and state.tail != new_state.tail:
            self._delete_quietly([state.tail])
        return new_state.length

    def complete_upload(self, upload_id: str, expected_digest: str,
                        hash_state: Optional[str] = None) -> StoredBlob:
        """Check the digest, assemble the parts and the tail, copy them under the digest.

        ``hash_state`` must reach at least the start of the upload's tail (the bytes not
        in a part yet): the parts of an unfinished multipart upload cannot be read back.
        The full state the callers save always does; None uses the store's own state.
        """
        check_blob_digest(expected_digest)
        state, _ = self._load_upload(upload_id)
        if hash_state is None:
            hasher = ResumableSHA256.from_state(state.hash)
        else:
            hasher = resume_sha256(hash_state, state.length)
        if hasher.length < state.length:
            tail_start = state.length - state.tail_size
            if hasher.length < tail_start:
                raise InvalidHashStateException(
                    "hash state covers %d bytes; on S3 it must reach the unsent tail at %d"
                    % (hasher.length, tail_start))
            hasher.update(self._read_object(state.tail, hasher.length - tail_start))
        actual = hasher.digest_str()
        if actual != expected_digest:
            raise BlobDigestMismatchException(expected_digest, actual)
        target = self._keys.blob(actual)
        if not state.parts:
            if state.tail:
                self._copy(state.tail, target, state.tail_size)
            else:
                with translated(self._where()):
                    self._client.put_object(Bucket=self.bucket, Key=target, Body=b"")
        else:
            assembled = self._keys.upload(upload_id, "data")
            self._assemble(upload_id, state, assembled)
            self._copy(assembled, target, state.length)
            self._delete_quietly([assembled])
        self._end_upload(upload_id, state)
        logger.debug("completed upload %s as %s (%d bytes)", upload_id, actual, state.length)
        return StoredBlob(actual, state.length)

    def _assemble(self, upload_id: str, state: "_UploadState", key: str) -> None:
        parts = list(state.parts)
        try:
            if state.tail:
                parts.append(self._upload_part(key, state.multipart, len(parts) + 1,
                                               self._read_object(state.tail)))
            self._complete_multipart(key, state.multipart, parts)
        except BlobStoreRequestException as exc:
            # Completed by an earlier try whose copy failed: the object is there already.
            if exc.code != "NoSuchUpload":
                raise
            with translated(self._where()):
                self._client.head_object(Bucket=self.bucket, Key=key)

    def cancel_upload(self, upload_id: str) -> None:
        """Abort the multipart upload and delete the tail and the state."""
        state, _ = self._load_upload(upload_id)
        if state.multipart:
            self._abort_quietly(self._keys.upload(upload_id, "data"), state.multipart)
        self._end_upload(upload_id, state)

    def _end_upload(self, upload_id: str, state: "_UploadState") -> None:
        self._delete_quietly([key for key in (state.tail, self._keys.upload(upload_id, "state"))
                              if key])


class _UploadState:
    """An upload session as kept in its state object (JSON)."""

    def __init__(self, length: int, hash_state: str, multipart: Optional[str], parts: list,
                 tail: Optional[str], tail_size: int) -> None:
        self.length = length
        self.hash = hash_state
        self.multipart = multipart
        self.parts = parts
        self.tail = tail
        self.tail_size = tail_size

    @classmethod
    def new(cls) -> "_UploadState":
        return cls(0, ResumableSHA256().to_state(), None, [], None, 0)

    @classmethod
    def load(cls, raw: bytes) -> "_UploadState":
        fields = json.loads(raw)
        return cls(fields["length"], fields["hash"], fields["multipart"], fields["parts"],
                   fields["tail"], fields["tail_size"])

    def dump(self) -> bytes:
        return json.dumps({"length": self.length, "hash": self.hash,
                           "multipart": self.multipart, "parts": self.parts,
                           "tail": self.tail, "tail_size": self.tail_size}).encode()


class _ChunkWriter:
    """One chunk of an upload: full parts uploaded as they fill, the rest a new tail object."""

    def __init__(self, store: S3BlobStore, upload_id: str, state: _UploadState) -> None:
        self._store = store
        self._upload_id = upload_id
        self._state = state
        self._hasher = ResumableSHA256.from_state(state.hash)
        self._parts = list(state.parts)
        self._multipart = state.multipart
        self._created_multipart = False
        self._new_tail: Optional[str] = None
        self._buffer = bytearray(store._read_object(state.tail) if state.tail else b"")
        self._added = 0

    def append(self, chunk: bytes) -> None:
        self._buffer += chunk
        self._hasher.update(chunk)
        self._added += len(chunk)
        size = self._store._part_size
        while len(self._buffer) >= size:
            self._send_part(bytes(self._buffer[:size]))
            del self._buffer[:size]

    def _send_part(self, body: bytes) -> None:
        store = self._store
        key = store._keys.upload(self._upload_id, "data")
        if self._multipart is None:
            with translated(store._where()):
                answer = store._client.create_multipart_upload(Bucket=store.bucket, Key=key)
            self._multipart = answer["UploadId"]
            self._created_multipart = True
        self._parts.append(store._upload_part(key, self._multipart, len(self._parts) + 1, body))

    def finish(self) -> _UploadState:
        state = self._state
        if self._added == 0:
            return state
        tail = None
        if self._buffer:
            tail = self._store._keys.upload(self._upload_id, "tail-" + uuid.uuid4().hex)
            with translated(self._store._where()):
                self._store._client.put_object(Bucket=self._store.bucket, Key=tail,
                                               Body=bytes(self._buffer))
            self._new_tail = tail
        return _UploadState(state.length + self._added, self._hasher.to_state(),
                            self._multipart, self._parts, tail, len(self._buffer))

    def roll_back(self) -> None:
        """Undo what this chunk wrote; parts of an older multipart upload are overwritten later."""
        if self._new_tail:
            self._store._delete_quietly([self._new_tail])
        if self._created_multipart:
            self._store._abort_quietly(self._store._keys.upload(self._upload_id, "data"),
                                       self._multipart)


class _ObjectReader(io.RawIOBase):
    """A seekable raw reader over one object: reads stream, a seek starts a ranged GET."""

    def __init__(self, store: S3BlobStore, key: str, response: dict) -> None:
        self._store = store
        self._key = key
        self._size = int(response["ContentLength"])
        self._body = response["Body"]
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        position = max(0, base + offset)
        if position != self._position:
            self._drop_body()
            self._position = position
        return position

    def readinto(self, buffer) -> int:
        if self._position >= self._size or len(buffer) == 0:
            return 0
        if self._body is None:
            self._body = self._store._get_range(self._key, self._position)
        try:
            with translated(self._store._where()):
                data = self._body.read(len(buffer))
        except BlobStoreUnavailableException:
            # The next read starts a new ranged GET here, e.g. once the store is back.
            self._drop_body()
            raise
        if not data:
            self._drop_body()
            raise BlobStoreUnavailableException("object %s ended at %d of %d bytes"
                                                % (self._key, self._position, self._size))
        buffer[:len(data)] = data
        self._position += len(data)
        return len(data)

    def _drop_body(self) -> None:
        if self._body is not None:
            try:
                self._body.close()
            except Exception:  # noqa: BLE001 - a broken connection is dropped all the same
                pass
            self._body = None

    def close(self) -> None:
        self._drop_body()
        super().close()
