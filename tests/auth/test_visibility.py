import pytest

from registry_model import errors
from registry_model.auth.visibility import set_visibility


def test_a_repository_turns_public_and_back(oci_model):
    oci_model.create_repository("acme", "app", create_namespace=True)
    assert not oci_model.lookup_repository("acme", "app").is_public
    set_visibility("acme", "app", True)
    assert oci_model.lookup_repository("acme", "app").is_public
    set_visibility("acme", "app", True)  # unchanged is no error
    set_visibility("acme", "app", False)
    assert not oci_model.lookup_repository("acme", "app").is_public


def test_a_missing_or_misnamed_repository_is_an_error(oci_model):
    with pytest.raises(errors.NotFoundException):
        set_visibility("acme", "app", True)
    with pytest.raises(errors.InvalidNameException):
        set_visibility("acme", "App", True)
