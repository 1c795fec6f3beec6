"""Namespaces: ``namespace show`` and ``namespace set-window``.

A namespace's time-machine window is how long its ended tags stay restorable; ``gc`` removes
only tags that ended longer ago than that, so on fresh data it collects nothing until the
window (14 days by default) has passed or is made shorter.
"""
import re

import click

from registry_model import registry_model
from registry_model.cli import open_database
from registry_model.cli.argument_types import NamespaceNameType
from registry_model.cli.output import echo_json
from registry_model.datatypes import Namespace

_UNITS = (("w", 7 * 24 * 3600), ("d", 24 * 3600), ("h", 3600), ("m", 60), ("s", 1))
_DURATION = re.compile(r"^(\d+)([smhdw]?)$")


def format_duration(seconds: int) -> str:
    """Seconds in the largest unit that divides them exactly (``90m``, ``14d``, ``0``)."""
    if seconds == 0:
        return "0"
    for unit, size in _UNITS:
        if seconds % size == 0:
            return "%d%s" % (seconds // size, unit)
    return "%ds" % seconds  # pragma: no cover - "s" always divides


class DurationType(click.ParamType):
    """A duration: a number with an optional unit s, m, h, d or w (``90m``, ``12h``, ``0``)."""

    name = "DURATION"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        match = _DURATION.fullmatch(value.strip().lower())
        if match is None:
            self.fail("%r is not a duration: a whole number with an optional unit s, m, h, d "
                      "or w (90m, 12h, 2d, 0)" % value, param, ctx)
        number, unit = match.groups()
        return int(number) * dict(_UNITS)[unit or "s"]


def _row(namespace: Namespace) -> dict:
    return {"name": namespace.name, "enabled": namespace.enabled,
            "removed_tag_expiration_s": namespace.removed_tag_expiration_s,
            "window": format_duration(namespace.removed_tag_expiration_s)}


def _echo(namespace: Namespace, as_json: bool) -> None:
    if as_json:
        echo_json(_row(namespace))
        return
    click.echo("namespace %s: time-machine window %s (%d s)%s"
               % (namespace.name, format_duration(namespace.removed_tag_expiration_s),
                  namespace.removed_tag_expiration_s, "" if namespace.enabled else ", disabled"))


@click.group()
def namespace() -> None:
    """Show or change a namespace's time-machine window (what `gc` may collect)."""


@namespace.command(name="show")
@click.argument("name", type=NamespaceNameType(), metavar="NS")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.pass_obj
def show(uri: str, name: str, as_json: bool) -> None:
    """Show namespace NS and its time-machine window.

    Ended tags stay restorable for the window; `registry-model gc` removes them after it.
    """
    with open_database(uri):
        found = registry_model.get_namespace(name)
    if found is None:
        raise click.ClickException("namespace %s not found" % name)
    _echo(found, as_json)


@namespace.command(name="set-window")
@click.argument("name", type=NamespaceNameType(), metavar="NS")
@click.argument("window", type=DurationType())
@click.option("--json", "as_json", is_flag=True, help="Print the namespace as a JSON object.")
@click.pass_obj
def set_window(uri: str, name: str, window: int, as_json: bool) -> None:
    """Set the time-machine window of namespace NS to WINDOW (90m, 12h, 2d, 3w, 0).

    Ended tags older than the window become collectable by the next `registry-model gc`;
    0 makes a tag collectable as soon as it ends (no restore after that gc).
    """
    with open_database(uri):  # turns NotFoundException into one line
        changed = registry_model.set_namespace_tag_expiration(name, window)
    _echo(changed, as_json)
