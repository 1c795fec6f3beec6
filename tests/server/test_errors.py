"""Failures that are not the client's: a JSON body with a code, never a traceback."""
import pytest

from registry_model import errors


@pytest.mark.parametrize("exception, status, code, retry_after", [
    (errors.DatabaseUnavailableException("server gone"), 503, "UNAVAILABLE", "5"),
    (errors.DatabaseConnectionLostException("dropped mid-transaction"), 503, "UNAVAILABLE", "5"),
    (errors.ConcurrentWriteException("kept losing"), 503, "UNAVAILABLE", "1"),
    (RuntimeError("a bug"), 500, "UNKNOWN", None),
])
def test_an_internal_failure_is_a_json_error_without_a_traceback(client, monkeypatch, exception,
                                                                 status, code, retry_after):
    def fail(*args, **kwargs):
        raise exception

    monkeypatch.setattr(type(client.application.extensions["registry_model"].model),
                        "list_repositories", fail)
    response = client.get("/v2/_catalog")
    assert response.status_code == status
    assert response.get_json()["errors"][0]["code"] == code
    assert response.headers.get("Retry-After") == retry_after
    assert str(exception) not in response.get_data(as_text=True)
