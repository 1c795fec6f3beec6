"""Content-addressed blob storage, kept outside the database, with resumable uploads.

::

    from registry_model.blobstore import FilesystemBlobStore, ResumableSHA256

    store = FilesystemBlobStore("/var/lib/registry")
    digest, size = store.put(open("layer.tar.gz", "rb"))

:mod:`~registry_model.blobstore.base` holds the contract and its exceptions,
:mod:`~registry_model.blobstore.filesystem` and :mod:`~registry_model.blobstore.memory`
the two local backends, :mod:`~registry_model.blobstore.s3` the S3 one (boto3, the ``s3``
extra; not imported here) with its errors in :mod:`~registry_model.blobstore.errors`,
:mod:`~registry_model.blobstore.uri` the store a ``--storage`` string names, and
:mod:`~registry_model.blobstore.hashing` the SHA-256 whose state an upload session keeps
between chunks.
"""
from registry_model.blobstore.base import (
    BlobDigestMismatchException,
    BlobNotFoundException,
    BlobStore,
    BlobStoreException,
    InvalidHashStateException,
    InvalidUploadIdException,
    StoredBlob,
    UnsupportedDigestException,
    UploadExistsException,
    UploadNotFoundException,
    UploadOffsetException,
)
from registry_model.blobstore.filesystem import FilesystemBlobStore
from registry_model.blobstore.hashing import ResumableSHA256
from registry_model.blobstore.memory import InMemoryBlobStore

__all__ = [
    "BlobDigestMismatchException",
    "BlobNotFoundException",
    "BlobStore",
    "BlobStoreException",
    "FilesystemBlobStore",
    "InMemoryBlobStore",
    "InvalidHashStateException",
    "InvalidUploadIdException",
    "ResumableSHA256",
    "StoredBlob",
    "UnsupportedDigestException",
    "UploadExistsException",
    "UploadNotFoundException",
    "UploadOffsetException",
]
