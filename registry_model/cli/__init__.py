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
This package holds the group and what its commands share (argument types, database access,
error reporting, table and JSON output); the commands live in one module per group:
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
unknown repository or tag, a bad archive) ends as one line on stderr and exit status 1; this
package is the only part of the library that writes to stdout.
"""
import json
import os
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Iterator, Optional, Sequence, Union
from urllib.parse import urlparse

import click
from peewee import Database, DatabaseError, OperationalError, SqliteDatabase

from registry_model import errors, migration, oci_model, registry_model, validation
from registry_model.database import DEFAULT_URI, configure
from registry_model.datatypes import Manifest, RepositoryReference, Tag
from registry_model.interface import RegistryDataInterface

URI_VARIABLE = "REGISTRY_MODEL_DATABASE_URI"
MODEL_VARIABLE = "REGISTRY_MODEL_MODEL"
# --model: which interface implementation the commands read and write through.
MODELS = {"oci": oci_model, "pre-oci": registry_model}
DEFAULT_MODEL = "oci"
_MODEL_KEY = "registry_model.model"
SHORT_ID_LENGTH = 12


# --- arguments -------------------------------------------------------------------------


def _repository_name(value: str) -> Optional[tuple]:
    namespace, slash, name = value.partition("/")
    if (slash and validation.is_valid_namespace_name(namespace)
            and validation.is_valid_repository_name(name)):
        return namespace, name
    return None


class RepositoryNameType(click.ParamType):
    """``namespace/repository``, converted to a ``(namespace, repository)`` pair."""

    name = "NS/REPO"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        parsed = _repository_name(value)
        if parsed is None:
            self.fail("%r is not a repository of the form namespace/name (each %s)"
                      % (value, validation.NAME_RULE), param, ctx)
        return parsed


class TagReferenceType(click.ParamType):
    """``namespace/repository:tag``, converted to a ``(namespace, repository, tag)`` triple.

    With ``tag_optional`` the ``:tag`` may be left out and the tag is None.
    """

    name = "NS/REPO:TAG"

    def __init__(self, tag_optional: bool = False) -> None:
        self.tag_optional = tag_optional

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        repository, colon, tag_name = value.rpartition(":")
        if self.tag_optional and ":" not in value:
            repository, colon, tag_name = value, ":", None
        parsed = _repository_name(repository)
        if not (colon and parsed and (tag_name is None or validation.is_valid_tag_name(tag_name))):
            self.fail("%r is not a tag of the form namespace/name%s (namespace and name each "
                      "%s; tag %s)" % (value, "[:tag]" if self.tag_optional else ":tag",
                                       validation.NAME_RULE, validation.TAG_RULE), param, ctx)
        return parsed + (tag_name,)


class ManifestReferenceType(click.ParamType):
    """``namespace/repository:tag`` or ``namespace/repository@digest``, as a 4-tuple.

    Converted to ``(namespace, repository, tag, None)`` or ``(namespace, repository, None,
    digest)``.
    """

    name = "NS/REPO:TAG|NS/REPO@DIGEST"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        repository, at, digest = value.partition("@")
        if at:
            parsed = _repository_name(repository)
            if parsed is None or not validation.is_valid_digest(digest):
                self.fail("%r is not of the form namespace/name@algorithm:hex" % value,
                          param, ctx)
            return parsed + (None, digest)
        return TagReferenceType().convert(value, param, ctx) + (None,)


class TagNameType(click.ParamType):
    """A tag name: letters, digits, ``_ . -``, not starting with ``.`` or ``-``."""

    name = "TAG"

    def convert(self, value, param, ctx):
        if not validation.is_valid_tag_name(value):
            self.fail("%r is not a tag name (%s)" % (value, validation.TAG_RULE), param, ctx)
        return value


class DigestType(click.ParamType):
    """A content digest such as ``sha256:<64 hex>``."""

    name = "DIGEST"

    def convert(self, value, param, ctx):
        if not validation.is_valid_digest(value):
            self.fail("%r is not a digest of the form sha256:<64 hex digits>" % value,
                      param, ctx)
        return value


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


# --- output ----------------------------------------------------------------------------


def rfc3339(value: Union[int, float, datetime, str, None]) -> Optional[str]:
    """A time as RFC 3339 UTC (``2023-11-14T22:13:20Z``), the form of every time the CLI prints.

    Takes a Unix time, a datetime (a naive one is UTC, as the library stores them) or an
    ISO 8601 string (an image's V1 ``created``, fractions past microseconds dropped); None
    stays None, and a string that is no time is returned as it is, since it is the image's
    own text.
    """
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    else:
        moment = datetime.fromtimestamp(value, UTC)
    return moment.replace(tzinfo=None).isoformat() + "Z"


def human_size(size: Optional[int]) -> str:
    """A byte count in B, KiB, MiB, ...; ``-`` for None."""
    if size is None:
        return "-"
    if size < 1024:
        return "%d B" % size
    value = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024:
            return "%.1f %s" % (value, unit)
    return "%.1f TiB" % (value / 1024)


def short_digest(digest: Optional[str]) -> Optional[str]:
    """``sha256:`` and the first 12 hex digits, for tables; None kept."""
    if digest is None:
        return None
    algorithm, _, encoded = digest.partition(":")
    return "%s:%s" % (algorithm, encoded[:SHORT_ID_LENGTH])


def one_line(text: str) -> str:
    """Text with its line breaks escaped, so a multi-line value keeps to its table row."""
    return text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


def echo_json(value: object) -> None:
    """Print a JSON document (the ``--json`` output of every command)."""
    click.echo(json.dumps(value, indent=2))


def echo_table(headers: Sequence[str], rows: list, empty: str) -> None:
    """Rows of text as aligned columns under a header, or ``empty`` when there are none."""
    if not rows:
        click.echo(empty)
        return
    cells = [list(headers)] + [["-" if cell is None else str(cell) for cell in row]
                               for row in rows]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]
    for row in cells:
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo(line.rstrip())


def tag_row(tag: Tag) -> dict:
    """A tag row of ``history`` and the write commands' ``--json`` output."""
    return {"name": tag.name, "manifest_digest": tag.manifest_digest,
            "docker_image_id": tag.docker_image_id,
            "lifetime_start": rfc3339(tag.lifetime_start_ts),
            "lifetime_end": rfc3339(tag.lifetime_end_ts), "reversion": bool(tag.reversion)}


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
