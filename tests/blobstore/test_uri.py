"""open_store: a folder, file:// and s3:// URIs; anything else refused, never a folder."""
import os

import pytest

from registry_model import errors
from registry_model.blobstore import FilesystemBlobStore
from registry_model.blobstore.s3 import S3BlobStore
from registry_model.blobstore.uri import folder_of, open_store, safe_storage_name
from tests import s3_gateway


def test_a_path_and_a_file_uri_open_a_filesystem_store(tmp_path):
    for storage in (str(tmp_path / "a"), "file://%s" % (tmp_path / "b")):
        store = open_store(storage)
        assert isinstance(store, FilesystemBlobStore)
        assert store.root == folder_of(storage)
    assert sorted(os.listdir(tmp_path)) == ["a", "b"]


@pytest.mark.parametrize("storage", ["gs://bucket/prefix", "swift://c", "http://x/y", "S4://b"])
def test_an_unknown_scheme_is_refused_and_creates_no_folder(tmp_path, monkeypatch, storage):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(errors.StorageConfigurationException, match="unknown storage scheme"):
        open_store(storage)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("storage, message", [
    ("s3:///prefix", "no bucket"),
    ("s3://bucket/p?endpont=http://127.0.0.1:1", "unknown option"),
    ("s3://key:secret@bucket/p", "credentials do not go in the storage URI"),
])
def test_malformed_s3_uris_are_refused_without_showing_secrets(storage, message):
    with pytest.raises(errors.StorageConfigurationException, match=message) as raised:
        open_store(storage)
    assert "secret" not in str(raised.value)


def test_messages_name_a_storage_without_credentials_or_query():
    assert safe_storage_name("s3://k:s@b/p?endpoint=http://h") == "s3://b/p"
    assert safe_storage_name("/var/lib/registry") == "/var/lib/registry"


def test_an_s3_uri_opens_the_bucket_under_its_prefix(s3_gateway_uri):
    store = open_store(s3_gateway.fresh_uri())
    try:
        assert isinstance(store, S3BlobStore)
        digest = store.put(b"through a URI").digest
        key = store._keys.blob(digest)
        assert key.startswith(store._keys.root) and store._keys.root.startswith("tests/")
        assert store._client.get_object(Bucket=store.bucket, Key=key)["Body"].read() \
            == b"through a URI"
    finally:
        s3_gateway.empty(store)


def test_a_missing_bucket_fails_at_once_with_a_clear_error(s3_gateway_uri):
    uri = s3_gateway_uri.replace("s3://", "s3://no-such-bucket-", 1)
    with pytest.raises(errors.StorageConfigurationException, match="no bucket"):
        open_store(uri)


def test_wrong_credentials_fail_at_once_without_showing_them(s3_gateway_uri, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-value")
    with pytest.raises(errors.StorageConfigurationException, match="denied") as raised:
        open_store(s3_gateway_uri)
    assert "wrong-secret-value" not in str(raised.value)
