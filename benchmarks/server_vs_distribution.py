"""Our server against Distribution (Debian's ``docker-registry``), both on loopback, one run.

Starts ``docker-registry serve`` (filesystem storage in a temporary folder) and
``registry-model serve`` (``--workers``, a temporary SQLite file or ``--db``, a
FilesystemBlobStore with fsync on, as the command runs it) on free ports, builds a
``--layers``-layer image of ``--size-mb`` incompressible bytes as an OCI layout, and for each
server, in turn:

1. times ``skopeo copy`` of the image into it (push) and out of it into a new ``dir:`` (pull);
2. counts manifest ``GET``\\ s by tag that ``--clients`` concurrent client processes (one
   keep-alive connection each) complete in ``--seconds``.

Prints both servers' figures and the ratios (ours / Distribution's: time ratios below 1.5 and
a requests-per-second ratio above 0.5 meet issue 11's targets); ``--json`` writes them::

    python benchmarks/server_vs_distribution.py
    python benchmarks/server_vs_distribution.py --json benchmarks/results/server-vs-dist.json

Needs ``docker-registry`` and ``skopeo`` (Debian packages). Linux; not part of the tests.
"""
import http.client
import json
import multiprocessing
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import click

from registry_model.archive.oci_layout import make_layer_tar, write_oci_layout
from registry_model.testing.served import free_port, served_registry

MIB = 1024 * 1024
ACCEPT = ("application/vnd.oci.image.manifest.v1+json,"
          "application/vnd.docker.distribution.manifest.v2+json")
DISTRIBUTION_CONFIG = """version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: {host}
"""


def _wait_for(host: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen("http://%s/v2/" % host, timeout=2):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("docker-registry did not start:\n%s"
                                   % log.read_text()) from None
            time.sleep(0.2)


@contextmanager
def distribution(folder: Path) -> Iterator[str]:
    """Run Debian's docker-registry on a free loopback port for the block; its host."""
    host = "127.0.0.1:%d" % free_port()
    config = folder / "distribution.yml"
    config.write_text(DISTRIBUTION_CONFIG.format(root=folder / "distribution", host=host))
    log = folder / "distribution.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=output,
                                   stderr=subprocess.STDOUT)
    try:
        _wait_for(host, process, log)
        yield host
    finally:
        process.terminate()
        process.wait(timeout=30)


def build_image(folder: Path, size_mb: int, layers: int) -> None:
    """An OCI layout at ``folder`` with tag ``bench``: ``layers`` random, uncompressed layers."""
    each = size_mb * MIB // layers
    tars = [make_layer_tar({"layer%d.bin" % index: os.urandom(each)}) for index in range(layers)]
    write_oci_layout(folder, tars, {"architecture": "amd64", "os": "linux"}, "bench",
                     compression=None)


def skopeo(*args: str) -> float:
    """Run skopeo (no policy checks, plain HTTP); the wall seconds it took."""
    started = time.monotonic()
    subprocess.run(["skopeo", "--insecure-policy", *args], check=True, capture_output=True,
                   timeout=1200)
    return time.monotonic() - started


def _client(host: str, path: str, seconds: float, start, results) -> None:
    connection = http.client.HTTPConnection(host, timeout=30)
    start.wait()
    count = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        connection.request("GET", path, headers={"Accept": ACCEPT})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError("GET %s answered %d" % (path, response.status))
        count += 1
    results.put(count)


def manifest_rps(host: str, clients: int, seconds: float) -> float:
    """Manifest GETs by tag per second that ``clients`` processes complete together."""
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    workers = [context.Process(target=_client, args=(host, "/v2/bench/image/manifests/v1",
                                                     seconds, start, results))
               for _ in range(clients)]
    for worker in workers:
        worker.start()
    time.sleep(1)  # every client connected and waiting
    start.set()
    total = sum(results.get(timeout=seconds + 60) for _ in workers)
    for worker in workers:
        worker.join(timeout=30)
    return total / seconds


def measure(host: str, layout: Path, folder: Path, clients: int, seconds: float) -> dict:
    target = "docker://%s/bench/image:v1" % host
    push_s = skopeo("copy", "--dest-tls-verify=false", "oci:%s:bench" % layout, target)
    pull_s = skopeo("copy", "--src-tls-verify=false", target, "dir:%s" % folder)
    return {"push_s": round(push_s, 2), "pull_s": round(pull_s, 2),
            "manifest_get_rps": round(manifest_rps(host, clients, seconds), 1)}


@click.command()
@click.option("--size-mb", default=200, show_default=True, type=click.IntRange(1))
@click.option("--layers", default=10, show_default=True, type=click.IntRange(1))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1))
@click.option("--clients", default=8, show_default=True, type=click.IntRange(1))
@click.option("--seconds", default=10.0, show_default=True, help="Length of the GET run.")
@click.option("--db", "uri", default=None, help="Our database (default: a temporary SQLite).")
@click.option("--json", "json_path", default=None, help="Write the figures to this file.")
def main(size_mb: int, layers: int, workers: int, clients: int, seconds: float,
         uri: Optional[str], json_path: Optional[str]) -> None:
    """Time skopeo push and pull and manifest GETs on both servers."""
    for tool in ("docker-registry", "skopeo"):
        if shutil.which(tool) is None:
            raise click.ClickException("%s is not installed (apt-get install %s)"
                                       % (tool, tool))
    with tempfile.TemporaryDirectory(prefix="server_vs_distribution_") as temp:
        folder = Path(temp)
        build_image(folder / "layout", size_mb, layers)
        with distribution(folder) as host:
            theirs = measure(host, folder / "layout", folder / "pulled-distribution",
                             clients, seconds)
        uri = uri or "sqlite:///%s" % (folder / "registry.db")
        with served_registry(uri, folder / "blobs", workers=workers) as server:
            ours = measure(server.host, folder / "layout", folder / "pulled-ours",
                           clients, seconds)
    figures = {
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "image": {"size_mb": size_mb, "layers": layers},
        "workers": workers, "clients": clients, "seconds": seconds,
        "database": uri.split(":", 1)[0] if uri else "sqlite",
        "distribution": theirs, "registry_model": ours,
        "ratios": {"push": round(ours["push_s"] / theirs["push_s"], 2),
                   "pull": round(ours["pull_s"] / theirs["pull_s"], 2),
                   "manifest_get_rps": round(ours["manifest_get_rps"]
                                             / theirs["manifest_get_rps"], 2)},
    }
    click.echo(json.dumps(figures, indent=2))
    if json_path:
        Path(json_path).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
