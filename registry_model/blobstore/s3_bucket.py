"""The S3 side of :class:`~registry_model.blobstore.s3.S3BlobStore`: the client, the key
scheme, one method per kind of request, and a seekable reader over one object.

Every request goes through :func:`~registry_model.blobstore.errors.translated`, so callers
see the library's exceptions, never boto3's.
"""
import collections
import io
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator, List, Optional

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from registry_model.blobstore.base import (
    CHUNK_SIZE,
    SUPPORTED_ALGORITHM,
    BlobSource,
    check_blob_digest,
    check_upload_id,
    is_blob_digest,
    iter_chunks,
)
from registry_model.blobstore.errors import (
    BlobStoreUnavailableException,
    StorageConfigurationException,
    error_code,
    http_status,
    translated,
)

logger = logging.getLogger(__name__)

# S3's smallest part but the last is 5 MiB; larger parts mean fewer requests, and each
# request costs the gateway and the client (signing, bookkeeping): 16 MiB put a blob 2-14%
# faster than 8 MiB on Ceph 16 (benchmarks/results/S3.md), for 8 MiB more per part held.
DEFAULT_PART_SIZE = 16 * 1024 * 1024
# CopyObject copies at most 5 GiB in one request; above that boto3's managed copy splits it.
MAX_SINGLE_COPY = 5 * 1024 ** 3
# Failed requests (a gateway restarting, a dropped connection) are retried this often.
MAX_ATTEMPTS = 4
# Parts of one upload sent at once: the gateway writes them in parallel, and memory stays
# bounded at this many parts (plus the one being filled).
PARALLEL_PARTS = 4

_HEX = frozenset("0123456789abcdef")


def make_client(endpoint_url: Optional[str] = None, region: Optional[str] = None):
    """A boto3 S3 client with bounded retries and timeouts, path-style addressing.

    Over plain HTTP the request signature covers the SHA-256 of every body, which the
    gateway checks, so the CRC32 that newer botocore adds to each upload by default
    checks nothing more and is not computed (Ceph 16 ignores it anyway); over HTTPS
    botocore signs no body and the CRC32 stays.
    """
    signed_bodies = bool(endpoint_url) and endpoint_url.lower().startswith("http://")
    # SigV4 named outright: left implicit, botocore presigns URLs with SigV2, which AWS
    # regions opened since 2014 refuse.
    config = Config(retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
                    connect_timeout=5, read_timeout=60, signature_version="s3v4",
                    s3={"addressing_style": "path"},
                    request_checksum_calculation="when_required" if signed_bodies
                    else "when_supported")
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, region_name=region,
                                          config=config)


def is_missing(error: ClientError) -> bool:
    """True when S3 answered that the key (or object) does not exist."""
    return http_status(error) == 404 or error_code(error) in ("NoSuchKey", "404", "NotFound")


class Keys:
    """The key scheme: every key the store touches is built here from validated names."""

    def __init__(self, prefix: str) -> None:
        prefix = prefix.strip("/")
        self.root = prefix + "/" if prefix else ""
        self.blobs = self.root + "blobs/%s/" % SUPPORTED_ALGORITHM

    def blob(self, digest: str) -> str:
        """The key of a blob; InvalidDigestException for a digest the store cannot hold."""
        hex_digest = check_blob_digest(digest)
        return "%s%s/%s" % (self.blobs, hex_digest[:2], hex_digest)

    def digest_of(self, key: str) -> Optional[str]:
        """The digest a listed blob key names, or None for a stray key."""
        rest = key[len(self.blobs):]
        fan, _, name = rest.partition("/")
        digest = "%s:%s" % (SUPPORTED_ALGORITHM, name)
        if len(fan) == 2 and _HEX.issuperset(fan) and name.startswith(fan) \
                and is_blob_digest(digest):
            return digest
        return None

    def upload(self, upload_id: str, name: str) -> str:
        """The key of an upload's object ``name``; InvalidUploadIdException for a bad id."""
        return "%suploads/%s/%s" % (self.root, check_upload_id(upload_id), name)

    def temp(self) -> str:
        """A new key for a large put being assembled."""
        return "%stmp/%s" % (self.root, uuid.uuid4().hex)



class S3Bucket:
    """A bucket under a prefix, as the S3 blob store uses it (arguments: see S3BlobStore)."""

    def __init__(self, bucket: str, prefix: str = "", endpoint_url: Optional[str] = None,
                 client=None, part_size: int = DEFAULT_PART_SIZE,
                 region: Optional[str] = None) -> None:
        """Use the bucket; StorageConfigurationException if it is missing or refused."""
        if part_size < 5 * 1024 * 1024:
            raise ValueError("part_size must be at least 5 MiB")
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self._keys = Keys(prefix)
        self._part_size = part_size
        self._client = client if client is not None else make_client(endpoint_url, region)
        self._check_bucket()

    def _where(self) -> str:
        return "bucket %r at %s" % (self.bucket, self.endpoint_url or "the default endpoint")

    def _check_bucket(self) -> None:
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            status = http_status(exc)
            if status == 404:
                raise StorageConfigurationException("no %s" % self._where()) from None
            if status in (401, 403):
                raise StorageConfigurationException(
                    "access to %s denied: check the AWS credentials" % self._where()) from None
            raise StorageConfigurationException("%s: %s"
                                                % (self._where(), error_code(exc))) from None
        except BotoCoreError as exc:
            raise BlobStoreUnavailableException("%s: %s" % (self._where(), exc)) from None

    def _existing(self, operation: str, key: str, missing: Exception) -> dict:
        """The answer of ``operation`` (``head_object``, ``get_object``) on ``key``.

        Raises ``missing`` when the object is not there; other failures are translated.
        """
        with translated(self._where()):
            try:
                return getattr(self._client, operation)(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if is_missing(exc):
                    raise missing from None
                raise

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

class PartCutter:
    """Cuts a stream of chunks into parts of exactly ``size`` bytes (the rest kept back).

    Each part is one ``join`` of the pieces that make it (one copy; none for a chunk that
    is exactly one part), instead of growing and slicing a buffer, which copies every byte
    three times. Joined parts are bytearrays: botocore sends a bytearray body with one
    ``sendall``, a bytes one through a BytesIO 16 KiB at a time, each block waiting for
    the GIL again while other parts are being sent. ``start`` is bytes kept back earlier
    (an upload's tail).
    """

    def __init__(self, size: int, start: bytes = b"") -> None:
        self._size = size
        self._pieces: list = [start] if start else []
        self.held = len(start)

    def add(self, chunk: bytes) -> list:
        """Take ``chunk``; the parts it completed, in order (bytes-like, never changed)."""
        parts = []
        view = memoryview(chunk)
        start = 0
        while self.held + len(chunk) - start >= self._size:
            need = self._size - self.held
            if not self._pieces and start == 0 and need == len(chunk):
                parts.append(chunk)
            else:
                self._pieces.append(view[start:start + need])
                parts.append(bytearray().join(self._pieces))
            self._pieces = []
            self.held = 0
            start += need
        if start < len(chunk):
            self._pieces.append(view[start:])
            self.held += len(chunk) - start
        return parts

    def rest(self) -> bytearray:
        """The bytes kept back: fewer than one part."""
        return bytearray().join(self._pieces)


# Sources read straight into part buffers: standard binary files and BytesIO, whose
# readinto is known to fill (a RawIOBase subclass may not implement it).
_READINTO_TYPES = (io.BufferedReader, io.FileIO, io.BytesIO)


def iter_parts(data: BlobSource, size: int) -> Iterator:
    """The bytes of ``data`` as parts of exactly ``size`` bytes, the last one shorter.

    A standard binary file is read straight into each part, ``CHUNK_SIZE`` at a time: no
    chunk is allocated and joined, which under load was half of a large put's time;
    anything else goes through :func:`iter_chunks` and a :class:`PartCutter`.
    """
    if not isinstance(data, _READINTO_TYPES):
        cutter = PartCutter(size)
        for chunk in iter_chunks(data):
            yield from cutter.add(chunk)
        rest = cutter.rest()
        if rest:
            yield rest
        return
    while True:
        part = bytearray(size)
        with memoryview(part) as view:
            filled = 0
            while filled < size:
                count = data.readinto(view[filled:filled + CHUNK_SIZE])
                if not count:
                    break
                filled += count
        if filled < size:
            del part[filled:]
            if filled:
                yield part
            return
        yield part


class PartUploader:
    """Sends the parts of one multipart upload, up to PARALLEL_PARTS at a time, in order.

    :meth:`send` blocks while that many parts are in flight; :meth:`finish` waits for the
    rest and returns ``[number, etag, size]`` for each, in part order. A failed part raises
    from ``send`` or ``finish``; :meth:`cancel` then waits for the others so that none lands
    after the caller aborts the upload.
    """

    def __init__(self, bucket: "S3Bucket", key: str, upload_id: str, first_number: int) -> None:
        self._bucket = bucket
        self._key = key
        self._upload_id = upload_id
        self._next_number = first_number
        self._pool: Optional[ThreadPoolExecutor] = None
        self._pending: collections.deque = collections.deque()
        self.parts: list = []

    def send(self, body: bytes) -> None:
        """Queue one part (bytes of ``part_size``, or fewer for the last)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(PARALLEL_PARTS, thread_name_prefix="s3-part")
        if len(self._pending) >= PARALLEL_PARTS:
            self.parts.append(self._pending.popleft().result())
        self._pending.append(self._pool.submit(self._bucket._upload_part, self._key,
                                               self._upload_id, self._next_number, body))
        self._next_number += 1

    def finish(self) -> list:
        """Wait for every part; the parts sent, in order."""
        while self._pending:
            self.parts.append(self._pending.popleft().result())
        self._shutdown()
        return self.parts

    def cancel(self) -> None:
        """Drop the parts not started and wait for those under way."""
        for future in self._pending:
            future.cancel()
        self._pending.clear()
        self._shutdown()

    def _shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


class ObjectReader(io.RawIOBase):
    """A seekable raw reader over one object: reads stream, a seek starts a ranged GET."""

    def __init__(self, store: S3Bucket, key: str, response: dict) -> None:
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

