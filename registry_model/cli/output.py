"""What the commands print: times, sizes and digests as text, tables and JSON documents.

The helpers every command formats its output with, so a time, a size or a digest reads the
same whichever command shows it.
"""
import json
from datetime import UTC, datetime
from typing import Optional, Sequence, Union

import click

from registry_model.datatypes import Tag

SHORT_ID_LENGTH = 12  # hex digits of an id or digest that a table shows


def rfc3339(value: Union[int, float, datetime, str, None]) -> Optional[str]:
    """A time as RFC 3339 UTC (``2023-11-14T22:13:20Z``), the form of every time the CLI prints.

    Takes a Unix time, a datetime (a naive one is UTC, as the library stores them) or an
    ISO 8601 string (an image's V1 ``created``, fractions past microseconds dropped); None
    stays None, and a string that is no time is returned as it is, since it is the image's
    own text.
    """
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    else:
        moment = datetime.fromtimestamp(value, UTC)
    return moment.replace(tzinfo=None).isoformat() + "Z"


def human_size(size: Optional[int]) -> str:
    """A byte count in B, KiB, MiB, ...; ``-`` for None."""
    if size is None:
        return "-"
    if size < 1024:
        return "%d B" % size
    value = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024:
            return "%.1f %s" % (value, unit)
    return "%.1f TiB" % (value / 1024)


def short_digest(digest: Optional[str]) -> Optional[str]:
    """``sha256:`` and the first 12 hex digits, for tables; None kept."""
    if digest is None:
        return None
    algorithm, _, encoded = digest.partition(":")
    return "%s:%s" % (algorithm, encoded[:SHORT_ID_LENGTH])


def one_line(text: str) -> str:
    """Text with its line breaks escaped, so a multi-line value keeps to its table row."""
    return text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


def echo_json(value: object) -> None:
    """Print a JSON document (the ``--json`` output of every command)."""
    click.echo(json.dumps(value, indent=2))


def echo_table(headers: Sequence[str], rows: list, empty: str) -> None:
    """Rows of text as aligned columns under a header, or ``empty`` when there are none."""
    if not rows:
        click.echo(empty)
        return
    cells = [list(headers)] + [["-" if cell is None else str(cell) for cell in row]
                               for row in rows]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]
    for row in cells:
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo(line.rstrip())


def tag_row(tag: Tag) -> dict:
    """A tag row of ``history`` and the write commands' ``--json`` output."""
    return {"name": tag.name, "manifest_digest": tag.manifest_digest,
            "docker_image_id": tag.docker_image_id,
            "lifetime_start": rfc3339(tag.lifetime_start_ts),
            "lifetime_end": rfc3339(tag.lifetime_end_ts), "reversion": bool(tag.reversion)}
