"""Push and pull of an image through ``registry-model serve`` on S3 against the filesystem store.

Builds the image ``benchmarks/server_vs_distribution.py`` builds (``--layers`` random,
uncompressed layers, ``--size-mb`` in all, as an OCI layout), then, ``--repeat`` times and
alternating which goes first, for each storage:

* starts ``registry-model serve`` (``--workers``) on a new scratch database -- a SQLite file,
  or a new database on the server ``--db`` names, the same kind for both storages -- and
  either a FilesystemBlobStore in a temporary folder (fsync on, as the command runs it) or
  the S3 gateway ``REGISTRY_MODEL_S3_URI`` names, under a prefix of its own;
* times ``skopeo copy`` of the image into it (push) and out of it into a new ``dir:`` (pull).

Each run starts from an empty database and an empty store, so no layer is ever found
already there. Prints the best and median of each and the ratios S3 / filesystem;
``--json`` writes every run::

    eval "$(/usr/bin/python3 tests/ceph/rgw.py start --dir /tmp/ceph)"
    python benchmarks/server_s3.py --json benchmarks/results/server-s3.json

Needs ``skopeo`` and a running gateway; not part of the tests.
"""
import json
import os
import shutil
import statistics
import tempfile
import uuid
from pathlib import Path
from typing import Optional

import click
from s3_transfer import finish
from server_vs_distribution import build_image, skopeo

from registry_model.blobstore.uri import open_store
from registry_model.testing.databases import scratch_database
from registry_model.testing.served import served_registry


def _run_once(storage, uri: Optional[str], layout: Path, folder: Path, workers: int) -> dict:
    with scratch_database(uri) as database:
        with served_registry(database, storage, workers=workers) as server:
            target = "docker://%s/bench/image:v1" % server.host
            push_s = skopeo("copy", "--dest-tls-verify=false", "oci:%s:bench" % layout, target)
            pulled = folder / ("pulled-" + uuid.uuid4().hex)
            pull_s = skopeo("copy", "--src-tls-verify=false", target, "dir:%s" % pulled)
            shutil.rmtree(pulled)
    return {"push_s": push_s, "pull_s": pull_s}


def _s3_storage(base: str) -> str:
    head, _, query = base.partition("?")
    return "%s/bench-server-%s?%s" % (head.rstrip("/"), uuid.uuid4().hex[:8], query)


def _empty_prefix(storage: str) -> None:
    """Delete what a run left under its prefix, so the gateway's memory stays small."""
    store = open_store(storage)
    client = store._client
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=store.bucket, Prefix=store._keys.root):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", ())]
        if keys:
            client.delete_objects(Bucket=store.bucket, Delete={"Objects": keys, "Quiet": True})


def _stats(values: list) -> dict:
    return {"best_s": round(min(values), 2), "median_s": round(statistics.median(values), 2),
            "runs_s": [round(value, 2) for value in values]}


@click.command()
@click.option("--size-mb", default=200, show_default=True, type=click.IntRange(1))
@click.option("--layers", default=10, show_default=True, type=click.IntRange(1))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1))
@click.option("--repeat", default=3, show_default=True, type=click.IntRange(1))
@click.option("--db", "uri", default=None,
              help="A database server to make scratch databases on (default: SQLite files).")
@click.option("--s3", "s3_uri", default=None,
              help="An s3:// storage URI (default: $REGISTRY_MODEL_S3_URI).")
@click.option("--json", "json_path", default=None, help="Write the figures to this file.")
def main(size_mb: int, layers: int, workers: int, repeat: int, uri: Optional[str],
         s3_uri: Optional[str], json_path: Optional[str]) -> None:
    """Time skopeo push and pull through our server on S3 and on the filesystem store."""
    s3_uri = s3_uri or os.environ.get("REGISTRY_MODEL_S3_URI")
    if not s3_uri:
        raise click.ClickException("no gateway: set REGISTRY_MODEL_S3_URI or pass --s3 "
                                   "(tests/ceph/rgw.py start prints it)")
    if shutil.which("skopeo") is None:
        raise click.ClickException("skopeo is not installed (apt-get install skopeo)")
    runs: dict = {"filesystem": [], "s3": []}
    with tempfile.TemporaryDirectory(prefix="server_s3_") as temp:
        folder = Path(temp)
        build_image(folder / "layout", size_mb, layers)
        load_before = os.getloadavg()
        for round_number in range(repeat):
            order = ("filesystem", "s3") if round_number % 2 == 0 else ("s3", "filesystem")
            for kind in order:
                if kind == "s3":
                    storage = _s3_storage(s3_uri)
                    try:
                        runs[kind].append(_run_once(storage, uri, folder / "layout", folder,
                                                    workers))
                    finally:
                        _empty_prefix(storage)
                else:
                    blobs = folder / ("blobs-" + uuid.uuid4().hex)
                    runs[kind].append(_run_once(blobs, uri, folder / "layout", folder,
                                                workers))
                    shutil.rmtree(blobs)
    figures = {
        "load_average_before": [round(value, 2) for value in load_before],
        "load_average_after": [round(value, 2) for value in os.getloadavg()],
        "image": {"size_mb": size_mb, "layers": layers}, "workers": workers,
        "repeat": repeat, "database": uri.split(":", 1)[0] if uri else "sqlite",
    }
    for kind, values in runs.items():
        figures[kind] = {step: _stats([run[step + "_s"] for run in values])
                         for step in ("push", "pull")}
    figures["ratios_s3_over_filesystem"] = {
        step: {measure: round(figures["s3"][step][measure + "_s"]
                              / figures["filesystem"][step][measure + "_s"], 2)
               for measure in ("best", "median")}
        for step in ("push", "pull")}
    click.echo("%-12s %8s %8s %8s %8s" % ("", "push best", "median", "pull best", "median"))
    for kind in ("filesystem", "s3"):
        row = figures[kind]
        click.echo("%-12s %8.2f %8.2f %8.2f %8.2f" % (
            kind, row["push"]["best_s"], row["push"]["median_s"], row["pull"]["best_s"],
            row["pull"]["median_s"]))
    click.echo("s3 / filesystem: %s" % json.dumps(figures["ratios_s3_over_filesystem"]))
    finish(figures, json_path)


if __name__ == "__main__":
    main()
