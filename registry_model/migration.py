"""Apply and revert the schema migrations shipped with the package.

A thin layer over ``playhouse.migrations.Runner``: it finds the migration
scripts inside the installed ``registry_model.migrations`` package (so it works
from any working directory) and records what ran in ``schema_migration``::

    from registry_model.database import configure
    from registry_model.migration import upgrade
    upgrade(configure("sqlite:///registry.db"))
"""
import logging
from importlib import resources
from pathlib import Path

from peewee import Database
from playhouse.migrations import Migration, Runner

from registry_model.connection import db

logger = logging.getLogger(__name__)

HISTORY_TABLE = "schema_migration"


def migrations_directory() -> str:
    """The folder holding the numbered migration scripts of this installation.

    Installed, they are the ``registry_model.migrations`` package; imported
    straight from a source checkout (no install), the top-level ``migrations/``.
    """
    try:
        return str(resources.files("registry_model.migrations"))
    except ModuleNotFoundError:
        return str(Path(__file__).resolve().parent.parent / "migrations")


def _runner(database: Database | None) -> Runner:
    return Runner(database if database is not None else db.obj,
                  migrations_directory(), table_name=HISTORY_TABLE)


def upgrade(database: Database | None = None, target: str | None = None) -> list:
    """Apply every pending migration in order (or up to ``target``); return their names."""
    applied = _runner(database).up(target)
    for name in applied:
        logger.info("applied migration %s", name)
    return applied


def downgrade(database: Database | None = None, target: str | None = None) -> list:
    """Revert the latest migration (or every one back through ``target``); return names."""
    reverted = _runner(database).down(target)
    for name in reverted:
        logger.info("reverted migration %s", name)
    return reverted


def status(database: Database | None = None) -> list[Migration]:
    """Every migration, file or history row, in order; ``applied`` is None when pending."""
    return _runner(database).status()
