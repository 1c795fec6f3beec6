"""Time the backfill from the pre-OCI tables to the OCI tables: rows per second by batch size.

Fills a scratch database on the server named by ``--db`` (a temporary SQLite file without
it; dropped afterwards) with :mod:`fill` at ``--scale`` (0.003: 300 repositories, about
3,300 tag rows, 3,800 legacy images, 600 labels), signs its schema 1 manifests for real
(fill's signatures are placeholders no parser reads, and the backfill parses every
manifest it carries), then runs :func:`registry_model.backfill.backfill_to_oci` once per
``--batch-size``, emptying the OCI tables between runs, and prints a table: wall
seconds, pre-OCI tag rows per second, OCI rows written per second and statements per
batch::

    python benchmarks/backfill_rate.py
    python benchmarks/backfill_rate.py --db postgresql://postgres@127.0.0.1:5432/rm_bench

Exit status 1 when a run left a carriable row behind. Not part of the tests.
"""
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import click

from registry_model.backfill import backfill_to_oci
from registry_model.database import backend_name, configure, db
from registry_model.manifests import DockerSchema1ManifestBuilder, generate_signing_key
from registry_model.model import lookup
from registry_model.model.tables import Label
from registry_model.oci.tables import OCI_MODELS, ManifestLabel
from registry_model.pre_oci.tables import RepositoryTag, TagManifest
from registry_model.testing.databases import scratch_database
from registry_model.testing.queries import count_statements

FILL = Path(__file__).resolve().parent / "fill.py"
SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"


def sign_manifests() -> int:
    """Replace fill's placeholder signatures by real ones (and the digests they give)."""
    key = generate_signing_key()
    media_type = lookup.media_type_id(SIGNED)
    rows = list(TagManifest.select(TagManifest.id, TagManifest.json_data).tuples())
    with db.atomic():
        for row_id, json_data in rows:
            document = json.loads(json_data)
            name, _, repository = document["name"].partition("/")
            builder = DockerSchema1ManifestBuilder(name, repository, document["tag"])
            for layer, history in zip(document["fsLayers"], document["history"], strict=True):
                builder.add_layer(layer["blobSum"], history["v1Compatibility"])
            built = builder.build(key)
            (TagManifest.update(json_data=built.bytes.decode("utf-8"), digest=built.digest,
                                media_type=media_type)
             .where(TagManifest.id == row_id).execute())
    return len(rows)


def empty_oci_tables() -> None:
    """Drop every OCI row and the label copies the backfill made."""
    with db.atomic():
        copies = [row[0] for row in ManifestLabel.select(ManifestLabel.label).tuples()]
        for model in reversed(OCI_MODELS):
            model.delete().execute()
        if copies:
            Label.delete().where(Label.id.in_(copies)).execute()
    if backend_name() == "postgresql":  # each run starts on tables without dead rows
        for model in OCI_MODELS + (Label,):
            db.execute_sql("VACUUM ANALYZE %s" % model._meta.table_name)


def run_once(batch_size: int) -> dict:
    """One backfill from empty OCI tables: its report, seconds and statements."""
    empty_oci_tables()
    started = time.perf_counter()
    with count_statements() as counter:
        report = backfill_to_oci(batch_size=batch_size)
    seconds = time.perf_counter() - started
    written = (report.tags_carried + report.manifests_carried + report.blobs_linked
               + 2 * report.labels_carried)  # a label is a Label row and its link
    return {"report": report, "seconds": seconds, "statements": counter.count,
            "written": written}


@click.command()
@click.option("--db", "base_uri", default=None, metavar="URI",
              help="A server to make the scratch database on (default: a SQLite file).")
@click.option("--scale", type=float, default=0.003, show_default=True,
              help="fill.py's scale (1 is a million tag rows).")
@click.option("--batch-size", "batch_sizes", type=click.IntRange(min=1), multiple=True,
              default=(100, 500, 2000), show_default=True)
def main(base_uri: Optional[str], scale: float, batch_sizes: tuple) -> None:
    """Fill a scratch database, then time the backfill at each batch size."""
    with scratch_database(base_uri) as uri:
        subprocess.run([sys.executable, str(FILL), "--db", uri, "--scale", str(scale)],
                       check=True, capture_output=True)
        database = configure(uri)
        try:
            signed = sign_manifests()
            tags = RepositoryTag.select().count()
            click.echo("%s, scale %s: %d tag rows, %d manifests"
                       % (backend_name(), scale, tags, signed))
            click.echo("%6s  %6s  %6s  %9s  %8s  %8s  %9s  %13s  %10s" % (
                "batch", "tags", "kept", "manifests", "labels", "seconds", "tags/s",
                "rows written/s", "stmts/batch"))
            failed = False
            for batch_size in batch_sizes:
                result = run_once(batch_size)
                report = result["report"]
                without_manifest = sum(row.reason == "tag has no manifest"
                                       for row in report.rejected)
                failed |= len(report.rejected) != without_manifest
                click.echo("%6d  %6d  %6d  %9d  %8d  %8.2f  %9.0f  %13.0f  %10.1f" % (
                    batch_size, report.tags_carried, len(report.rejected),
                    report.manifests_carried, report.labels_carried, result["seconds"],
                    report.tags_seen / result["seconds"],
                    result["written"] / result["seconds"],
                    result["statements"] / max(report.batches, 1)))
        finally:
            database.close()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
