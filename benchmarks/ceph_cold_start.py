"""The cold start of the test cluster (``tests/ceph/rgw.py start``) and its memory when idle.

``--runs`` times, one after the other: runs ``/usr/bin/python3 tests/ceph/rgw.py start`` in a
new folder (a new monitor, OSD, pools, gateway, user and bucket), times it until the printed
endpoint has answered a first S3 request (a ``head_bucket`` through boto3 with the printed
credentials), waits ``--idle-s`` seconds and reads the resident set size of ``ceph-mon``,
``ceph-osd`` and ``radosgw`` from /proc, then stops the cluster. Prints each run and the
best and median; ``--json`` writes them::

    python benchmarks/ceph_cold_start.py --json benchmarks/results/ceph-cold-start.json

Needs the Debian packages ``ceph-mon ceph-osd radosgw python3-rados``; Linux (/proc);
not part of the tests.
"""
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional

import boto3
import click
from botocore.config import Config

SCRIPT = Path(__file__).resolve().parent.parent / "tests" / "ceph" / "rgw.py"
SYSTEM_PYTHON = "/usr/bin/python3"
DAEMONS = {"ceph-mon": "mon.a", "ceph-osd": "osd.0", "radosgw": "client.rgw"}


def _rss_mib(pid: int) -> float:
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _exports(output: str) -> dict:
    values = {}
    for line in output.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        values[name] = value
    return values


def start_once(folder: str, idle_s: float) -> dict:
    """Start a cluster in ``folder``: seconds to a first S3 answer, and idle RSS per daemon."""
    started = time.monotonic()
    output = subprocess.run([SYSTEM_PYTHON, str(SCRIPT), "start", "--dir", folder],
                            check=True, capture_output=True, text=True).stdout
    script_s = time.monotonic() - started
    values = _exports(output)
    endpoint = values["REGISTRY_MODEL_S3_URI"].split("endpoint=", 1)[1]
    client = boto3.client("s3", endpoint_url=endpoint,
                          aws_access_key_id=values["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=values["AWS_SECRET_ACCESS_KEY"],
                          region_name="us-east-1",
                          config=Config(s3={"addressing_style": "path"}))
    client.head_bucket(Bucket=values["REGISTRY_MODEL_S3_URI"][5:].split("/", 1)[0])
    first_answer_s = time.monotonic() - started
    time.sleep(idle_s)
    rss = {}
    for daemon, name in DAEMONS.items():
        pid = int(Path(folder, "run", name + ".pid").read_text().strip())
        rss[daemon] = round(_rss_mib(pid), 1)
    return {"script_s": round(script_s, 2), "first_s3_answer_s": round(first_answer_s, 2),
            "idle_rss_mib": rss, "idle_rss_total_mib": round(sum(rss.values()), 1)}


@click.command()
@click.option("--runs", default=5, show_default=True, type=click.IntRange(1))
@click.option("--idle-s", default=10.0, show_default=True,
              help="Seconds to leave the cluster idle before reading its memory.")
@click.option("--json", "json_path", default=None, help="Write the figures to this file.")
def main(runs: int, idle_s: float, json_path: Optional[str]) -> None:
    """Time the test cluster's cold start to a working S3 endpoint; read its idle memory."""
    results = []
    load_before = os.getloadavg()
    for _ in range(runs):
        folder = tempfile.mkdtemp(prefix="ceph_cold_start_")
        try:
            results.append(start_once(folder, idle_s))
        finally:
            subprocess.run([SYSTEM_PYTHON, str(SCRIPT), "stop", "--dir", folder], check=True)
        row = results[-1]
        click.echo("start %.2f s, first S3 answer %.2f s, idle RSS %s (%.1f MiB)"
                   % (row["script_s"], row["first_s3_answer_s"], row["idle_rss_mib"],
                      row["idle_rss_total_mib"]))
    starts = [row["first_s3_answer_s"] for row in results]
    totals = [row["idle_rss_total_mib"] for row in results]
    figures = {"load_average_before": [round(value, 2) for value in load_before],
               "load_average_after": [round(value, 2) for value in os.getloadavg()],
               "runs": results, "idle_s": idle_s,
               "first_s3_answer_s": {"best": min(starts),
                                     "median": round(statistics.median(starts), 2)},
               "idle_rss_total_mib": {"median": round(statistics.median(totals), 1)}}
    click.echo("cold start to a first S3 answer: best %.2f s, median %.2f s; idle RSS median "
               "%.1f MiB; load average %s -> %s"
               % (min(starts), statistics.median(starts), statistics.median(totals),
                  figures["load_average_before"], figures["load_average_after"]))
    if json_path:
        Path(json_path).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
