"""Put and get of one large blob through ``S3BlobStore`` against plain boto3, same gateway.

The gateway is the one ``REGISTRY_MODEL_S3_URI`` names (with the AWS credential variables),
as ``tests/ceph/rgw.py start`` prints them, or ``--uri``. A file of ``--size-mb``
pseudo-random bytes is written to a temporary folder (the page cache holds it, so reading
it costs little), then, ``--repeat`` times, in turn and alternating which goes first:

* **ours, put**: ``S3BlobStore.put(file)`` -- hashes the bytes, uploads them as a multipart
  upload under ``tmp/``, copies the object to its digest key, deletes the temporary one;
* **boto3, put**: ``client.upload_fileobj(file, ...)`` with boto3's default
  ``TransferConfig`` (8 MiB parts, 10 threads) on a client with boto3's default
  configuration -- the limit: no digest, no copy;
* **ours, get**: ``store.open(digest)`` read to the end, 8 MiB at a time, into /dev/null;
* **boto3, get**: ``client.download_fileobj(...)`` into /dev/null, default ``TransferConfig``
  (ranged GETs of 8 MiB, 10 threads).

Ours uses its own client (:func:`~registry_model.blobstore.s3_bucket.make_client`: 16 MiB
parts, 4 at a time, no CRC32 over plain HTTP where the signature covers each body's
SHA-256); the baseline is ``boto3.client("s3", endpoint_url=...)`` as a user would make it
(botocore computes a CRC32 of every part by default). Every object is deleted after
its round, so the gateway's memory (a memstore OSD) does not fill up. Prints the best and
the median of each and the ratios ours / boto3 (target: at most 1.1); ``--json`` writes
every run::

    eval "$(/usr/bin/python3 tests/ceph/rgw.py start --dir /tmp/ceph)"
    python benchmarks/s3_transfer.py --json benchmarks/results/s3-transfer.json

Needs a running gateway; not part of the tests.
"""
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable, Optional

import boto3
import click

from registry_model.blobstore.s3 import S3BlobStore
from registry_model.blobstore.uri import open_store

MIB = 1024 * 1024
READ_SIZE = 8 * MIB


def write_random_file(path: Path, size: int) -> None:
    """``size`` incompressible bytes at ``path``, written a MiB at a time."""
    with open(path, "wb") as handle:
        left = size
        while left:
            piece = os.urandom(min(MIB, left))
            handle.write(piece)
            left -= len(piece)


def _timed(step: Callable[[], object]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


class Runs:
    """One round of the four transfers against one store; the baseline's key is its own."""

    def __init__(self, store: S3BlobStore, source: Path) -> None:
        self.store = store
        self.client = boto3.client("s3", endpoint_url=store.endpoint_url)
        self.source = source
        self.key = store._keys.root + "bench-baseline/" + uuid.uuid4().hex
        self.digest: Optional[str] = None

    def ours_put(self) -> None:
        with open(self.source, "rb") as handle:
            self.digest = self.store.put(handle).digest

    def boto3_put(self) -> None:
        with open(self.source, "rb") as handle:
            self.client.upload_fileobj(handle, self.store.bucket, self.key)

    def ours_get(self) -> None:
        with self.store.open(self.digest) as reader, open(os.devnull, "wb") as sink:
            while True:
                chunk = reader.read(READ_SIZE)
                if not chunk:
                    break
                sink.write(chunk)

    def boto3_get(self) -> None:
        with open(os.devnull, "wb") as sink:
            self.client.download_fileobj(self.store.bucket, self.key, sink)

    def clean(self) -> None:
        self.store.remove_many([self.digest])
        self.client.delete_object(Bucket=self.store.bucket, Key=self.key)


def measure(store: S3BlobStore, source: Path, repeat: int) -> dict:
    """Seconds of every run of the four transfers, interleaved round by round."""
    times: dict = {"ours_put": [], "boto3_put": [], "ours_get": [], "boto3_get": []}
    for round_number in range(repeat):
        runs = Runs(store, source)
        pairs = (("ours_put", "boto3_put"), ("ours_get", "boto3_get"))
        for pair in pairs:
            order = pair if round_number % 2 == 0 else pair[::-1]
            for name in order:
                times[name].append(_timed(getattr(runs, name)))
        runs.clean()
        time.sleep(2)  # the gateway's collector frees the deleted bytes
    return times


def summary(times: dict, size_mb: int) -> dict:
    """Best and median seconds, MiB/s of the best, and the ratios ours / boto3.

    Besides the ratios of the best and of the medians, ``paired_median`` is the median of
    each round's own ratio: the two runs of a round share the machine's load of the moment.
    """
    figures = {}
    for name, seconds in times.items():
        figures[name] = {"best_s": round(min(seconds), 3),
                         "median_s": round(statistics.median(seconds), 3),
                         "best_mib_per_s": round(size_mb / min(seconds), 1),
                         "runs_s": [round(value, 3) for value in seconds]}
    for step in ("put", "get"):
        ours, theirs = figures["ours_" + step], figures["boto3_" + step]
        paired = [a / b for a, b in zip(times["ours_" + step], times["boto3_" + step],
                                           strict=True)]
        figures[step + "_ratio"] = {
            "best": round(ours["best_s"] / theirs["best_s"], 2),
            "median": round(ours["median_s"] / theirs["median_s"], 2),
            "paired_median": round(statistics.median(paired), 2)}
    return figures


def finish(figures: dict, json_path: Optional[str]) -> None:
    """Print the load averages around the runs; write the figures to ``json_path`` if given."""
    click.echo("load average %s -> %s" % (figures["load_average_before"],
                                           figures["load_average_after"]))
    if json_path:
        Path(json_path).write_text(json.dumps(figures, indent=2) + "\n")


@click.command()
@click.option("--size-mb", default=1024, show_default=True, type=click.IntRange(1))
@click.option("--repeat", default=5, show_default=True, type=click.IntRange(1))
@click.option("--uri", default=None,
              help="An s3:// storage URI (default: $REGISTRY_MODEL_S3_URI).")
@click.option("--json", "json_path", default=None, help="Write the figures to this file.")
def main(size_mb: int, repeat: int, uri: Optional[str], json_path: Optional[str]) -> None:
    """Time put and get of one blob through S3BlobStore and through plain boto3."""
    uri = uri or os.environ.get("REGISTRY_MODEL_S3_URI")
    if not uri:
        raise click.ClickException("no gateway: set REGISTRY_MODEL_S3_URI or pass --uri "
                                   "(tests/ceph/rgw.py start prints it)")
    head, _, query = uri.partition("?")
    store = open_store("%s/bench-%s?%s" % (head.rstrip("/"), uuid.uuid4().hex[:8], query))
    with tempfile.TemporaryDirectory(prefix="s3_transfer_") as folder:
        source = Path(folder) / "blob"
        write_random_file(source, size_mb * MIB)
        load_before = os.getloadavg()
        times = measure(store, source, repeat)
    figures = {"load_average_before": [round(value, 2) for value in load_before],
               "load_average_after": [round(value, 2) for value in os.getloadavg()],
               "blob_mib": size_mb, "repeat": repeat,
               "part_size_mib": store._part_size // MIB,
               "baseline": "boto3 upload_fileobj / download_fileobj, default TransferConfig",
               **summary(times, size_mb)}
    click.echo("%-10s %9s %9s %9s" % ("", "best s", "median s", "MiB/s"))
    for name in times:
        row = figures[name]
        click.echo("%-10s %9.2f %9.2f %9.1f" % (name, row["best_s"], row["median_s"],
                                                 row["best_mib_per_s"]))
    for step in ("put", "get"):
        ratio = figures[step + "_ratio"]
        click.echo("%s ratio ours/boto3: best %.2f, median %.2f, paired median %.2f "
                   "(target 1.1)" % (step, ratio["best"], ratio["median"],
                                     ratio["paired_median"]))
    finish(figures, json_path)


if __name__ == "__main__":
    main()
