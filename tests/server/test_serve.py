"""The bind check of ``registry-model serve``: loopback only until accounts exist."""
import pytest

from registry_model.server.serve import NonLoopbackBindException, check_bind


@pytest.mark.parametrize("bind", ["127.0.0.1:5000", "127.0.0.2:80", "[::1]:5000",
                                  "localhost:5000", "unix:/tmp/registry.sock"])
def test_loopback_binds_are_accepted(bind):
    check_bind(bind)


@pytest.mark.parametrize("bind", ["0.0.0.0:5000", "[::]:5000", "10.0.0.1:5000",
                                  "example.com:5000", "127.0.0.1", ":5000"])
def test_other_binds_are_refused(bind):
    with pytest.raises(NonLoopbackBindException):
        check_bind(bind)
