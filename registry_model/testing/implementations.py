"""Every implementation of RegistryDataInterface, for the conformance suite to run on.

Each entry names the implementation, its class and the
:class:`~registry_model.testing.builders.ImageBuilder` that writes test data for it.
``tests/conformance/`` runs every test once per entry: adding an implementation to the
suite is adding a line here.
"""
from typing import NamedTuple

from registry_model.registry_pre_oci_model import PreOCIModel
from registry_model.testing.pre_oci_builder import PreOCIImageBuilder


class Implementation(NamedTuple):
    """An implementation's test id, its model class and its builder class."""

    name: str
    model_class: type
    builder_class: type


IMPLEMENTATIONS = [
    Implementation("pre_oci", PreOCIModel, PreOCIImageBuilder),
]
