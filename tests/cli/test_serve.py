"""``registry-model serve`` refuses what it cannot serve safely, before starting anything.

Serving itself is proven by tests/server/test_real_clients.py, which runs the command.
"""
from click.testing import CliRunner

from registry_model.cli import main


def serve(tmp_path, *args):
    return CliRunner().invoke(main, ["--db", "sqlite:///%s" % (tmp_path / "r.db"), "serve",
                                     "--storage", str(tmp_path / "blobs"), *args])


def test_a_non_loopback_bind_is_refused(tmp_path):
    result = serve(tmp_path, "--bind", "0.0.0.0:5999")
    assert result.exit_code == 1
    assert "loopback" in result.output
    assert not (tmp_path / "r.db").exists()


def test_a_certificate_needs_its_key(tmp_path):
    (tmp_path / "cert.pem").write_text("not used")
    result = serve(tmp_path, "--tls-cert", str(tmp_path / "cert.pem"))
    assert result.exit_code == 1
    assert "--tls-key" in result.output


def test_with_accounts_the_token_key_must_lie_outside_the_storage(tmp_path):
    result = serve(tmp_path, "--auth", "on", "--token-key", str(tmp_path / "blobs" / "k.json"))
    assert result.exit_code == 1
    assert "inside the blob store" in result.output


def test_a_folder_cannot_redirect_blob_downloads(tmp_path):
    result = serve(tmp_path, "--storage-redirect")
    assert result.exit_code == 1
    assert "--storage-redirect needs a store that can presign URLs" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "r.db").exists()


def test_a_redirect_expiry_beyond_seven_days_is_refused(tmp_path):
    result = serve(tmp_path, "--storage-redirect", "--redirect-expiry", "604801")
    assert result.exit_code == 2
    assert "--redirect-expiry" in result.output


def test_a_redirect_expiry_without_redirects_is_refused(tmp_path):
    result = serve(tmp_path, "--redirect-expiry", "60")
    assert result.exit_code == 1
    assert "--redirect-expiry goes with --storage-redirect" in result.output
