"""Signing keys for the manifest tests, made once per package since key generation is slow."""
import pytest

from registry_model.manifests import generate_signing_key


@pytest.fixture(scope="package")
def ec_key():
    return generate_signing_key("EC")


@pytest.fixture(scope="package")
def rsa_key():
    return generate_signing_key("RSA")
