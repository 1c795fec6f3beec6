"""Reclaiming space: ``gc`` (garbage collection and the orphan sweep) and ``delete``.

``gc`` runs the collector of :mod:`registry_model.model.gc` through the interface, over one
repository or all of them, with a progress bar over the repositories (tqdm, on stderr, only on
a terminal) and prints what went. ``delete`` marks a repository for deletion; the next ``gc``
purges it.

Each wing's collector removes only its own rows, and a repository row goes with the last
wing's rows of it; after ``migrate-to-oci`` both wings hold rows of every repository. So
``gc`` collects with the chosen model and with every other model whose tables hold a tag
row, and adds up what they removed.
"""
import sys
from typing import Optional

import click
from tqdm import tqdm

from registry_model.cli import MODELS, current_model, lookup_or_fail, open_database
from registry_model.cli.argument_types import RepositoryNameType
from registry_model.cli.output import echo_json, human_size
from registry_model.cli.storage import open_store
from registry_model.cli.transfer import storage_option
from registry_model.datatypes import GCSummary, RepositoryReference
from registry_model.interface import RegistryDataInterface
from registry_model.interface import collection as gc_model

_ROWS = ("tags", "manifests", "labels", "images", "links", "uploads", "blobs")


def _any_repository(namespace: str, name: str) -> RepositoryReference:
    """The repository, marked for deletion or not (gc purges marked ones), or a click error."""
    found = current_model().get_repository(namespace, name)
    if found is None:
        raise click.ClickException("repository %s/%s not found" % (namespace, name))
    return found


def _collecting_models() -> list:
    """``(name, model)`` of every model whose collector runs: the chosen one first, then each
    other one whose tables hold a tag row (1 statement each)."""
    # No note that the chosen model sees no tag: the other model's collector runs then.
    chosen = current_model(refuse=False, quiet=True)
    return [(name, model) for name, model in MODELS.items() if model is chosen] + [
        (name, model) for name, model in MODELS.items()
        if model is not chosen and model.has_any_tag()]


def _added_up(summaries: list, dry_run: bool) -> GCSummary:
    """One summary of the collections of several wings over the same repositories.

    Rows and files add up (each went through one wing). Both wings walk the same
    repositories, so ``repositories`` is the larger count; a repository row is deleted
    once, by the last wing holding rows of it, but a dry run counts it in every wing.
    """
    def added(field: str) -> int:
        return sum(getattr(summary, field) for summary in summaries)

    def largest(field: str) -> int:
        return max(getattr(summary, field) for summary in summaries)

    walked = [summary.last_repository_id for summary in summaries
              if summary.last_repository_id is not None]
    return GCSummary(**{field: added(field) for field in GCSummary._fields
                        if field not in ("repositories", "purged", "last_repository_id")},
                     repositories=largest("repositories"),
                     purged=largest("purged") if dry_run else added("purged"),
                     last_repository_id=max(walked) if walked else None)


def _collect(model: RegistryDataInterface, repository: Optional[RepositoryReference], store,
             dry_run: bool, grace_s: int, bar: tqdm) -> GCSummary:
    """One model's collection of the repository (None: of every repository)."""
    if repository is not None:
        bar.reset(total=1)
        summary = model.garbage_collect_repository(repository, store, dry_run=dry_run,
                                                   grace_s=grace_s)
        bar.update(1)
        return summary

    def progress(repository_id: int, done: int, total: int) -> None:
        if bar.total != total:
            bar.reset(total=total)
        bar.n = done
        bar.refresh()

    bar.reset()
    return model.collect_garbage(store, dry_run=dry_run, grace_s=grace_s, progress=progress)


def _report(summary: GCSummary, dry_run: bool, orphans: bool, names: list) -> None:
    verb = "would remove" if dry_run else "removed"
    if len(names) > 1:
        click.echo("collected with the %s collectors (each wing holds tags)"
                   % " and ".join(names))
    rows = ", ".join("%d %s" % (getattr(summary, field), field) for field in _ROWS)
    click.echo("%s %s" % (verb, rows))
    click.echo("%s %d blob files, %s" % (verb, summary.files, human_size(summary.bytes_freed)))
    if summary.purged:
        click.echo("%s %d repositories marked for deletion" % (verb, summary.purged))
    if orphans:
        click.echo("%s %d orphan files, %s" % (verb, summary.orphan_files,
                                                human_size(summary.orphan_bytes)))
    if summary.recent_files:
        click.echo("kept %d files written within the grace period (a later `gc --orphans` "
                   "removes them)" % summary.recent_files)


@click.command(name="gc")
@click.argument("repository", type=RepositoryNameType(), required=False, metavar="[NS/REPO]")
@storage_option
@click.option("--dry-run", is_flag=True, help="Report what would go; change nothing.")
@click.option("--orphans", is_flag=True,
              help="Then remove blob files that no blob record names (left by a crash).")
@click.option("--grace", "grace_s", type=click.IntRange(min=0), metavar="SECONDS",
              default=gc_model.DEFAULT_GRACE_S, show_default=True,
              help="Keep blob files written within the last SECONDS: an upload may be about "
                   "to commit their record.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as a JSON object.")
@click.pass_obj
def gc(uri: str, repository: Optional[tuple], storage: str, dry_run: bool, orphans: bool,
       grace_s: int, as_json: bool) -> None:
    """Collect garbage in NS/REPO, or in every repository.

    Removes tags that ended longer ago than their namespace's time-machine window (14 days
    unless changed: see `registry-model namespace show NS` and `namespace set-window NS 1h`;
    within it nothing of a tag goes, so on fresh data gc collects nothing), with their
    manifests and labels; legacy images no remaining tag reaches; expired blob links; and blob
    records (then their files in the blob store) that nothing references any more.
    Repositories marked with `registry-model delete` are removed entirely. Alive tags, and
    everything they need, are never touched. Runs the collector of the chosen --model and
    of the other one when its tables hold tags (after `migrate-to-oci` both do).
    """
    store = open_store(storage, must_exist=True)
    with open_database(uri), tqdm(desc="collecting", unit="repo", file=sys.stderr,
                                  disable=not sys.stderr.isatty(), leave=False) as bar:
        # Collecting is as valid on a database the model never wrote as on any: a note only.
        models = _collecting_models()
        target = _any_repository(*repository) if repository is not None else None
        summaries = []
        for name, model in models:
            bar.set_description("collecting (%s)" % name)
            summaries.append(_collect(model, target, store, dry_run, grace_s, bar))
        summary = _added_up(summaries, dry_run)
        names = [name for name, _ in models]
        if orphans:
            swept = current_model().sweep_orphan_blobs(store, grace_s, dry_run=dry_run)
            summary = summary._replace(orphan_files=swept.orphan_files,
                                       orphan_bytes=swept.orphan_bytes,
                                       recent_files=summary.recent_files + swept.recent_files)
    if as_json:
        echo_json(dict(summary._asdict(), dry_run=dry_run, models=names))
        return
    _report(summary, dry_run, orphans, names)


@click.command()
@click.argument("repository", type=RepositoryNameType(), metavar="NS/REPO")
@click.pass_obj
def delete(uri: str, repository: tuple) -> None:
    """Mark NS/REPO for deletion; `registry-model gc` then removes it, rows and files.

    From now on the repository is not found by any command, and its name stays taken until
    it is removed.
    """
    namespace, name = repository
    with open_database(uri):
        # Repositories are shared by both models: deleting one needs no note, let alone a refusal.
        current_model(refuse=False, quiet=True)
        current_model().mark_repository_for_deletion(lookup_or_fail(namespace, name))
    click.echo("marked %s/%s for deletion; `registry-model gc %s/%s` removes it"
               % (namespace, name, namespace, name))
