"""Read-only commands: repos, tags, images, labels, history and inspect."""
from typing import Iterator

import click

from registry_model.cli import current_model, lookup_or_fail, open_database, tag_and_manifest
from registry_model.cli.argument_types import (
    ManifestReferenceType,
    RepositoryNameType,
    TagNameType,
    TagReferenceType,
)
from registry_model.cli.output import (
    SHORT_ID_LENGTH,
    echo_json,
    echo_table,
    human_size,
    one_line,
    rfc3339,
    short_digest,
    tag_row,
)
from registry_model.datatypes import LegacyImage, RepositoryReference
from registry_model.manifests import DockerSchema1Manifest, parse_manifest_from_bytes
from registry_model.oci_images import platform_name

HISTORY_PAGE_SIZE = 100
REPOSITORY_PAGE_SIZE = 100


def _all_repositories() -> Iterator[RepositoryReference]:
    """Every repository not marked for deletion, by name, a keyset page at a time."""
    last = None
    while True:
        page = current_model().list_repositories(last=last, limit=REPOSITORY_PAGE_SIZE)
        yield from page
        if len(page) < REPOSITORY_PAGE_SIZE:
            return
        last = page[-1].full_name


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def repos(uri: str, as_json: bool) -> None:
    """List the repositories, except those marked for deletion."""
    with open_database(uri):
        repositories = list(_all_repositories())
    rows = [{"repository": repo.full_name, "namespace": repo.namespace_name, "name": repo.name,
             "kind": repo.kind, "visibility": "public" if repo.is_public else "private",
             "state": repo.state.name.lower()} for repo in repositories]
    if as_json:
        echo_json(rows)
    else:
        echo_table(["REPOSITORY", "KIND", "VISIBILITY", "STATE"],
                    [[row["repository"], row["kind"], row["visibility"], row["state"]]
                     for row in rows], empty="no repositories")


@click.command()
@click.argument("repository", type=RepositoryNameType(), metavar="NS/REPO")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def tags(uri: str, repository: tuple, as_json: bool) -> None:
    """List the alive, non-hidden tags of NS/REPO."""
    with open_database(uri):
        ref = lookup_or_fail(*repository)
        found = current_model().list_all_active_repository_tags(ref)
    rows = [{"name": tag.name, "docker_image_id": tag.docker_image_id,
             "lifetime_start": rfc3339(tag.lifetime_start_ts),
             "lifetime_end": rfc3339(tag.lifetime_end_ts)} for tag in found]
    if as_json:
        echo_json(rows)
    else:
        echo_table(["TAG", "IMAGE", "START", "END"],
                    [[row["name"], row["docker_image_id"][:SHORT_ID_LENGTH],
                      row["lifetime_start"], row["lifetime_end"]] for row in rows],
                    empty="no tags")


def _tree(images: list) -> Iterator[tuple]:
    """``(image, depth, prefix)`` for every image, each root then its subtree, in id order.

    ``prefix`` draws the branches; iterative, since chains can be deeper than
    Python's recursion limit.
    """
    children: dict = {}
    for image in images:
        parent = image.parents[0].id if image.parents else None
        children.setdefault(parent, []).append(image)
    stack = [(root, 0, "", "") for root in reversed(children.get(None, []))]
    while stack:
        image, depth, prefix, child_prefix = stack.pop()
        yield image, depth, prefix
        kids = children.get(image.id, [])
        for index in reversed(range(len(kids))):
            last = index == len(kids) - 1
            stack.append((kids[index], depth + 1,
                          child_prefix + ("└── " if last else "├── "),
                          child_prefix + ("    " if last else "│   ")))


def _short_ids(ids: list) -> list:
    """The ids cut to SHORT_ID_LENGTH, unless that makes two alike: the OCI model's synthetic
    V1 ids of one manifest share their start (its digest) and differ in their last 8 digits
    (the layer), which are shown after an ellipsis then."""
    short = [image_id[:SHORT_ID_LENGTH] for image_id in ids]
    if len(set(short)) == len(set(ids)):
        return short
    return ["%s…%s" % (image_id[:SHORT_ID_LENGTH], image_id[-8:]) for image_id in ids]


def _image_row(image: LegacyImage, depth: int) -> dict:
    return {"docker_image_id": image.docker_image_id,
            "parent_id": image.parents[0].docker_image_id if image.parents else None,
            "depth": depth, "size": image.image_size, "aggregate_size": image.aggregate_size,
            "blob_digest": image.blob_digest,
            "created": rfc3339(image.created),
            "tags": list(image.tags or ())}


@click.command()
@click.argument("repository", type=RepositoryNameType(), metavar="NS/REPO")
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON array (tree order, each with its parent_id).")
@click.pass_obj
def images(uri: str, repository: tuple, as_json: bool) -> None:
    """Show the legacy images of NS/REPO as a tree.

    Each root comes first with its descendants indented below it; every image
    shows its short id, its blob size and the names of its alive tags.
    """
    with open_database(uri):
        found = current_model().get_legacy_images(lookup_or_fail(*repository))
    tree = list(_tree(found))
    if as_json:
        echo_json([_image_row(image, depth) for image, depth, _ in tree])
        return
    if not tree:
        click.echo("no images")
    shown = _short_ids([image.docker_image_id for image, _, _ in tree])
    for (image, _, prefix), short in zip(tree, shown, strict=True):
        names = "  " + ", ".join(image.tags) if image.tags else ""
        click.echo("%s%s  %s%s" % (prefix, short, human_size(image.image_size), names))


@click.command()
@click.argument("reference", type=TagReferenceType(), metavar="NS/REPO:TAG")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def labels(uri: str, reference: tuple, as_json: bool) -> None:
    """List the labels of the manifest of NS/REPO:TAG.

    Labels come in creation order, with their source, media type and uuid (what
    `registry-model label rm` takes).
    """
    namespace, name, tag_name = reference
    with open_database(uri):
        tag = current_model().find_matching_tag(lookup_or_fail(namespace, name), [tag_name])
        if tag is None:
            raise click.ClickException("tag %s/%s:%s not found" % (namespace, name, tag_name))
        manifest = current_model().get_manifest_for_tag(tag)
        if manifest is None:
            raise click.ClickException("tag %s/%s:%s has no manifest"
                                       % (namespace, name, tag_name))
        found = current_model().list_manifest_labels(manifest)
    rows = [{"key": label.key, "value": label.value, "source_type": label.source_type_name,
             "media_type": label.media_type_name, "uuid": label.uuid} for label in found]
    if as_json:
        echo_json(rows)
    else:
        echo_table(["KEY", "VALUE", "SOURCE", "MEDIA TYPE", "UUID"],
                    [[row["key"], one_line(row["value"]), row["source_type"], row["media_type"],
                      row["uuid"]] for row in rows], empty="no labels")


@click.command()
@click.argument("repository", type=RepositoryNameType(), metavar="NS/REPO")
@click.argument("tag_name", type=TagNameType(), required=False, metavar="[TAG]")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def history(uri: str, repository: tuple, tag_name: str, as_json: bool) -> None:
    """List every tag row of NS/REPO (or of its TAG), alive and ended, newest first.

    Each row shows the manifest and image the tag pointed at, when it started and ended,
    and whether it was a restore; ended rows are what `registry-model restore` brings back.
    """
    with open_database(uri):
        ref = lookup_or_fail(*repository)
        found: list = []
        page = 1
        while True:
            tags, has_more = current_model().list_repository_tag_history(
                ref, page=page, size=HISTORY_PAGE_SIZE, specific_tag_name=tag_name)
            found.extend(tags)
            if not has_more:
                break
            page += 1
    rows = [tag_row(tag) for tag in found]
    if as_json:
        echo_json(rows)
    else:
        echo_table(["TAG", "MANIFEST", "IMAGE", "START", "END", "REVERSION"],
                   [[row["name"], short_digest(row["manifest_digest"]),
                     row["docker_image_id"][:SHORT_ID_LENGTH], row["lifetime_start"],
                     row["lifetime_end"], "yes" if row["reversion"] else None]
                    for row in rows], empty="no tag history")


def _show_descriptors(ref: RepositoryReference, manifest, parsed, as_json: bool) -> None:
    """``inspect`` of a schema 2 or OCI manifest: its config, layers or child manifests."""
    config = parsed.config
    document = {"repository": ref.full_name, "digest": manifest.digest,
                "media_type": manifest.media_type, "artifact_type": parsed.artifact_type,
                "config": ({"digest": config.digest, "media_type": config.media_type,
                            "size": config.size} if config is not None else None),
                "layers": [{"digest": layer.digest, "media_type": layer.media_type,
                            "size": layer.size} for layer in parsed.layers],
                "manifests": [{"digest": child.digest, "media_type": child.media_type,
                               "size": child.size, "platform": platform_name(child.platform)}
                              for child in parsed.child_manifests]}
    if as_json:
        echo_json(document)
        return
    for label, value in (("DIGEST", manifest.digest), ("MEDIA TYPE", manifest.media_type),
                         ("CONFIG", config.digest if config is not None else "-"),
                         ("ARTIFACT TYPE", parsed.artifact_type or "-")):
        click.echo("%-13s %s" % (label, value))
    click.echo()
    if parsed.child_manifests:
        echo_table(["MANIFEST", "PLATFORM", "MEDIA TYPE", "SIZE"],
                   [[row["digest"], row["platform"], row["media_type"], human_size(row["size"])]
                    for row in document["manifests"]], empty="no manifests")
        return
    echo_table(["LAYER (BASE FIRST)", "MEDIA TYPE", "SIZE"],
               [[row["digest"], row["media_type"], human_size(row["size"])]
                for row in document["layers"]], empty="no layers")


def _layer_row(layer) -> dict:
    metadata = layer.v1_metadata
    return {"digest": layer.digest, "v1_id": metadata.image_id,
            "parent_v1_id": metadata.parent_image_id, "created": rfc3339(metadata.created),
            "command": list(metadata.command) if metadata.command is not None else None}


@click.command()
@click.argument("reference", type=ManifestReferenceType(), metavar="NS/REPO:TAG|NS/REPO@DIGEST")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.option("--raw", is_flag=True, help="Print the manifest's exact bytes instead.")
@click.pass_obj
def inspect(uri: str, reference: tuple, as_json: bool, raw: bool) -> None:
    """Show the manifest of NS/REPO:TAG, or the one with that digest.

    A digest finds manifests of ended tags too (the time machine). Shows the digest, the
    media type, the name and tag it was pushed as, its architecture and its layers, base
    first, with their V1 ids; --raw prints the stored bytes exactly, signatures included.
    """
    if as_json and raw:
        raise click.UsageError("--json and --raw exclude each other")
    namespace, name, tag_name, digest = reference
    with open_database(uri):
        ref = lookup_or_fail(namespace, name)
        if digest is None:
            _, manifest = tag_and_manifest(ref, tag_name)
        else:
            manifest = current_model().lookup_manifest_by_digest(ref, digest, allow_dead=True)
            if manifest is None:
                raise click.ClickException("manifest %s not found in %s"
                                           % (digest, ref.full_name))
        if raw:
            click.echo(manifest.manifest_bytes, nl=False)
            return
        parsed = parse_manifest_from_bytes(manifest.manifest_bytes, manifest.media_type,
                                           validate=False)
    if not isinstance(parsed, DockerSchema1Manifest):
        _show_descriptors(ref, manifest, parsed, as_json)
        return
    document = {"repository": ref.full_name, "digest": manifest.digest,
                "media_type": manifest.media_type, "name": parsed.name, "tag": parsed.tag,
                "architecture": parsed.architecture, "signed": parsed.is_signed,
                "layers": [_layer_row(layer) for layer in parsed.layers]}
    if as_json:
        echo_json(document)
        return
    for label, value in (("DIGEST", document["digest"]), ("MEDIA TYPE", document["media_type"]),
                         ("PUSHED AS", "%s:%s" % (parsed.name, parsed.tag)),
                         ("ARCHITECTURE", document["architecture"] or "-"),
                         ("SIGNED", "yes" if parsed.is_signed else "no")):
        click.echo("%-13s %s" % (label, value))
    click.echo()
    echo_table(["LAYER (BASE FIRST)", "V1 ID", "CREATED", "COMMAND"],
               [[row["digest"], row["v1_id"][:SHORT_ID_LENGTH], row["created"],
                 one_line(" ".join(row["command"])) if row["command"] else None]
                for row in document["layers"]], empty="no layers")
