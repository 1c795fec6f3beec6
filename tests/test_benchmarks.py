"""The benchmark harness keeps working: a tiny fill checks out, latency agrees with raw SQL.

``benchmarks/fill.py`` loads a scratch database at 0.1% with only the small subject, and
``benchmarks/latency.py`` runs every case on it once or twice. Timings are not asserted;
what is: the fill holds the shape it promises, every interface method of the harness ran,
each read returned as many rows as its hand-written SQL (latency.py exits non-zero
otherwise) and the statement counts stay within the interface's budgets.
"""
import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from registry_model.database import db
from registry_model.interface import RegistryDataInterface
from registry_model.testing.databases import scratch_database

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import cases  # noqa: E402
import cases_oci  # noqa: E402
import compare  # noqa: E402
import fill  # noqa: E402
import latency  # noqa: E402
import shape  # noqa: E402
import shape_oci  # noqa: E402

# Read-method budgets of the interface docstrings, for the cases that time them.
READ_BUDGETS = {"get_legacy_images": 2, "get_legacy_image(include_parents)": 2,
                "get_repo_blob_by_digest(include_placements)": 2,
                "get_legacy_images_owned_by_tag": 3}


@pytest.fixture
def filled_uri():
    """A scratch database filled at 0.1% with the small subject; the binding is restored."""
    previous = db.obj
    with scratch_database() as uri:
        result = CliRunner().invoke(fill.main, ["--db", uri, "--scale", "0.001",
                                                "--subjects", "small"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        try:
            yield uri
        finally:
            db.initialize(previous)


def test_fill_then_latency_agree_with_raw_sql(filled_uri, tmp_path):
    raw = latency.RawConnection(filled_uri)
    counts = {table: raw.query("SELECT COUNT(*) FROM %s" % table)[0][0]
              for table in shape.TABLES}
    totals = shape.totals(0.001)
    assert counts["namespace"] == totals.namespaces
    assert counts["repository"] == totals.repositories
    assert counts["tag_manifest_label"] == totals.labels
    assert counts["label"] == counts["tag_manifest_label"] + counts["oci_manifest_label"]
    # The OCI wing holds as many tag rows, on about one manifest per three of them.
    assert counts["oci_tag"] == counts["repository_tag"]
    assert counts["oci_tag"] // 4 < counts["oci_manifest"] < counts["oci_tag"]
    assert counts["oci_manifest_blob"] > counts["oci_manifest"]
    assert counts["repository_tag"] >= totals.tags
    assert counts["image"] >= totals.images
    ended = raw.query("SELECT COUNT(*) FROM repository_tag WHERE lifetime_end_ts IS NOT NULL "
                      "AND lifetime_end_ts <= %s", json.loads(
                          raw.query("SELECT value FROM benchmark_fill WHERE name = %s",
                                    "now")[0][0]))[0][0]
    assert ended > 0
    raw.connection.close()
    again = CliRunner().invoke(fill.main, ["--db", filled_uri, "--scale", "0.001"])
    assert again.exit_code == 1 and "holds repositories already" in again.output
    reused = CliRunner().invoke(fill.main, ["--db", filled_uri, "--scale", "0.001", "--reuse"])
    assert reused.exit_code == 0 and "already" in reused.output

    out = tmp_path / "run.json"
    result = CliRunner().invoke(latency.main, ["--db", filled_uri, "--json", str(out),
                                               "--repeat", "1", "--budget", "0"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    run = json.loads(out.read_text())
    warmed = run["machine"].get("warmed", {})  # read through before timing (MySQL: not)
    assert warmed.get("bytes", 0) > 0 or warmed.get("blocks", 0) > 0 or run["backend"] == "mysql"
    by_name = {record["method"]: record for record in run["results"]}
    expected = {case.name for case in cases.READS + cases.WRITES + cases.GLOBAL_WRITES}
    assert set(by_name) == expected
    timed_methods = {name.split("(")[0] for name in expected}
    assert timed_methods | set(cases.NOT_TIMED) == set(RegistryDataInterface.__abstractmethods__)
    assert not timed_methods & set(cases.NOT_TIMED)
    for case in cases.READS:
        record = by_name[case.name]
        assert record["size_class"] == "small"
        assert record["raw_median_us"] > 0 and record["rows"] is not None
        assert 1 <= record["statements"] <= READ_BUDGETS.get(_method(case.name), 1), record
    assert by_name["get_legacy_images"]["rows"] == 9  # the small subject's images
    assert by_name["list_manifest_labels"]["rows"] == shape.SUBJECTS[0].labels
    rows, _ = compare.compare(run, run)
    assert all(row["growth"] == 1.0 for row in rows)


def _method(case_name: str) -> str:
    """The call a case times (a ``(raw: ...)`` variant times it against other raw work)."""
    return case_name.split("(raw:")[0]


# The OCI model's read budgets, for the cases that time them (1 otherwise).
OCI_READ_BUDGETS = {"get_legacy_images": 2, "get_legacy_images_owned_by_tag": 3}


def test_latency_on_the_oci_model_agrees_with_raw_sql(filled_uri, tmp_path):
    out = tmp_path / "oci.json"
    result = CliRunner().invoke(latency.main, ["--model", "oci", "--db", filled_uri,
                                               "--json", str(out), "--repeat", "1",
                                               "--budget", "0"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    run = json.loads(out.read_text())
    assert run["model"] == "oci"
    by_name = {record["method"]: record for record in run["results"]}
    assert set(by_name) == {case.name for case in cases_oci.READS + cases_oci.WRITES}
    for case in cases_oci.READS:
        record = by_name[case.name]
        assert record["raw_median_us"] > 0 and record["rows"] is not None
        assert 1 <= record["statements"] <= OCI_READ_BUDGETS.get(_method(case.name), 1), record
    small = shape_oci.SUBJECT_SHAPES["small"]
    assert by_name["lookup_referrers"]["rows"] == small.referrers
    # Two image manifests on the small subject's chains, and one layer per referrer.
    assert by_name["get_legacy_images"]["rows"] > small.images + small.referrers
    assert by_name["list_manifest_labels"]["rows"] == shape.SUBJECTS[0].labels
    assert by_name["list_all_active_repository_tags"]["rows"] == shape.SUBJECTS[0].alive_tags
