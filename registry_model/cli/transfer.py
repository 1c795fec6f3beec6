"""Moving images in and out: import, export and sample.

The work is done by :mod:`registry_model.images` and :mod:`registry_model.sample`; this module
parses arguments, opens the blob store and the signing key (see
:mod:`registry_model.cli.signing`), draws progress bars (tqdm, on
stderr, only on a terminal and without --quiet) and prints the outcome.
"""
import os
import shutil
import sys
from contextlib import contextmanager
from typing import Iterator, Optional
from urllib.parse import urlparse

import click
from tqdm import tqdm

from registry_model import media_types
from registry_model.archive.oci_reader import DOCKER_ARCHIVE, FORMATS
from registry_model.cli import current_model, open_database
from registry_model.cli.argument_types import TagReferenceType
from registry_model.cli.output import echo_json, human_size
from registry_model.cli.signing import (
    DEFAULT_SIGNING_KEY,
    SIGNING_KEY_VARIABLE,
    adopt_legacy_key,
    check_outside_storage,
)
from registry_model.cli.storage import is_folder, open_store
from registry_model.errors import DataModelException
from registry_model.image_export import export_image
from registry_model.images import import_archive, load_signing_key
from registry_model.sample import SAMPLE_REPO_TAG, write_sample_archive

STORAGE_VARIABLE = "REGISTRY_MODEL_STORAGE"
DEFAULT_STORAGE = "blobs"
_STAGE_NAMES = {"verify": "verifying", "upload": "uploading", "export": "exporting"}

storage_option = click.option(
    "--storage", default=DEFAULT_STORAGE, envvar=STORAGE_VARIABLE, show_default=True,
    show_envvar=True, metavar="PATH|URI",
    help="The blob store holding the layers: a folder, or s3://BUCKET/PREFIX?endpoint=URL.")
quiet_option = click.option("--quiet", "-q", is_flag=True,
                            help="No progress bar and no notes on stderr.")


class _ProgressBars:
    """The progress callback of registry_model.images as one tqdm bar per stage."""

    def __init__(self, disabled: bool) -> None:
        self._disabled = disabled
        self._stage: Optional[str] = None
        self._bar: Optional[tqdm] = None

    def __call__(self, stage: str, count: int, total: int) -> None:
        if stage != self._stage:
            self.close()
            self._stage = stage
            self._bar = tqdm(total=total, desc=_STAGE_NAMES.get(stage, stage), unit="B",
                             unit_scale=True, unit_divisor=1024, file=sys.stderr,
                             disable=self._disabled, leave=False)
        self._bar.update(count)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


@contextmanager
def _progress(quiet: bool) -> Iterator[_ProgressBars]:
    bars = _ProgressBars(disabled=quiet or not sys.stderr.isatty())
    try:
        yield bars
    finally:
        bars.close()


@contextmanager
def _file_errors() -> Iterator[None]:
    """A file the command cannot read or write becomes one line, not a traceback."""
    try:
        yield
    except OSError as exc:
        where = " %s" % exc.filename if exc.filename else ""
        raise click.ClickException("cannot use%s: %s" % (where, exc.strerror or exc)) from exc


def _check_folder_of(path: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise click.ClickException("cannot write %s: folder %s does not exist" % (path, folder))


def _sqlite_files(uri: str) -> list:
    """The files a SQLite URI's database consists of (none for a server database)."""
    parsed = urlparse(uri)
    if not parsed.scheme.startswith("sqlite") or parsed.path in ("", "/", "/:memory:"):
        return []
    path = parsed.path[1:]  # sqlite:///rel.db -> rel.db, sqlite:////abs.db -> /abs.db
    return [path + suffix for suffix in ("", "-wal", "-shm", "-journal")]


@contextmanager
def _new_paths_removed_on_failure(paths: list) -> Iterator[None]:
    """Remove, when the block fails, those of ``paths`` it created (files or folders).

    What existed before the block is never touched; on success everything stays.
    """
    new = [path for path in paths if not os.path.lexists(path)]
    try:
        yield
    except BaseException:
        for path in new:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            elif os.path.lexists(path):
                os.remove(path)
        raise


def _check_archive_readable(archive: str) -> None:
    if os.path.isdir(archive):
        return  # an OCI layout folder: what it holds is checked by the import
    try:
        with open(archive, "rb"):
            pass
    except OSError as exc:
        raise click.ClickException("cannot open archive %s: %s"
                                   % (archive, exc.strerror or exc)) from exc


def _stores_schema1_only(model) -> bool:
    """True for a model that needs a schema 1 manifest made (and signed) for an image."""
    return media_types.OCI_MANIFEST_CONTENT_TYPE not in model.stored_manifest_media_types


@click.command(name="import")
@click.argument("archive", type=click.Path())
@click.argument("reference", type=TagReferenceType(tag_optional=True), metavar="NS/REPO[:TAG]")
@storage_option
@click.option("--all", "all_platforms", is_flag=True,
              help="Of a multi-platform index: import the index and every platform's image.")
@click.option("--platform", metavar="OS/ARCH[/VARIANT]",
              help="Of a multi-platform index: import only this platform's image, under TAG.")
@click.option("--signing-key", envvar=SIGNING_KEY_VARIABLE, show_envvar=True,
              type=click.Path(dir_okay=False), metavar="PATH",
              help="JWK file of the key that signs the manifest; must exist and lie outside "
                   "the blob store [default: ./%s, created on first use]" % DEFAULT_SIGNING_KEY)
@click.option("--json", "as_json", is_flag=True, help="Print the result as a JSON object.")
@quiet_option
@click.pass_obj
def import_command(uri: str, archive: str, reference: tuple, storage: str, all_platforms: bool,
                   platform: Optional[str], signing_key: Optional[str], as_json: bool,
                   quiet: bool) -> None:
    """Import the image of ARCHIVE as NS/REPO:TAG.

    ARCHIVE is a docker-archive (docker save of any version, skopeo, podman; gzipped or
    not), an oci-archive or an OCI image layout folder, told apart by content. On the OCI
    model (the default) manifests and configs are stored byte for byte; a multi-platform
    index needs --all or --platform; a docker-archive gets a Docker schema 2 manifest. TAG
    defaults to the archive's own tag (or the layout's ref name), else `latest`. The
    namespace and repository are created when missing. Blobs the repository holds already
    are skipped; the others are checked against their digests before anything is written,
    then uploaded into the blob store. With --model pre-oci only docker-archives are read
    and the manifest is schema 1, signed with the registry's key (kept outside the blob
    store; one found at the old place <storage>/signing-key.json is moved to the default
    path).

    A brand-new database (a SQLite file that does not exist yet, or a server database
    without any table) is migrated first; any other database must be up to date (see
    `registry-model migrate`). A failed import writes no row and leaves no new file: a
    database file, blob store folder or key it created is removed again.
    """
    namespace, name, tag_name = reference
    if all_platforms and platform:
        raise click.UsageError("--all and --platform exclude each other")
    key_path = signing_key or DEFAULT_SIGNING_KEY
    folder = [storage] if is_folder(storage) else []
    if folder:
        check_outside_storage(key_path, storage)
    _check_archive_readable(archive)
    with _file_errors(), _new_paths_removed_on_failure(
            _sqlite_files(uri) + folder + ([] if signing_key else [key_path])):
        store = open_store(storage)
        with open_database(uri, migrate_if_empty=True, quiet=quiet), _progress(quiet) as bars:
            model = current_model(refuse=False, quiet=quiet)
            key = None
            if not _stores_schema1_only(model):
                pass  # manifests are stored as the archive has them: nothing to sign
            elif signing_key:
                key = load_signing_key(signing_key, create=False)
            else:
                moved_from = adopt_legacy_key(storage, key_path) if folder else None
                if moved_from is not None and not quiet:
                    click.echo("moved the signing key %s out of the blob store to %s"
                               % (moved_from, key_path), err=True)
                key = load_signing_key(key_path)
            result = import_archive(archive, namespace, name, store, key, tag_name,
                                    model=model, progress=bars, platform=platform,
                                    all_platforms=all_platforms)
    uploaded = sum(1 for layer in result.layers if layer.uploaded)
    if as_json:
        echo_json({
            "repository": result.repository.full_name, "tag": result.tag.name,
            "manifest_digest": result.manifest.digest,
            "media_type": result.manifest.media_type,
            "docker_image_id": result.tag.docker_image_id,
            "created_repository": result.created_repository,
            "uploaded_bytes": result.uploaded_bytes,
            "layers": [layer._asdict() for layer in result.layers],
            "children": [child.digest for child in result.children]})
        return
    unit = "layers" if key is not None or _stores_schema1_only(model) else "blobs"
    children = (", %d child manifests" % len(result.children)) if result.children else ""
    click.echo("imported %s:%s %s (%d %s: %d uploaded, %s; %d already present%s)"
               % (result.repository.full_name, result.tag.name, result.manifest.digest,
                  len(result.layers), unit, uploaded, human_size(result.uploaded_bytes),
                  len(result.layers) - uploaded, children))


@click.command()
@click.argument("reference", type=TagReferenceType(), metavar="NS/REPO:TAG")
@click.argument("archive", type=click.Path())
@storage_option
@click.option("--format", "archive_format", type=click.Choice(FORMATS), default=DOCKER_ARCHIVE,
              show_default=True, help="docker-archive (docker save), oci-archive (a tar of "
                                      "an OCI layout) or oci (an OCI layout folder).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as a JSON object.")
@quiet_option
@click.pass_obj
def export(uri: str, reference: tuple, archive: str, storage: str, archive_format: str,
           as_json: bool, quiet: bool) -> None:
    """Write the image NS/REPO:TAG to ARCHIVE.

    A docker-archive has the legacy layout `docker load` reads (skopeo and podman read it
    as docker-archive:ARCHIVE); an oci-archive or oci layout (read as oci-archive:ARCHIVE,
    oci:ARCHIVE:TAG) holds the stored manifests byte for byte, a multi-platform index with
    every child, so the manifest digest is the one imported. Layers are the stored blobs
    (decompressed for a docker-archive). With --model pre-oci only docker-archive is
    written, its config rebuilt from the manifest's V1 metadata.
    """
    namespace, name, tag_name = reference
    store = open_store(storage, must_exist=True)
    _check_folder_of(archive)
    with _file_errors():
        with open_database(uri), _progress(quiet) as bars:
            result = export_image(namespace, name, tag_name, archive, store,
                                  model=current_model(), progress=bars,
                                  archive_format=archive_format)
    if as_json:
        echo_json({"repo_tag": result.repo_tag, "path": result.path, "format": archive_format,
                   "manifest_digest": result.manifest_digest,
                   "config_digest": result.config_digest,
                   "layers": [{"digest": digest, "size": size} for digest, size
                              in zip(result.layer_digests, result.layer_sizes, strict=True)]})
        return
    unit = "layers" if archive_format == DOCKER_ARCHIVE else "blobs"
    click.echo("exported %s %s to %s (%d %s, %s)"
               % (result.repo_tag, result.manifest_digest, result.path,
                  len(result.layer_digests), unit, human_size(sum(result.layer_sizes))))


@click.command()
@click.argument("archive", type=click.Path(dir_okay=False))
@click.option("--tag", "repo_tag", default=SAMPLE_REPO_TAG, show_default=True,
              metavar="NAME:TAG", help="The repo tag written into the archive.")
def sample(archive: str, repo_tag: str) -> None:
    """Write a small sample image (3 layers, linux/amd64, a few labels) to ARCHIVE.

    The archive is the same, byte for byte, on every run; try it with
    `registry-model import ARCHIVE acme/hello:latest`.
    """
    _check_folder_of(archive)
    with _file_errors():
        try:
            written = write_sample_archive(archive, repo_tag)
        except DataModelException as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo("wrote sample image %s to %s (%d layers, %s)"
               % (repo_tag, archive, len(written.layer_ids), human_size(os.path.getsize(archive))))
