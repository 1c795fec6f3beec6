"""A blob store named by one string, as the command line and the server take it.

::

    open_store("/var/lib/registry")                    # FilesystemBlobStore
    open_store("file:///var/lib/registry")             # the same
    open_store("s3://blobs/registry?endpoint=http://127.0.0.1:7480")   # S3BlobStore

An ``s3://BUCKET/PREFIX`` URI takes ``endpoint`` (an S3-compatible service such as Ceph's
RADOS Gateway; AWS when absent) and ``region`` in its query; credentials come from the
AWS environment variables or config files, never from the URI. Any other scheme is
refused with StorageConfigurationException, never taken for a folder name.
"""
import re
from typing import Optional, Union
from urllib.parse import parse_qs, unquote, urlsplit

from registry_model.blobstore.base import BlobStore
from registry_model.blobstore.filesystem import FilesystemBlobStore
from registry_model.errors import StorageConfigurationException

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
S3_OPTIONS = ("endpoint", "region")


def open_store(storage: Union[str, "object"]) -> BlobStore:
    """The blob store ``storage`` names: a folder path, ``file://`` or ``s3://`` URI.

    Raises StorageConfigurationException for an unknown scheme or a malformed S3 URI,
    and, from S3BlobStore, for a bucket that is missing or refuses the credentials.
    """
    text = str(storage)
    folder = folder_of(text)
    if folder is not None:
        return FilesystemBlobStore(folder)
    scheme = _SCHEME.match(text).group(1).lower()
    if scheme == "s3":
        return _open_s3(text)
    raise StorageConfigurationException(
        "unknown storage scheme %r in %s: use a folder, file:// or s3://"
        % (scheme, safe_storage_name(text)))


def folder_of(storage: Union[str, "object"]) -> Optional[str]:
    """The local folder ``storage`` names (a path or ``file://`` URI), or None for a URI."""
    text = str(storage)
    match = _SCHEME.match(text)
    if match is None:
        return text
    if match.group(1).lower() == "file":
        return unquote(urlsplit(text).path)
    return None


def safe_storage_name(storage: str) -> str:
    """``storage`` for messages: without any user:password part or query values."""
    parts = urlsplit(str(storage))
    if not parts.scheme:
        return str(storage)
    host = parts.hostname or ""
    return "%s://%s%s" % (parts.scheme, host, parts.path)


def _open_s3(uri: str) -> BlobStore:
    parts = urlsplit(uri)
    if parts.username or parts.password:
        raise StorageConfigurationException(
            "credentials do not go in the storage URI %s: use AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY or an AWS config file" % safe_storage_name(uri))
    bucket = parts.hostname
    if not bucket:
        raise StorageConfigurationException("no bucket in %s" % safe_storage_name(uri))
    options = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(options) - set(S3_OPTIONS))
    if unknown:
        raise StorageConfigurationException("unknown option(s) %s in %s; known: %s"
                                            % (", ".join(unknown), safe_storage_name(uri),
                                               ", ".join(S3_OPTIONS)))
    try:
        from registry_model.blobstore.s3 import S3BlobStore
    except ImportError:
        raise StorageConfigurationException(
            "s3:// storage needs boto3: pip install 'registry_model[s3]'") from None
    endpoint = options.get("endpoint", [None])[-1] or None
    region = options.get("region", [None])[-1] or None
    return S3BlobStore(bucket, prefix=unquote(parts.path), endpoint_url=endpoint, region=region)
