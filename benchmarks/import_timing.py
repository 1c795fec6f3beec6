"""Time importing and exporting a ~200 MB docker-save archive, and count its SQL statements.

Generates an archive of incompressible (random) layers in a temporary folder, then runs the
functions behind ``registry-model import`` and ``registry-model export``
(:func:`registry_model.images.import_archive` and :func:`~registry_model.images.export_image`)
against the database named by ``--db`` (a temporary SQLite file without it; migrated when
needed) and a FilesystemBlobStore in the temporary folder, with fsync on as the command has it::

    python benchmarks/import_timing.py
    python benchmarks/import_timing.py --db postgresql://postgres@127.0.0.1:5432/rm_bench
    python benchmarks/import_timing.py --db mysql://root@127.0.0.1:3306/rm_bench --size-mb 50

Each run imports into a new repository (``bench/run-<random>``), so a database can be reused.
Rows: the first import (every layer uploaded), a second import of the same archive (nothing
uploaded, the tag moved) and the export; each with wall seconds, throughput over the archive's
layer bytes, and the statements sent (transaction control not counted). Not part of the tests.
"""
import hashlib
import os
import tempfile
import time
import uuid
from typing import Callable, Optional

import click

from registry_model.archive import read_docker_archive, write_docker_archive
from registry_model.archive.oci_layout import make_layer_tar
from registry_model.blobstore import FilesystemBlobStore
from registry_model.database import backend_name, configure
from registry_model.image_export import export_image
from registry_model.images import import_archive
from registry_model.manifests import generate_signing_key
from registry_model.migration import upgrade
from registry_model.testing.queries import count_statements

MIB = 1024 * 1024


def write_random_archive(folder: str, size_mb: int, layer_count: int) -> tuple:
    """A docker-save archive of ``layer_count`` random layers totalling about ``size_mb`` MiB.

    Returns ``(archive path, layer bytes)``. Layers go through files one at a time, so memory
    holds one layer, never the archive.
    """
    per_layer = size_mb * MIB // layer_count
    layer_files, diff_ids = [], []
    for index in range(layer_count):
        data = make_layer_tar({"data/layer-%d.bin" % index: os.urandom(per_layer)})
        path = os.path.join(folder, "layer-%d.tar" % index)
        with open(path, "wb") as out:
            out.write(data)
        layer_files.append(path)
        diff_ids.append("sha256:" + hashlib.sha256(data).hexdigest())
    config = ('{"architecture":"amd64","os":"linux","config":{"Labels":{"bench":"import"}},'
              '"rootfs":{"type":"layers","diff_ids":[%s]}}'
              % ",".join('"%s"' % d for d in diff_ids)).encode()
    archive = os.path.join(folder, "bench.tar")
    write_docker_archive(archive, "bench/image:latest", config,
                         ((d, os.path.getsize(p), open(p, "rb"))
                          for d, p in zip(diff_ids, layer_files, strict=True)))
    total = sum(os.path.getsize(path) for path in layer_files)
    for path in layer_files:
        os.remove(path)
    return archive, total


def measure(step: Callable[[], object]) -> tuple:
    """``(result, wall seconds, statements)`` of one call."""
    with count_statements() as counted:
        started = time.perf_counter()
        result = step()
        elapsed = time.perf_counter() - started
    return result, elapsed, counted.count


@click.command()
@click.option("--db", "uri", default=None, metavar="URI",
              help="Database to import into (default: a temporary SQLite file).")
@click.option("--size-mb", default=200, show_default=True, help="Total layer size in MiB.")
@click.option("--layers", "layer_count", default=5, show_default=True, help="Number of layers.")
def main(uri: Optional[str], size_mb: int, layer_count: int) -> None:
    """Generate a random archive, import it twice and export it; print a timing table."""
    with tempfile.TemporaryDirectory(prefix="registry_model_bench_") as folder:
        database = configure(uri or "sqlite:///" + os.path.join(folder, "bench.db"))
        upgrade(database)
        started = time.perf_counter()
        archive, layer_bytes = write_random_archive(folder, size_mb, layer_count)
        click.echo("generated %s (%.1f MiB of layers, %d layers) in %.1f s"
                   % (os.path.basename(archive), layer_bytes / MIB, layer_count,
                      time.perf_counter() - started), err=True)
        store = FilesystemBlobStore(os.path.join(folder, "blobs"))
        key = generate_signing_key()
        name = "run-" + uuid.uuid4().hex[:8]
        out = os.path.join(folder, "export.tar")

        rows = []
        first, seconds, statements = measure(
            lambda: import_archive(archive, "bench", name, store, key))
        rows.append(("import", seconds, statements, first.uploaded_bytes))
        second, seconds, statements = measure(
            lambda: import_archive(archive, "bench", name, store, key))
        rows.append(("import again", seconds, statements, second.uploaded_bytes))
        exported, seconds, statements = measure(
            lambda: export_image("bench", name, first.tag.name, out, store))
        rows.append(("export", seconds, statements, sum(exported.layer_sizes)))

        assert second.manifest.digest == first.manifest.digest
        assert [layer.diff_id for layer in read_docker_archive(out).layers] == [
            layer.digest for layer in first.layers]
        backend = backend_name(database)
        database.close()

    click.echo("%-10s  %-9s  %6s  %-12s  %8s  %8s  %10s  %14s" % (
        "BACKEND", "ARCHIVE", "LAYERS", "STEP", "SECONDS", "MiB/s", "STATEMENTS",
        "BYTES MOVED"))
    for step, seconds, statements, moved in rows:
        click.echo("%-10s  %-9s  %6d  %-12s  %8.2f  %8.1f  %10d  %14d" % (
            backend, "%.1f MiB" % (layer_bytes / MIB), layer_count, step, seconds,
            layer_bytes / MIB / seconds, statements, moved))


if __name__ == "__main__":
    main()
