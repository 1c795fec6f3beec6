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
