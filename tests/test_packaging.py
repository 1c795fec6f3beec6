"""What `pip install registry_model` pulls in (setup.py): no test tool outside an extra."""
import importlib.metadata
import re

TEST_TOOLS = {"pytest", "factory-boy", "faker", "hypothesis", "ruff"}


def _requirements():
    """``(project name, extra or None)`` of every requirement of the installed distribution."""
    for requirement in importlib.metadata.requires("registry_model") or ():
        name = re.match(r"[A-Za-z0-9._-]+", requirement).group(0).lower().replace("_", "-")
        extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", requirement)
        yield name, extra.group(1) if extra else None


def test_a_plain_install_pulls_no_test_tool():
    plain = {name for name, extra in _requirements() if extra is None}
    assert "peewee" in plain
    assert not plain & TEST_TOOLS, plain & TEST_TOOLS


def test_the_testing_extra_has_the_fixtures_tools_and_test_includes_it():
    by_extra: dict = {}
    for name, extra in _requirements():
        by_extra.setdefault(extra, set()).add(name)
    assert by_extra["testing"] == {"pytest", "factory-boy"}
    assert by_extra["testing"] | {"ruff", "hypothesis"} <= by_extra["test"]


def test_every_folder_of_the_package_is_a_package_setup_py_finds():
    """A plain ``pip install .`` (the README's first command) installs what setup.py's
    ``find_packages`` finds: a folder without ``__init__.py`` would be left out, and its
    imports would fail there only, never in an editable checkout."""
    from pathlib import Path

    from setuptools import find_packages

    root = Path(__file__).resolve().parent.parent
    found = set(find_packages(str(root), include=["registry_model", "registry_model.*"]))
    folders = {".".join(path.parent.relative_to(root).parts)
               for path in (root / "registry_model").rglob("*.py")}
    assert folders - found == set()
