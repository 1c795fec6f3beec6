"""--storage of every command (registry_model/cli/storage.py): a folder, or an s3:// bucket;
an unknown scheme or a bucket that cannot be used is one clear error, never a local folder."""
import json
import os

import pytest

from tests import s3_gateway

from . import assert_fails, invoke, succeeds


@pytest.mark.parametrize("command", [
    ["import", "sample.tar", "acme/hello"],
    ["export", "acme/hello:latest", "out.tar"],
    ["gc"],
    ["serve"],
])
def test_an_unknown_scheme_is_refused_and_writes_no_folder(migrated_uri, in_a_scratch_folder,
                                                           sample_archive, command):
    before = sorted(os.listdir(in_a_scratch_folder))
    result = invoke(migrated_uri, *command, "--storage", "gs://blobs/registry")
    assert_fails(result, "unknown storage scheme 'gs'", "gs://blobs/registry")
    assert sorted(os.listdir(in_a_scratch_folder)) == before


def test_import_and_export_through_a_bucket(migrated_uri, tmp_path, sample_archive, s3_store):
    uri = "s3://%s/%s?endpoint=%s" % (s3_store.bucket, s3_store._keys.root,
                                      s3_store.endpoint_url)
    imported = json.loads(succeeds(migrated_uri, "import", str(sample_archive), "acme/hello",
                                   "--storage", uri, "--json"))
    assert all(s3_store.exists(layer["digest"]) for layer in imported["layers"])
    assert not os.path.exists(tmp_path / "s3:")
    exported = json.loads(succeeds(migrated_uri, "export", "acme/hello:latest",
                                   str(tmp_path / "out.tar"), "--storage", uri, "--json"))
    assert [layer["digest"] for layer in exported["layers"]] == [
        layer["digest"] for layer in imported["layers"]]


def test_a_missing_bucket_or_wrong_credentials_fail_before_anything_runs(
        migrated_uri, s3_gateway_uri, monkeypatch):
    missing = s3_gateway.fresh_uri().replace("s3://", "s3://missing-", 1)
    assert_fails(invoke(migrated_uri, "gc", "--storage", missing), "no bucket 'missing-")
    assert_fails(invoke(migrated_uri, "serve", "--storage", missing), "no bucket 'missing-")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    error = assert_fails(invoke(migrated_uri, "gc", "--storage", s3_gateway.fresh_uri()),
                         "denied", "check the AWS credentials")
    assert "not-the-secret" not in error
