"""Push and pull one large blob through ``registry-model serve`` and measure the server's RSS.

Starts the server (gunicorn, one worker) on a free loopback port against a temporary SQLite
file (or ``--db``) and a FilesystemBlobStore in a temporary folder, then:

1. pushes a blob of ``--size-mb`` pseudo-random bytes as one streamed PATCH (the client
   generates the bytes as it sends them, so neither side ever holds the blob) and a PUT
   with its digest;
2. pulls it back with a streamed GET, hashing as it reads.

While each step runs, the resident set size of the server's processes (the gunicorn master
and its worker) is sampled every 50 ms from /proc. Prints the idle RSS, the peak during the
push and the pull, and the throughput; ``--json`` writes them to a file::

    python benchmarks/server_memory.py --size-mb 1024
    python benchmarks/server_memory.py --size-mb 1024 --json benchmarks/results/server-memory.json

Linux only (/proc). Not part of the tests.
"""
import hashlib
import http.client
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator, Optional

import click

from registry_model.testing.served import served_registry

MIB = 1024 * 1024
CHUNK = 4 * MIB


def _children(pid: int) -> list:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path("/proc/%s/stat" % entry).read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _rss_kib(pid: int) -> int:
    try:
        for line in Path("/proc/%d/status" % pid).read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _server_pids(port: int) -> list:
    """The registry-model process listening on the port and its gunicorn workers."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            command = Path("/proc/%s/cmdline" % entry).read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in command and ("127.0.0.1:%d" % port).encode() in command:
            master = int(entry)
            return [master] + _children(master)
    raise RuntimeError("no server process found on port %d" % port)


class Sampler(threading.Thread):
    """Samples the summed and per-process RSS of the server every 50 ms until stopped."""

    def __init__(self, pids: list) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.peak_total = 0
        self.peak_each = {pid: 0 for pid in pids}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            sizes = {pid: _rss_kib(pid) for pid in self.pids}
            self.peak_total = max(self.peak_total, sum(sizes.values()))
            for pid, size in sizes.items():
                self.peak_each[pid] = max(self.peak_each[pid], size)
            time.sleep(0.05)


def _generated(size: int, hasher) -> Iterator[bytes]:
    """``size`` pseudo-random bytes, made a chunk at a time (a seeded hash chain)."""
    block = hashlib.sha256(b"seed").digest() * (CHUNK // 32)
    sent = 0
    counter = 0
    while sent < size:
        piece = block[:min(CHUNK, size - sent)]
        # Vary each chunk cheaply so the blob is not one repeated block.
        piece = counter.to_bytes(8, "big") + piece[8:] if len(piece) > 8 else piece
        hasher.update(piece)
        sent += len(piece)
        counter += 1
        yield piece


def _measured(pids: list, step) -> tuple:
    sampler = Sampler(pids)
    sampler.start()
    started = time.monotonic()
    result = step()
    seconds = time.monotonic() - started
    sampler.done.set()
    sampler.join()
    return result, seconds, sampler


def push(host: str, size: int) -> str:
    connection = http.client.HTTPConnection(host, timeout=600)
    connection.request("POST", "/v2/bench/memory/blobs/uploads/")
    response = connection.getresponse()
    response.read()
    location = response.headers["Location"]
    hasher = hashlib.sha256()
    connection.request("PATCH", location, body=_generated(size, hasher),
                       headers={"Content-Length": str(size),
                                "Content-Type": "application/octet-stream"})
    response = connection.getresponse()
    response.read()
    assert response.status == 202, response.status
    digest = "sha256:" + hasher.hexdigest()
    connection.request("PUT", "%s?digest=%s" % (response.headers["Location"], digest),
                       headers={"Content-Length": "0"})
    response = connection.getresponse()
    response.read()
    assert response.status == 201, response.status
    return digest


def pull(host: str, digest: str) -> int:
    connection = http.client.HTTPConnection(host, timeout=600)
    connection.request("GET", "/v2/bench/memory/blobs/%s" % digest)
    response = connection.getresponse()
    assert response.status == 200, response.status
    hasher = hashlib.sha256()
    received = 0
    while True:
        chunk = response.read(CHUNK)
        if not chunk:
            break
        hasher.update(chunk)
        received += len(chunk)
    assert "sha256:" + hasher.hexdigest() == digest
    return received


@click.command()
@click.option("--size-mb", default=1024, show_default=True, type=click.IntRange(1))
@click.option("--db", "uri", default=None, help="Database URI (default: a temporary SQLite).")
@click.option("--json", "json_path", default=None, help="Write the figures to this file.")
def main(size_mb: int, uri: Optional[str], json_path: Optional[str]) -> None:
    """Measure the server's memory while a large blob is pushed and pulled."""
    size = size_mb * MIB
    with tempfile.TemporaryDirectory(prefix="server_memory_") as folder:
        uri = uri or "sqlite:///%s" % os.path.join(folder, "registry.db")
        with served_registry(uri, Path(folder) / "blobs", workers=1) as server:
            port = int(server.host.rsplit(":", 1)[1])
            time.sleep(1)  # let the worker settle before the idle reading
            pids = _server_pids(port)
            idle = sum(_rss_kib(pid) for pid in pids)
            digest, push_s, pushing = _measured(pids, lambda: push(server.host, size))
            _, pull_s, pulling = _measured(pids, lambda: pull(server.host, digest))
    figures = {
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "blob_mib": size_mb,
        "processes": len(pids),
        "idle_rss_mib": round(idle / 1024, 1),
        "push_peak_rss_mib": round(pushing.peak_total / 1024, 1),
        "pull_peak_rss_mib": round(pulling.peak_total / 1024, 1),
        "push_growth_mib": round((pushing.peak_total - idle) / 1024, 1),
        "pull_growth_mib": round((pulling.peak_total - idle) / 1024, 1),
        "push_mib_per_s": round(size_mb / push_s, 1),
        "pull_mib_per_s": round(size_mb / pull_s, 1),
    }
    for key, value in figures.items():
        click.echo("%-20s %s" % (key, value))
    if json_path:
        Path(json_path).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
