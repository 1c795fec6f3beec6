"""Commands that change tags and labels: label add/rm, tag, untag and restore.

Each is one write through the interface, reported on one line (or as JSON with ``--json``).
"""
import click

from registry_model.cli import current_model, lookup_or_fail, open_database, tag_and_manifest
from registry_model.cli.argument_types import DigestType, TagNameType, TagReferenceType
from registry_model.cli.output import echo_json, tag_row

API_SOURCE = "api"


def _label_row(label) -> dict:
    return {"key": label.key, "value": label.value, "source_type": label.source_type_name,
            "media_type": label.media_type_name, "uuid": label.uuid}


@click.group()
def label() -> None:
    """Add or remove labels of the manifest a tag points at."""


@label.command(name="add")
@click.argument("reference", type=TagReferenceType(), metavar="NS/REPO:TAG")
@click.argument("key")
@click.argument("value")
@click.option("--media-type", default=None, metavar="TYPE",
              help="text/plain or application/json (default: application/json for a JSON "
                   "object or array, else text/plain).")
@click.option("--json", "as_json", is_flag=True, help="Print the new label as a JSON object.")
@click.pass_obj
def label_add(uri: str, reference: tuple, key: str, value: str, media_type: str,
              as_json: bool) -> None:
    """Add the label KEY=VALUE to the manifest of NS/REPO:TAG and print its uuid.

    KEY is lowercase letters and digits with single . or - between them. The label's source
    is `api`, so `label rm` can remove it again.
    """
    namespace, name, tag_name = reference
    with open_database(uri):
        _, manifest = tag_and_manifest(lookup_or_fail(namespace, name), tag_name)
        created = current_model().create_manifest_label(manifest, key, value, API_SOURCE,
                                                       media_type)
    if as_json:
        echo_json(_label_row(created))
    else:
        click.echo("added label %s (%s, uuid %s)" % (created.key, created.media_type_name,
                                                     created.uuid))


@label.command(name="rm")
@click.argument("reference", type=TagReferenceType(), metavar="NS/REPO:TAG")
@click.argument("label_uuid", metavar="UUID")
@click.pass_obj
def label_rm(uri: str, reference: tuple, label_uuid: str) -> None:
    """Remove the label with that UUID from the manifest of NS/REPO:TAG.

    Labels that came with the image (source `manifest`) cannot be removed.
    """
    namespace, name, tag_name = reference
    with open_database(uri):
        _, manifest = tag_and_manifest(lookup_or_fail(namespace, name), tag_name)
        removed = current_model().delete_manifest_label(manifest, label_uuid)
    if removed is None:
        raise click.ClickException("label %s not found on %s/%s:%s"
                                   % (label_uuid, namespace, name, tag_name))
    click.echo("removed label %s (uuid %s)" % (removed.key, removed.uuid))


@click.command()
@click.argument("source", type=TagReferenceType(), metavar="NS/REPO:SRC")
@click.argument("new_tag", type=TagNameType(), metavar="NEWTAG")
@click.option("--json", "as_json", is_flag=True, help="Print the new tag as a JSON object.")
@click.pass_obj
def tag(uri: str, source: tuple, new_tag: str, as_json: bool) -> None:
    """Point NEWTAG of the same repository at the manifest of NS/REPO:SRC.

    An alive NEWTAG is moved (its previous row stays in the time machine).
    """
    namespace, name, source_tag = source
    with open_database(uri):
        ref = lookup_or_fail(namespace, name)
        _, manifest = tag_and_manifest(ref, source_tag)
        moved = current_model().retarget_tag(ref, new_tag, manifest, None, None)
    if moved is None:
        raise click.ClickException("manifest of %s:%s vanished while tagging"
                                   % (ref.full_name, source_tag))
    if as_json:
        echo_json(tag_row(moved))
    else:
        click.echo("tagged %s:%s -> %s" % (ref.full_name, new_tag, moved.manifest_digest))


@click.command()
@click.argument("reference", type=TagReferenceType(), metavar="NS/REPO:TAG")
@click.pass_obj
def untag(uri: str, reference: tuple) -> None:
    """End the tag NS/REPO:TAG; it stays restorable for the namespace's time-machine window."""
    namespace, name, tag_name = reference
    with open_database(uri):
        ref = lookup_or_fail(namespace, name)
        current = current_model().get_repo_tag(ref, tag_name)
        ended = current_model().delete_tag(ref, tag_name) if current is not None else None
    if ended is None:
        raise click.ClickException("tag %s:%s not found" % (ref.full_name, tag_name))
    digest = current.manifest_digest
    if digest is None:
        click.echo("untagged %s:%s" % (ref.full_name, tag_name))
    else:
        click.echo("untagged %s:%s (was %s; `registry-model restore %s:%s %s` brings it back)"
                   % (ref.full_name, tag_name, digest, ref.full_name, tag_name, digest))


@click.command()
@click.argument("reference", type=TagReferenceType(), metavar="NS/REPO:TAG")
@click.argument("digest", type=DigestType())
@click.option("--json", "as_json", is_flag=True, help="Print the restored tag as JSON.")
@click.pass_obj
def restore(uri: str, reference: tuple, digest: str, as_json: bool) -> None:
    """Point NS/REPO:TAG back at the manifest DIGEST it (or another tag) had before.

    The manifest is looked up among every tag row of the repository, ended ones included
    (see `registry-model history`); the new row is marked as a reversion. A tag that is
    alive at DIGEST already is left as it is (no new history row), and the command says so.
    """
    namespace, name, tag_name = reference
    with open_database(uri):
        ref = lookup_or_fail(namespace, name)
        current = current_model().get_repo_tag(ref, tag_name)
        if current is not None and current.manifest_digest == digest:
            restored, changed = current, False
        else:
            manifest = current_model().lookup_manifest_by_digest(ref, digest, allow_dead=True)
            if manifest is None:
                raise click.ClickException("manifest %s not found in %s, nor in its time "
                                           "machine" % (digest, ref.full_name))
            restored = current_model().retarget_tag(ref, tag_name, manifest, None, None,
                                                   is_reversion=True)
            changed = True
    if restored is None:
        raise click.ClickException("manifest %s vanished while restoring" % digest)
    if as_json:
        echo_json(dict(tag_row(restored), changed=changed))
    elif changed:
        click.echo("restored %s:%s -> %s" % (ref.full_name, tag_name, restored.manifest_digest))
    else:
        click.echo("%s:%s already points at %s; nothing changed"
                   % (ref.full_name, tag_name, digest))
