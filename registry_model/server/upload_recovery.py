"""Upload sessions whose row lags the blob store: a chunk stored, its progress never recorded.

A PATCH or PUT streams its body into the store, then records the new length and hash state
in the BlobUpload row. When that update fails (the database is down: 503) or the worker is
killed between the two, the store holds more bytes than the row says. The client, told
nothing, sends the chunk again at the row's offset; the store refuses it (it holds more),
and a 416 whose Range came from the row would send the client back to the same offset for
ever, with a hash state that covers only the row's bytes besides.

The store's length is the truth: it is checked and changed under the upload's lock (a
flock, the memory store's lock, the S3 state object's ETag), while the row is written
after it, outside that lock, and may lag. So the session is *caught up* to the store
(:func:`caught_up`): the row's hash state, which covers a prefix of the stored bytes, is fed
the bytes after it (S3 keeps a running hash of its own, since its parts cannot be read
back) and the row is updated to the store's length. It is done only where the two may
disagree, and sends a statement only when they do, so the normal path sends what it always
did (tests/server/test_upload_recovery.py counts them):

* a chunk meant at the row's offset (its Content-Range starts there, or it has none) that
  the store refuses before reading it: it is the retry of the request whose progress was
  lost. Its first bytes, as many as the store holds beyond the row, are skipped
  (:func:`skip_held`) and the rest appended: the retry answers 202, or 201 for a PUT, as
  the first attempt would have, so a client that merely repeats a failed request (as
  retrying HTTP clients do on a 503) finishes. An empty body appends nothing, so a PUT
  ``?digest=`` without a body completes the bytes the store holds. A body shorter than
  what the store holds is no retry: 416. A chunk refused after its body was read (S3's
  writer that lost the race for the state object) lost to a concurrent one: 416.
* a Content-Range that starts elsewhere: at the store's length it is appended, else 416.
* every 416, and GET of the session's status, answers the store's length as the Range a
  client resumes from (as the distribution spec asks of both). The GET reads the store, so
  on a folder it waits for a chunk of the session being written to end.

Skipped bytes are not compared with the stored ones: the completing PUT's digest is checked
against every stored byte, so bytes that differ make it DIGEST_INVALID, never a blob under
a wrong digest. The same check guards the one case the rule guesses wrong: two requests of
one session at once (a status GET catching the row up while a PATCH records its progress)
can leave the row behind again, and a streamed body then read as a retry fails at the end.

Rolling the store back when the row update fails was the other way out; it leaves a killed
worker's bytes in place (and a filesystem writer killed midway leaves part of a chunk, a
prefix of what the client sent, which catching up keeps and reports), so it would need this
repair anyway.
"""
import logging
from typing import Iterator

from registry_model.blobstore import InvalidHashStateException, UploadNotFoundException
from registry_model.blobstore.hashing import ResumableSHA256
from registry_model.datatypes import BlobUpload
from registry_model.server.context import registry
from registry_model.server.errors import RegistryError

logger = logging.getLogger(__name__)


def record(upload: BlobUpload, hasher: ResumableSHA256) -> BlobUpload:
    """The upload's row updated to ``hasher``'s length and state, one chunk more.

    BLOB_UPLOAD_UNKNOWN when the row is gone (completed or cancelled meanwhile).
    """
    length = hasher.length
    updated = registry().model.update_blob_upload(upload, length, None, length,
                                                  upload.chunk_count + 1, hasher.to_state())
    if updated is None:
        raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"upload": upload.upload_id})
    return updated


def caught_up(upload: BlobUpload) -> BlobUpload:
    """The upload as the store holds it: the row updated when it lags (or leads) the store.

    Unchanged, with no statement sent, when the row has the store's length.
    BLOB_UPLOAD_UNKNOWN when the store has no such upload; BLOB_UPLOAD_INVALID when the
    row's hash state is damaged or covers more bytes than the store holds (the session
    cannot be repaired, the client starts again).
    """
    store = registry().store
    try:
        hasher = store.upload_hasher(upload.upload_id, upload.sha_state)
    except UploadNotFoundException:
        raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"upload": upload.upload_id}) from None
    except InvalidHashStateException:
        raise RegistryError("BLOB_UPLOAD_INVALID",
                            "the upload's recorded progress does not match its bytes") from None
    if hasher.length == upload.byte_count:
        return upload
    logger.warning("upload %s: the row said %d bytes, the store holds %d; caught up",
                   upload.upload_id, upload.byte_count, hasher.length)
    return record(upload, hasher)


def skip_held(chunks: Iterator[bytes], held: int, refusal: RegistryError) -> Iterator[bytes]:
    """``chunks`` less their first ``held`` bytes, which the store holds already.

    Raises ``refusal`` (inside the store's write, which then keeps nothing of the chunk)
    when the body ends within those bytes; an empty body yields nothing and is no error.
    """
    received = 0
    for chunk in chunks:
        start = max(held - received, 0)
        received += len(chunk)
        if start < len(chunk):
            yield chunk[start:] if start else chunk
    if 0 < received < held:
        raise refusal
