"""Every implementation of RegistryDataInterface, for the conformance suite to run on.

Each entry names the implementation, its class and the
:class:`~registry_model.testing.builders.ImageBuilder` that writes test data for it.
``tests/conformance/`` runs every test once per entry: adding an implementation to the
suite is adding a line here.

``known_bugs`` names the conformance tests an implementation is known to fail, each with
the bug's description: the suite runs them as strict expected failures, so fixing the bug
(an unexpected pass) fails the suite until the entry goes.
"""
from typing import NamedTuple

from registry_model.oci.model import OCIModel
from registry_model.registry_pre_oci_model import PreOCIModel
from registry_model.testing.oci_builder import OCIImageBuilder
from registry_model.testing.pre_oci_builder import PreOCIImageBuilder


class Implementation(NamedTuple):
    """An implementation's test id, model class, builder class and known bugs."""

    name: str
    model_class: type
    builder_class: type
    known_bugs: dict = {}  # conformance test function name -> the bug it shows


OCI_KNOWN_BUGS: dict = {}


IMPLEMENTATIONS = [
    Implementation("pre_oci", PreOCIModel, PreOCIImageBuilder),
    Implementation("oci", OCIModel, OCIImageBuilder, OCI_KNOWN_BUGS),
]
