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
    uploads/<uuid>/state           an upload session (s3_uploads.UploadState)
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

The requests, the key scheme and the reader are in :mod:`~registry_model.blobstore.s3_bucket`,
the upload sessions in :mod:`~registry_model.blobstore.s3_uploads`; this module holds the
blob methods and the class callers use.
"""
import hashlib
import itertools
import logging
from typing import BinaryIO, Iterable, Iterator, Optional, Tuple

from registry_model.blobstore.base import (
    SUPPORTED_ALGORITHM,
    BlobNotFoundException,
    BlobSource,
    BlobStore,
    StoredBlob,
    check_redirect_expiry,
    is_blob_digest,
)
from registry_model.blobstore.errors import (
    BlobStoreUnavailableException,
    translated,
)
from registry_model.blobstore.hashing import BackgroundSHA256
from registry_model.blobstore.s3_bucket import (
    DEFAULT_PART_SIZE,
    ObjectReader,
    PartUploader,
    iter_parts,
    make_client,
)
from registry_model.blobstore.s3_uploads import S3Uploads

__all__ = ["DEFAULT_PART_SIZE", "S3BlobStore", "make_client"]

logger = logging.getLogger(__name__)

DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys


class S3BlobStore(S3Uploads, BlobStore):
    """A :class:`BlobStore` on an S3 bucket, under ``prefix``.

    ``client`` is a boto3 S3 client (default: :func:`make_client` for ``endpoint_url`` and
    ``region``). ``part_size`` (at least 5 MiB) is the size of each multipart part. The
    constructor raises StorageConfigurationException when the bucket is missing or refuses
    the credentials, BlobStoreUnavailableException when the endpoint does not answer.
    """

    can_redirect = True

    def __repr__(self) -> str:
        return "S3BlobStore(%r, prefix=%r)" % (self.bucket, self._keys.root)

    def redirect_url(self, digest: str, expires_s: int) -> Optional[str]:
        """A presigned GET URL of the blob's object, valid for ``expires_s`` seconds.

        Signing is local (no request to the gateway), so the object's existence is not
        checked here: the server redirects only for blobs its database links to the
        repository, and a blob missing from the bucket all the same answers 404 when
        the URL is fetched. The URL carries the store's access key id and the endpoint the
        store uses, so clients must reach that endpoint; ValueError for an ``expires_s``
        outside 1 s to 7 days (SigV4's limit).
        """
        check_redirect_expiry(expires_s)
        key = self._keys.blob(digest)
        with translated(self._where()):
            return self._client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_s)

    def _head(self, digest: str) -> dict:
        return self._existing("head_object", self._keys.blob(digest),
                              BlobNotFoundException("no blob %s" % digest))

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
        response = self._existing("get_object", key, BlobNotFoundException("no blob %s" % digest))
        # Unbuffered on purpose: a failed read then has delivered nothing, so tell() is
        # exactly what the caller received and a read after a failure resumes there.
        return ObjectReader(self, key, response)

    def put(self, data: BlobSource) -> StoredBlob:
        """Store ``data``: one PUT when it fits a part, else a multipart upload then a copy."""
        parts = iter_parts(data, self._part_size)
        first = next(parts, b"")
        if len(first) >= self._part_size:
            return self._put_large(first, parts)
        digest = hashlib.sha256(first).hexdigest()
        blob = StoredBlob("%s:%s" % (SUPPORTED_ALGORITHM, digest), len(first))
        with translated(self._where()):
            self._client.put_object(Bucket=self.bucket, Key=self._keys.blob(blob.digest),
                                    Body=first)
        logger.debug("stored blob %s (%d bytes)", blob.digest, blob.size)
        return blob

    def _put_large(self, first, parts: Iterator) -> StoredBlob:
        # Nothing resumes a put, so its hash runs on a thread of its own (hashlib releases
        # the GIL): hashing a part in line would hold up reading and sending the next.
        hasher = BackgroundSHA256(backlog=2)
        temp = self._keys.temp()
        with translated(self._where()):
            multipart = self._client.create_multipart_upload(Bucket=self.bucket, Key=temp)
        upload_id = multipart["UploadId"]
        sender = PartUploader(self, temp, upload_id, 1)
        try:
            for part in itertools.chain([first], parts):
                sender.send(part)
                hasher.update(part)
            self._complete_multipart(temp, upload_id, sender.finish())
        except BaseException:
            sender.cancel()
            hasher.close()
            self._abort_quietly(temp, upload_id)
            raise
        blob = StoredBlob("%s:%s" % (SUPPORTED_ALGORITHM, hasher.hexdigest()), hasher.length)
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
