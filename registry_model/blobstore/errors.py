"""Errors of remote blob stores (S3), and the translation of boto3's exceptions into them.

A caller of a :class:`~registry_model.blobstore.base.BlobStore` sees only the library's
exceptions: an object store that does not answer, or answers with a server error after
boto3's bounded retries, raises :class:`BlobStoreUnavailableException`; any other refused
request :class:`BlobStoreRequestException`, which keeps the S3 error code.
"""
import contextlib
from typing import Iterator

from botocore.exceptions import BotoCoreError, ClientError

from registry_model.blobstore.base import BlobStoreException
from registry_model.errors import StorageConfigurationException

__all__ = ["BlobStoreRequestException", "BlobStoreUnavailableException",
           "StorageConfigurationException", "error_code", "http_status", "translated"]


class BlobStoreUnavailableException(BlobStoreException):
    """The object store did not answer, or failed, even after retries; try again later."""


class BlobStoreRequestException(BlobStoreException):
    """The object store refused a request; ``code`` is its error code (e.g. ``AccessDenied``)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def error_code(error: ClientError) -> str:
    """The S3 error code of a refused request (``NoSuchKey``, ``AccessDenied``, ...)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def http_status(error: ClientError) -> int:
    """The HTTP status of a refused request, 0 when boto3 did not record one."""
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


@contextlib.contextmanager
def translated(where: str) -> Iterator[None]:
    """Raise the library's exceptions for boto3's inside the block; ``where`` names the store."""
    try:
        yield
    except ClientError as exc:
        code, status = error_code(exc), http_status(exc)
        if status >= 500:
            raise BlobStoreUnavailableException("%s failed: %s (HTTP %d)"
                                                % (where, code, status)) from exc
        raise BlobStoreRequestException("%s refused the request: %s (HTTP %d)"
                                        % (where, code, status), code) from exc
    except BotoCoreError as exc:
        raise BlobStoreUnavailableException("%s is unavailable: %s" % (where, exc)) from exc
