"""What the commands print (registry_model/cli/output.py): times, sizes, digests, tables."""
from datetime import datetime, timedelta, timezone

import click
import pytest
from click.testing import CliRunner

from registry_model.cli import output
from registry_model.datatypes import Tag

from . import START_TS

SHOWN = "2023-11-14T22:13:20Z"


@pytest.mark.parametrize("value, shown", [
    (START_TS, SHOWN), (float(START_TS), SHOWN),
    (datetime(2023, 11, 14, 22, 13, 20), SHOWN),  # naive: UTC, as the library stores it
    (datetime(2023, 11, 14, 23, 13, 20, tzinfo=timezone(timedelta(hours=1))), SHOWN),
    ("2023-11-14T22:13:20.5Z", "2023-11-14T22:13:20.500000Z"),
    ("last tuesday", "last tuesday"),  # an image's own text, not a time: kept as it is
    (None, None),
])
def test_rfc3339_shows_every_kind_of_time_as_utc(value, shown):
    assert output.rfc3339(value) == shown


@pytest.mark.parametrize("size, shown", [
    (None, "-"), (0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"),
    (5 * 1024 ** 2, "5.0 MiB"), (3 * 1024 ** 3, "3.0 GiB"), (2 * 1024 ** 4, "2.0 TiB"),
])
def test_human_size_picks_the_largest_unit_below_1024(size, shown):
    assert output.human_size(size) == shown


def test_short_digest_and_one_line():
    assert output.short_digest("sha256:" + "ab" * 32) == "sha256:" + "ab" * 6
    assert output.short_digest(None) is None
    assert output.one_line("a\\b\r\nc") == "a\\\\b\\r\\nc"


def _printed(*args) -> str:
    return CliRunner().invoke(click.command()(lambda: output.echo_table(*args))).output


def test_echo_table_aligns_columns_and_shows_none_as_a_dash():
    assert _printed(["NAME", "SIZE"], [["latest", 1], ["v1.0.0", None]], "none") == (
        "NAME    SIZE\nlatest  1\nv1.0.0  -\n")
    assert _printed(["NAME"], [], "no tags") == "no tags\n"


def test_tag_row_shows_its_times_in_rfc3339():
    tag = Tag(id=1, name="latest", repository=None, docker_image_id="a" * 64, reversion=0,
              lifetime_start_ts=START_TS, lifetime_end_ts=None, image_id=2, hidden=False,
              manifest_digest="sha256:" + "0" * 64, immutable=False)
    assert output.tag_row(tag) == {"name": "latest", "manifest_digest": "sha256:" + "0" * 64,
                            "docker_image_id": "a" * 64, "lifetime_start": SHOWN,
                            "lifetime_end": None, "reversion": False}
