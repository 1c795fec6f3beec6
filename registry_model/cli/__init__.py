"""The ``registry-model`` command: import and export images, manage tags, look at a database.

::

    registry-model --db sqlite:///registry.db migrate
    registry-model --db sqlite:///registry.db migrate-to-oci
    registry-model sample sample.tar
    registry-model import sample.tar acme/hello:latest
    registry-model import layout-folder acme/multi:v1 --all
    registry-model export acme/hello:latest copy.tar
    registry-model export acme/multi:v1 copy-oci.tar --format oci-archive
    registry-model --model pre-oci import sample.tar acme/legacy:latest
    registry-model repos
    registry-model tags acme/hello --json
    registry-model images acme/hello
    registry-model history acme/hello
    registry-model inspect acme/hello:latest
    registry-model labels acme/hello:latest
    registry-model label add acme/hello:latest com.example.team storage
    registry-model tag acme/hello:latest v1
    registry-model untag acme/hello:latest
    registry-model restore acme/hello:latest sha256:...
    registry-model delete acme/hello
    registry-model gc --dry-run
    registry-model gc acme/hello --orphans --grace 3600
    registry-model namespace show acme
    registry-model namespace set-window acme 1h
    registry-model serve --storage blobs --bind 127.0.0.1:5000
    echo secret | registry-model user add alice --password-stdin
    registry-model user list
    registry-model grant bob pull alice/app
    registry-model revoke bob pull alice/app
    registry-model visibility alice/app public

``--db`` defaults to ``$REGISTRY_MODEL_DATABASE_URI``, then ``sqlite:///registry.db``.
This package holds the group and what its commands share: database access and error
reporting here, the arguments' click types in :mod:`~registry_model.cli.argument_types`, and
text, table and JSON output in :mod:`~registry_model.cli.output`. The commands live in one
module per group:
:mod:`~registry_model.cli.schema` (migrate), :mod:`~registry_model.cli.listing` (repos, tags,
images, labels, history, inspect), :mod:`~registry_model.cli.tagging` (label, tag, untag,
restore), :mod:`~registry_model.cli.transfer` (import, export, sample),
:mod:`~registry_model.cli.gc` (gc, delete), :mod:`~registry_model.cli.namespaces`
(namespace show, namespace set-window), :mod:`~registry_model.cli.serve` (serve),
:mod:`~registry_model.cli.accounts` (user, grant, revoke, visibility), and
:mod:`~registry_model.cli.backfill` (migrate-to-oci). Reads and writes go through the
interface wherever it offers them: :data:`registry_model.oci_model`, or with
``--model pre-oci`` :data:`registry_model.registry_model` (see :func:`current_model`).
Every failure a user can cause (a bad URI, an unreachable server, an unmigrated database, an
unknown repository or tag, a bad archive) ends as one line on stderr and exit status 1 (an
argument click itself refuses, such as a malformed reference, ends with click's usage message
and status 2); this package is the only part of the library that writes to stdout.
"""
import os
from contextlib import contextmanager
from typing import Iterator, Optional
from urllib.parse import urlparse

import click
from peewee import Database, DatabaseError, OperationalError, SqliteDatabase

from registry_model import errors, migration, oci_model, registry_model
from registry_model.database import DEFAULT_URI, configure
from registry_model.datatypes import Manifest, RepositoryReference
from registry_model.interface import RegistryDataInterface

URI_VARIABLE = "REGISTRY_MODEL_DATABASE_URI"
MODEL_VARIABLE = "REGISTRY_MODEL_MODEL"
# --model: which interface implementation the commands read and write through.
MODELS = {"oci": oci_model, "pre-oci": registry_model}
DEFAULT_MODEL = "oci"
_MODEL_KEY = "registry_model.model"


# --- database access and error reporting -----------------------------------------------


def redacted(uri: str) -> str:
    """The URI as it may be shown: its password, if any, masked."""
    try:
        parsed = urlparse(uri)
        password = parsed.password
    except ValueError:
        return uri
    if not password:
        return uri
    user, _, host = parsed.netloc.rpartition("@")
    return parsed._replace(netloc="%s:***@%s" % (user.split(":", 1)[0], host)).geturl()


def first_line(exc: BaseException) -> str:
    """The first non-blank line of an error (drivers add hints and SQL excerpts below it)."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__


def _check_migrated(database: Database, shown_uri: str) -> None:
    pending = [item.name for item in migration.status(database)
               if item.applied is None and item.path is not None]
    if pending:
        raise click.ClickException(
            "database %s is not migrated (pending: %s); run `registry-model migrate` first"
            % (shown_uri, ", ".join(pending)))


@contextmanager
def open_database(uri: str, require_migrated: bool = True, migrate_if_empty: bool = False,
                  quiet: bool = False) -> Iterator[Database]:
    """Bind the library to ``uri`` for one command, turning its failures into click errors.

    With ``migrate_if_empty`` a brand-new database (a missing SQLite file, or a database
    without a single table) gets every migration first, announced on stderr unless
    ``quiet``; a database with some tables must still be migrated explicitly. Only the
    library's own exceptions and the database driver's are translated; anything else is a
    bug and keeps its traceback.
    """
    shown = redacted(uri)
    try:
        database = configure(uri)
    except errors.DatabaseConfigurationException as exc:
        raise click.ClickException(
            "bad database URI: %s" % first_line(exc).replace(uri, shown)) from exc
    if isinstance(database, SqliteDatabase) and database.database in ("", ":memory:"):
        # An in-memory database would vanish when the command exits.
        raise click.ClickException("bad database URI %s: it names no SQLite file "
                                   "(use sqlite:///path/to/file.db)" % shown)
    if (require_migrated and not migrate_if_empty and isinstance(database, SqliteDatabase)
            and not os.path.exists(database.database)):
        # Connecting would create an empty file wherever the command happened to run.
        raise click.ClickException("database %s does not exist; run `registry-model migrate` "
                                   "to create it" % shown)
    try:
        if migrate_if_empty and not database.get_tables():
            applied = migration.upgrade(database)
            if not quiet:
                click.echo("new database %s: applied %s" % (shown, ", ".join(applied)),
                           err=True)
        if require_migrated:
            _check_migrated(database, shown)
        yield database
    except errors.DatabaseUnavailableException as exc:
        raise click.ClickException("cannot use database %s: %s"
                                   % (shown, first_line(exc))) from exc
    except errors.DataModelException as exc:
        raise click.ClickException(first_line(exc)) from exc
    except OperationalError as exc:
        raise click.ClickException("cannot use database %s: %s"
                                   % (shown, first_line(exc))) from exc
    except DatabaseError as exc:
        raise click.ClickException("database error on %s: %s"
                                   % (shown, first_line(exc))) from exc
    finally:
        database.close()


def current_model(refuse: bool = True, quiet: bool = False) -> RegistryDataInterface:
    """The model this command works on (``--model``), once the database is known to suit it.

    With the OCI model by default (no ``--model`` nor ``$REGISTRY_MODEL_MODEL``), a
    database whose OCI tables hold no tag while the pre-OCI ones do would look empty: the
    command is refused, saying how to backfill; with ``refuse`` False (a command that adds
    an image) that is a note on stderr instead, unless ``quiet``. Checked once per command
    (2 statements).
    """
    root = click.get_current_context().find_root()
    name, defaulted = root.meta.get(_MODEL_KEY, (DEFAULT_MODEL, True))
    model = MODELS[name]
    if defaulted and name == "oci":
        root.meta[_MODEL_KEY] = (name, False)
        if not model.has_any_tag() and MODELS["pre-oci"].has_any_tag():
            message = ("database %s holds pre-OCI images only, which the OCI model (the "
                       "default) does not see: copy them into the OCI tables with "
                       "`registry-model migrate-to-oci`, or pass --model pre-oci"
                       % redacted(root.obj))
            if refuse:
                raise click.ClickException(message)
            if not quiet:
                click.echo("note: " + message, err=True)
    return model


def lookup_or_fail(namespace: str, name: str) -> RepositoryReference:
    """The repository, or a click error saying it was not found."""
    repository = current_model().lookup_repository(namespace, name)
    if repository is None:
        raise click.ClickException("repository %s/%s not found" % (namespace, name))
    return repository


def tag_and_manifest(repository: RepositoryReference, tag_name: str) -> tuple:
    """``(Tag, Manifest)`` of an alive tag, or a click error for a missing tag or manifest."""
    shown = "%s:%s" % (repository.full_name, tag_name)
    tag = current_model().get_repo_tag(repository, tag_name)
    if tag is None:
        raise click.ClickException("tag %s not found" % shown)
    manifest: Optional[Manifest] = current_model().get_manifest_for_tag(tag)
    if manifest is None:
        raise click.ClickException("tag %s has no manifest" % shown)
    return tag, manifest


# --- the group -------------------------------------------------------------------------


@click.group(name="registry-model")
@click.option("--db", "uri", envvar=URI_VARIABLE, default=DEFAULT_URI, show_default=True,
              show_envvar=True, metavar="URI",
              help="Database to use: sqlite:///file.db, postgresql://... or mysql://...")
@click.option("--model", "model_name", type=click.Choice(sorted(MODELS)), default=DEFAULT_MODEL,
              envvar=MODEL_VARIABLE, show_default=True, show_envvar=True,
              help="The data model to read and write: oci (every manifest format) or pre-oci "
                   "(schema 1 images and their V1 chain).")
@click.pass_context
def main(ctx: click.Context, uri: str, model_name: str) -> None:
    """Import and export images, manage tags and labels, and list what a registry_model
    database holds."""
    ctx.obj = uri
    defaulted = ctx.get_parameter_source("model_name") is click.core.ParameterSource.DEFAULT
    ctx.meta[_MODEL_KEY] = (model_name, defaulted)


# The command modules import the helpers above, so they are loaded once those exist.
from registry_model.cli import (  # noqa: E402
    accounts,
    backfill,
    gc,
    listing,
    namespaces,
    schema,
    serve,
    tagging,
    transfer,
)

for _command in (schema.migrate, transfer.import_command, transfer.export, transfer.sample,
                 listing.repos, listing.tags, listing.images, listing.labels, listing.history,
                 listing.inspect, tagging.label, tagging.tag, tagging.untag, tagging.restore,
                 gc.gc, gc.delete, namespaces.namespace, serve.serve, accounts.user,
                 accounts.grant, accounts.revoke, accounts.visibility, backfill.migrate_to_oci):
    main.add_command(_command)
