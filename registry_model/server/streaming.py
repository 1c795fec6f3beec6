"""Bytes in and out without holding a blob: request bodies in chunks, blobs as file wrappers.

A request body is read :data:`~registry_model.blobstore.base.CHUNK_SIZE` at a time from
Werkzeug's stream, which is limited to the Content-Length and raises ClientDisconnected
when the body ends early (the blob store then rolls the chunk back). A blob is answered
with the WSGI server's file wrapper (``sendfile`` under gunicorn); a ``Range`` request gets
206 and only that range, read a chunk at a time.
"""
import os
from typing import Iterator

from flask import Response, request
from werkzeug.wsgi import wrap_file

from registry_model.blobstore import BlobNotFoundException, BlobStore
from registry_model.blobstore.base import CHUNK_SIZE
from registry_model.server.errors import RegistryError


def request_chunks() -> Iterator[bytes]:
    """The request body, a bounded chunk at a time; SIZE_INVALID when it ends early.

    A WSGI server that terminates the input itself (gunicorn) ends a cut-off body
    quietly, so the bytes are counted here against the Content-Length: the error raised
    inside the blob store's write makes it roll the chunk back.
    """
    stream = request.stream
    expected = request.content_length
    received = 0
    while True:
        chunk = stream.read(CHUNK_SIZE)
        if not chunk:
            break
        received += len(chunk)
        yield chunk
    if expected is not None and received != expected:
        raise RegistryError("SIZE_INVALID", {"Content-Length": expected, "received": received})


def blob_response(store: BlobStore, digest: str, media_type: str = "application/octet-stream",
                  head: bool = False) -> Response:
    """The blob's bytes (or, for HEAD, only its headers) with Docker-Content-Digest.

    A satisfiable ``Range`` gives 206 with Content-Range, an unsatisfiable one 416.
    BLOB_UNKNOWN when the store lacks the blob.
    """
    headers = {"Docker-Content-Digest": digest, "Accept-Ranges": "bytes"}
    if head:
        try:
            size = store.size(digest)
        except BlobNotFoundException:
            raise RegistryError("BLOB_UNKNOWN", {"digest": digest}) from None
        response = Response(status=200, mimetype=media_type, headers=headers)
        response.content_length = size
        return response
    try:
        blob = store.open(digest)
    except BlobNotFoundException:
        raise RegistryError("BLOB_UNKNOWN", {"digest": digest}) from None
    size = _size_of(blob)
    response = Response(wrap_file(request.environ, blob, CHUNK_SIZE), mimetype=media_type,
                        headers=headers, direct_passthrough=True)
    response.content_length = size
    # Werkzeug answers Range here: 206 with a wrapper reading only the range, or 416.
    return response.make_conditional(request.environ, accept_ranges=True,
                                     complete_length=size)


def _size_of(blob) -> int:
    try:
        return os.fstat(blob.fileno()).st_size
    except (AttributeError, OSError, ValueError):  # an in-memory file object
        position = blob.tell()
        size = blob.seek(0, os.SEEK_END)
        blob.seek(position)
        return size
