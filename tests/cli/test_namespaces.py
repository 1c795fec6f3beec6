"""registry-model namespace show / set-window (registry_model/cli/namespaces.py)."""
import ast
import json
from pathlib import Path

import pytest

import registry_model.cli.namespaces
from registry_model.cli.namespaces import format_duration

from . import assert_fails, invoke, row_counts, succeeds


def test_show_prints_the_window_of_a_namespace(imported):
    assert succeeds(imported.uri, "namespace", "show", "acme") == (
        "namespace acme: time-machine window 2w (1209600 s)\n")
    assert json.loads(succeeds(imported.uri, "namespace", "show", "acme", "--json")) == {
        "name": "acme", "enabled": True, "removed_tag_expiration_s": 1209600, "window": "2w"}


@pytest.mark.parametrize("given, seconds, shown", [
    ("90m", 5400, "90m"), ("12h", 43200, "12h"), ("2d", 172800, "2d"), ("3w", 1814400, "3w"),
    ("0", 0, "0"), ("45", 45, "45s"), ("3600s", 3600, "1h"),
])
def test_set_window_takes_durations_and_keeps_them(imported, given, seconds, shown):
    assert succeeds(imported.uri, "namespace", "set-window", "acme", given) == (
        "namespace acme: time-machine window %s (%d s)\n" % (shown, seconds))
    shown_json = json.loads(succeeds(imported.uri, "namespace", "show", "acme", "--json"))
    assert shown_json["removed_tag_expiration_s"] == seconds


def test_a_zero_window_lets_gc_collect_an_untagged_image_at_once(imported):
    succeeds(imported.uri, "untag", "acme/hello:latest")
    storage = ["--storage", str(imported.storage)]
    dry = json.loads(succeeds(imported.uri, "gc", "--dry-run", "--json", *storage))
    assert dry["tags"] == 0  # within the default 14-day window
    succeeds(imported.uri, "namespace", "set-window", "acme", "0")
    summary = json.loads(succeeds(imported.uri, "gc", "--json", *storage))
    assert (summary["tags"], summary["manifests"], summary["images"]) == (1, 1, 3)


@pytest.mark.parametrize("args, fragments, exit_code", [
    (["show", "nobody"], ["namespace nobody not found"], 1),
    (["set-window", "nobody", "1h"], ["namespace 'nobody' does not exist"], 1),
    (["set-window", "acme", "-1h"], ["No such option"], 2),
    (["set-window", "acme", "1y"], ["is not a duration", "90m, 12h, 2d, 0"], 2),
    (["set-window", "acme", "soon"], ["is not a duration"], 2),
    (["show", "Acme"], ["is not a namespace name", "1 to 255"], 2),
])
def test_bad_input_is_one_line_and_changes_nothing(imported, args, fragments, exit_code):
    before = row_counts(imported.uri)
    assert_fails(invoke(imported.uri, "namespace", *args), *fragments, exit_code=exit_code)
    assert row_counts(imported.uri) == before


def test_format_duration_picks_the_largest_exact_unit():
    assert [format_duration(value) for value in (0, 1, 59, 60, 61, 7200, 86400, 604800)] == [
        "0", "1s", "59s", "1m", "61s", "2h", "1d", "1w"]


def test_the_command_uses_only_the_interface_and_datatypes():
    tree = ast.parse(Path(registry_model.cli.namespaces.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names}
    assert not any(name.startswith(("registry_model.model", "registry_model.database"))
                   for name in imported), imported
