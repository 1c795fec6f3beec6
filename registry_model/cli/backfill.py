"""``registry-model migrate-to-oci``: copy the pre-OCI tables' data into the OCI tables.

Runs :func:`registry_model.backfill.backfill_to_oci` with a progress bar over the pre-OCI
tag rows (tqdm, on stderr, only on a terminal), then prints what it carried and every row
it could not carry (those stay in the pre-OCI tables, as everything there does).
"""
import sys

import click
from tqdm import tqdm

from registry_model.backfill import DEFAULT_BATCH_SIZE, BackfillReport, backfill_to_oci
from registry_model.cli import open_database
from registry_model.cli.output import echo_json, echo_table, one_line


def _summary(report: BackfillReport) -> str:
    return ("carried %d tags, %d manifests, %d blob links, %d labels; brought %d tags "
            "up to date (%d pre-OCI tag rows in %d batches)"
            % (report.tags_carried, report.manifests_carried, report.blobs_linked,
               report.labels_carried, report.tags_updated, report.tags_seen,
               report.batches))


@click.command(name="migrate-to-oci")
@click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULT_BATCH_SIZE,
              show_default=True, help="Pre-OCI tag rows per transaction.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as a JSON object.")
@click.pass_obj
def migrate_to_oci(uri: str, batch_size: int, as_json: bool) -> None:
    """Copy tags, schema 1 manifests and labels from the pre-OCI tables to the OCI tables.

    Pre-OCI rows are only read, so the pre-OCI model keeps working meanwhile. Each batch is
    one transaction; stopped at any point, the command finishes the job when run again, and
    a run over carried data changes nothing (it only brings over tag ends and hiding changed
    since). Rows that cannot be carried (a tag without a manifest, a manifest that does not parse)
    are listed and stay where they are.
    """
    with open_database(uri), tqdm(desc="carrying", unit="tag", file=sys.stderr,
                                  disable=not sys.stderr.isatty(), leave=False) as bar:
        def progress(done: int, total: int) -> None:
            if bar.total != total:
                bar.reset(total=total)
            bar.n = done
            bar.refresh()

        report = backfill_to_oci(batch_size=batch_size, progress=progress)
    if as_json:
        echo_json(dict(report._asdict(), rejected=[row._asdict() for row in report.rejected]))
        return
    click.echo(_summary(report))
    if report.rejected:
        click.echo("not carried, kept in the pre-OCI tables (%d):" % len(report.rejected))
        echo_table(["TABLE", "ID", "REPOSITORY", "NAME", "REASON"],
                   [[row.table, row.row_id, row.repository, one_line(row.name),
                     one_line(row.reason)] for row in report.rejected], empty="")
