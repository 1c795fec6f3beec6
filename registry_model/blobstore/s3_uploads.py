"""Resumable uploads of :class:`~registry_model.blobstore.s3.S3BlobStore` on S3 multipart
uploads.

An upload's state object (``uploads/<uuid>/state``, JSON: :class:`UploadState`) holds the
multipart upload id, the parts and their ETags, the length, the running SHA-256 and the key
of the tail object with the bytes that do not fill a part yet. A chunk is cut into parts as
it streams in, its remainder becomes a new tail, and the state is replaced with ``If-Match``
on its ETag: of two writers at one offset one wins, the other gets UploadOffsetException.
Nothing of a chunk that fails is referenced by the state, so the upload stays as it was.

One gap: two writers racing with chunks of a part or more upload parts of the same
numbers, so the loser may overwrite the winner's part; completing then fails with
``InvalidPart`` (BlobStoreRequestException) and that upload must start again. Registry
clients send one upload's chunks in order, one at a time.
"""
import json
import logging
import uuid
from typing import Optional, Tuple

from botocore.exceptions import ClientError

from registry_model.blobstore.base import (
    BlobDigestMismatchException,
    BlobSource,
    InvalidHashStateException,
    StoredBlob,
    UploadExistsException,
    UploadNotFoundException,
    UploadOffsetException,
    check_blob_digest,
    check_offset_type,
    iter_chunks,
)
from registry_model.blobstore.errors import BlobStoreRequestException, http_status, translated
from registry_model.blobstore.hashing import ResumableSHA256, resume_sha256
from registry_model.blobstore.s3_bucket import PartCutter, PartUploader, S3Bucket

logger = logging.getLogger(__name__)


class S3Uploads(S3Bucket):
    """The upload-session methods of the BlobStore contract, on a bucket."""

    def initiate_upload(self, upload_id: str) -> None:
        """Create the upload's state object; UploadExistsException if the id is taken."""
        key = self._keys.upload(upload_id, "state")
        with translated(self._where()):
            try:
                self._client.put_object(Bucket=self.bucket, Key=key, IfNoneMatch="*",
                                        Body=UploadState.new().dump())
            except ClientError as exc:
                if http_status(exc) in (409, 412):
                    raise UploadExistsException("upload %s exists already" % upload_id) from None
                raise

    def _load_upload(self, upload_id: str) -> Tuple["UploadState", str]:
        answer = self._existing("get_object", self._keys.upload(upload_id, "state"),
                                UploadNotFoundException("no upload %s" % upload_id))
        with translated(self._where()):
            return UploadState.load(answer["Body"].read()), answer["ETag"]

    def _save_upload(self, upload_id: str, state: "UploadState", etag: str,
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
                    if http_status(exc) not in (404, 409, 412):
                        raise
        # Another writer replaced the state first (or the upload ended): this chunk lost.
        current = self._load_upload(upload_id)[0].length
        raise UploadOffsetException(upload_id, offset, current)

    def upload_length(self, upload_id: str) -> int:
        """The number of bytes written to the upload so far."""
        return self._load_upload(upload_id)[0].length

    def upload_hasher(self, upload_id: str,
                      hash_state: Optional[str] = None) -> ResumableSHA256:
        """The state object's own running hash: it covers every byte, the parts included.

        ``hash_state`` is only checked (it must not cover more than the upload holds), as
        the other stores check it, since the parts cannot be read to catch it up.
        """
        state, _ = self._load_upload(upload_id)
        resume_sha256(hash_state, state.length)
        return ResumableSHA256.from_state(state.hash)

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
        # A caller's hasher in the very state the store saved has hashed the same bytes, so
        # it serves as the store's own instead of every byte being hashed twice.
        shared = saved is not None and saved == state.hash
        writer = ChunkWriter(self, upload_id, state, hasher if shared else None)
        try:
            for chunk in iter_chunks(data):
                writer.append(chunk)
                if hasher is not None and not shared:
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

    def _assemble(self, upload_id: str, state: "UploadState", key: str) -> None:
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

    def _end_upload(self, upload_id: str, state: "UploadState") -> None:
        self._delete_quietly([key for key in (state.tail, self._keys.upload(upload_id, "state"))
                              if key])


class UploadState:
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
    def new(cls) -> "UploadState":
        return cls(0, ResumableSHA256().to_state(), None, [], None, 0)

    @classmethod
    def load(cls, raw: bytes) -> "UploadState":
        fields = json.loads(raw)
        return cls(fields["length"], fields["hash"], fields["multipart"], fields["parts"],
                   fields["tail"], fields["tail_size"])

    def dump(self) -> bytes:
        return json.dumps({"length": self.length, "hash": self.hash,
                           "multipart": self.multipart, "parts": self.parts,
                           "tail": self.tail, "tail_size": self.tail_size}).encode()


class ChunkWriter:
    """One chunk of an upload: full parts uploaded as they fill, the rest a new tail object."""

    def __init__(self, store: S3Bucket, upload_id: str, state: UploadState,
                 hasher: Optional[ResumableSHA256] = None) -> None:
        self._store = store
        self._upload_id = upload_id
        self._state = state
        # ``hasher``: one in the state's hash state, which this writer then updates.
        self._hasher = hasher if hasher is not None else ResumableSHA256.from_state(state.hash)
        self._multipart = state.multipart
        self._sender: Optional[PartUploader] = None
        self._created_multipart = False
        self._new_tail: Optional[str] = None
        self._cutter = PartCutter(store._part_size,
                                  store._read_object(state.tail) if state.tail else b"")
        self._added = 0

    def append(self, chunk: bytes) -> None:
        for part in self._cutter.add(chunk):
            self._send_part(part)
        self._hasher.update(chunk)
        self._added += len(chunk)

    def _send_part(self, body: bytes) -> None:
        store = self._store
        key = store._keys.upload(self._upload_id, "data")
        if self._multipart is None:
            with translated(store._where()):
                answer = store._client.create_multipart_upload(Bucket=store.bucket, Key=key)
            self._multipart = answer["UploadId"]
            self._created_multipart = True
        if self._sender is None:
            self._sender = PartUploader(store, key, self._multipart, len(self._state.parts) + 1)
        self._sender.send(body)

    def finish(self) -> UploadState:
        state = self._state
        if self._added == 0:
            return state
        parts = list(state.parts) + (self._sender.finish() if self._sender else [])
        tail = None
        rest = self._cutter.rest()
        if rest:
            tail = self._store._keys.upload(self._upload_id, "tail-" + uuid.uuid4().hex)
            with translated(self._store._where()):
                self._store._client.put_object(Bucket=self._store.bucket, Key=tail, Body=rest)
            self._new_tail = tail
        return UploadState(state.length + self._added, self._hasher.to_state(),
                            self._multipart, parts, tail, len(rest))

    def roll_back(self) -> None:
        """Undo what this chunk wrote; parts of an older multipart upload are overwritten later."""
        if self._sender is not None:
            self._sender.cancel()
        if self._new_tail:
            self._store._delete_quietly([self._new_tail])
        if self._created_multipart:
            self._store._abort_quietly(self._store._keys.upload(self._upload_id, "data"),
                                       self._multipart)

