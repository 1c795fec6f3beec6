"""``registry-model migrate``: apply, revert or list the schema migrations."""
from typing import Optional

import click
from playhouse.migrations import MigrationError

from registry_model import migration
from registry_model.cli import first_line, open_database
from registry_model.cli.output import echo_table


@click.command()
@click.option("--down", is_flag=True, help="Revert the latest migration (or back through TARGET).")
@click.option("--status", "show_status", is_flag=True,
              help="List every migration as applied or pending.")
@click.argument("target", required=False)
@click.pass_obj
def migrate(uri: str, down: bool, show_status: bool, target: Optional[str]) -> None:
    """Apply, revert or list the schema migrations.

    Without options, apply every pending migration (or up to TARGET); with
    --down, revert the latest one (or every one back through TARGET).
    """
    if show_status and (down or target):
        raise click.UsageError("--status takes neither --down nor TARGET")
    with open_database(uri, require_migrated=False) as database:
        try:
            if show_status:
                echo_table(["MIGRATION", "STATE", "APPLIED AT"], [
                    [item.name + ("  (file missing)" if item.path is None else ""),
                     "pending" if item.applied is None else "applied",
                     item.applied.isoformat(sep=" ", timespec="seconds")
                     if item.applied is not None else None]
                    for item in migration.status(database)], empty="no migrations")
                return
            if down:
                names = migration.downgrade(database, target)
                verb = "reverted"
            else:
                names = migration.upgrade(database, target)
                verb = "applied"
        except MigrationError as exc:
            raise click.ClickException(first_line(exc)) from exc
    for name in names:
        click.echo("%s %s" % (verb, name))
    if not names:
        click.echo("nothing to do")


