"""Compare latency results across scales: growth per method, and the misses of the targets.

Give it the JSON files ``benchmarks/latency.py`` wrote; they are grouped by model (pre-OCI or
OCI) and backend, and each group's smallest and largest scale are compared::

    python benchmarks/compare.py benchmarks/results/*.json
    python benchmarks/compare.py --markdown benchmarks/results/*.json > benchmarks/results/README.md

Per method and subject it shows the interface median at each scale, its ratio to the raw
SQL of the same run, and the growth (median at the large scale over the small one). Targets:
within 1.3x of raw SQL on PostgreSQL and 2x on SQLite (every run), and no more than 1.2x
growth. A missed target is marked ``RAW`` or ``GROWTH``; work over the whole database
(``scope: database``) grows with the data by design and is not held to the growth target.
Exit status 1 when a target is missed.
"""
import json
import sys
from collections import defaultdict

import click

RAW_TARGETS = {"postgresql": 1.3, "sqlite": 2.0}
GROWTH_TARGET = 1.2


def load(paths: list) -> dict:
    """``{(model, backend): [run, ...]}`` sorted by scale (runs before ``--model``: pre-OCI).

    Files of other benchmarks in the same folder (no ``backend``, no ``scale``) are skipped.
    """
    runs = defaultdict(list)
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            run = json.load(handle)
        if "backend" not in run or "scale" not in run:
            continue
        runs[run.get("model", "pre-oci"), run["backend"]].append(run)
    for key in runs:
        runs[key].sort(key=lambda run: run["scale"])
    return dict(runs)


def compare(small: dict, large: dict) -> tuple:
    """Rows of the comparison of two runs of one backend, and how many targets were missed."""
    target = RAW_TARGETS.get(large["backend"])
    before = {(r["method"], r["size_class"]): r for r in small["results"]}
    rows, misses = [], 0
    for after in large["results"]:
        key = (after["method"], after["size_class"])
        first = before.get(key)
        growth = (after["median_us"] / first["median_us"]) if first else None
        flags = []
        ratios = [r["ratio"] for r in (first, after) if r and r["ratio"] is not None]
        if target is not None and any(ratio > target for ratio in ratios):
            flags.append("RAW")
        if growth is not None and growth > GROWTH_TARGET and after.get("scope") != "database":
            flags.append("GROWTH")
        misses += bool(flags)
        rows.append({"method": after["method"], "repo": after["size_class"],
                     "statements": after["statements"], "raw_statements": after["raw_statements"],
                     "rows": after["rows"],
                     "small_us": first["median_us"] if first else None,
                     "small_raw_us": first["raw_median_us"] if first else None,
                     "small_ratio": first["ratio"] if first else None,
                     "large_us": after["median_us"], "large_raw_us": after["raw_median_us"],
                     "large_ratio": after["ratio"], "large_p99_us": after["p99_us"],
                     "growth": round(growth, 2) if growth is not None else None,
                     "flags": " ".join(flags)})
    return rows, misses


COLUMNS = [("method", "method"), ("repo", "repo"), ("stmts", "statements"),
           ("raw stmts", "raw_statements"), ("rows", "rows"),
           ("small: us", "small_us"), ("raw us", "small_raw_us"), ("ratio", "small_ratio"),
           ("large: us", "large_us"), ("p99 us", "large_p99_us"), ("raw us", "large_raw_us"),
           ("ratio", "large_ratio"), ("growth", "growth"), ("misses", "flags")]


def _cell(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return "%.2f" % value if value < 10 else "%.0f" % value
    return str(value)


def render(backend: str, small: dict, large: dict, rows: list, markdown: bool) -> str:
    """One backend's comparison as an aligned text table or a markdown table."""
    headers = [title.replace("small", "%g%%" % (small["scale"] * 100))
               .replace("large", "%g%%" % (large["scale"] * 100)) for title, _ in COLUMNS]
    cells = [[_cell(row[key]) for _, key in COLUMNS] for row in rows]
    target = RAW_TARGETS.get(backend)
    title = ("%s%s: scale %g vs %g, raw target %s, growth target %gx; load average %s and %s "
             "(%d cpus, shared), commit %s"
             % ("OCI model, " if large.get("model") == "oci" else "pre-OCI model, ", backend,
                small["scale"], large["scale"], "%gx" % target if target else "none",
                GROWTH_TARGET,
                small["machine"]["load_average"], large["machine"]["load_average"],
                large["machine"]["cpus"], large["machine"]["commit"]))
    fills = "; ".join("fill at %g%%: %ss, %.0f MiB, %s tag rows, %s images" % (
        run["scale"] * 100, run["fill"]["fill_seconds"], run["fill"]["database_bytes"] / 1048576.0,
        run["fill"]["counts"]["repository_tag"], run["fill"]["counts"]["image"])
        for run in (small, large))
    if markdown:
        lines = ["### " + title, "", fills + ".", "", "| " + " | ".join(headers) + " |",
                 "|" + "|".join("---" for _ in headers) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in cells]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in [headers] + cells) for i in range(len(headers))]
    lines = [title, fills] + ["  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(r, widths, strict=True)))
                       for r in [headers] + cells]
    return "\n".join(lines)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--markdown", is_flag=True, help="Markdown tables instead of aligned text.")
def main(paths, markdown: bool) -> None:
    """Compare each backend's smallest and largest scale in the given result files."""
    total = 0
    for (model, backend), runs in sorted(load(list(paths)).items()):
        if len(runs) < 2:
            click.echo("%s on %s: one run only (scale %g), nothing to compare"
                       % (model, backend, runs[0]["scale"]), err=True)
            continue
        rows, misses = compare(runs[0], runs[-1])
        total += misses
        click.echo(render(backend, runs[0], runs[-1], rows, markdown))
        click.echo("\n%s on %s: %d of %d rows miss a target\n"
                   % (model, backend, misses, len(rows)))
    sys.exit(1 if total else 0)


if __name__ == "__main__":
    main()
