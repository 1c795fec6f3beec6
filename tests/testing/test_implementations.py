"""The list of implementations, and the rule that keeps the conformance suite wing-neutral."""
import ast
from pathlib import Path

from registry_model.interface import RegistryDataInterface
from registry_model.testing.builders import ImageBuilder
from registry_model.testing.implementations import IMPLEMENTATIONS

CONFORMANCE = Path(__file__).resolve().parent.parent / "conformance"
# What belongs to one wing: its package, its factories and builder, its tables by name.
WING_MODULES = ("registry_model.pre_oci", "registry_model.registry_pre_oci_model",
                "registry_model.testing.factories", "registry_model.testing.pre_oci_builder")
WING_TABLES = {"Image", "RepositoryTag", "TagManifest", "TagManifestLabel"}


def test_every_implementation_has_a_name_a_model_and_a_builder():
    names = [entry.name for entry in IMPLEMENTATIONS]
    assert len(names) == len(set(names)) >= 1
    for entry in IMPLEMENTATIONS:
        assert issubclass(entry.model_class, RegistryDataInterface)
        assert issubclass(entry.builder_class, ImageBuilder)
        assert not entry.model_class.__abstractmethods__


def test_the_conformance_suite_imports_no_wing():
    offending = []
    for path in sorted(CONFORMANCE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = {alias.name for alias in node.names}
                if node.module.startswith(WING_MODULES) or (
                        node.module == "registry_model.database" and names & WING_TABLES):
                    offending.append("%s:%d %s" % (path.name, node.lineno, node.module))
            elif isinstance(node, ast.Import):
                offending.extend("%s:%d %s" % (path.name, node.lineno, alias.name)
                                 for alias in node.names if alias.name.startswith(WING_MODULES))
    assert offending == []
