"""The ``registry-model`` group (registry_model/cli/__init__.py): what its docstring shows."""
import re

import registry_model.cli as cli


def test_the_docstring_shows_every_command_and_names_its_module():
    examples = set(re.findall(r"^    registry-model (?:--\S+ \S+ )*([a-z][a-z-]*)", cli.__doc__,
                              re.M))
    assert not sorted(set(cli.main.commands) - examples), \
        "add an example of each to registry_model/cli/__init__.py's docstring"
    modules = {command.callback.__module__ for command in cli.main.commands.values()}
    named = set(re.findall(r":mod:`~(registry_model\.cli\.\w+)`", cli.__doc__))
    assert not sorted(modules - named)
