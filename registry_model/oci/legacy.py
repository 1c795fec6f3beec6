"""The legacy (V1) image view of OCI image manifests, without a table of its own.

Each layer of an image manifest is one synthetic legacy image. Its
``docker_image_id`` is made from the manifest digest and the layer's place
counted from the top: the first 56 hex digits of the digest, then 8 hex digits
of the place (``00000000`` is the top layer, the one a tag shows). So it is the
same on every backend and in every process, a tag's V1 id needs no query, and
the id leads back to its manifest by a range scan of the (repository, digest)
index. Its database ``id`` is ``manifest id * 65536 + place``.

What the view shows of each layer (digest, size, and created / created_by /
comment from the config's history) is kept at push time in
``Manifest.layer_history``, so no read touches blob storage.

A Docker schema 1 manifest carried over from the pre-OCI tables
(:mod:`registry_model.backfill`) keeps its legacy images' own V1 ids instead: its
entries name them (``v1_id``) with everything the pre-OCI image rows showed
(:func:`schema1_layer_history`), so a V1 id a client saw before the backfill names
the same image after it.
"""
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Optional

from registry_model.datatypes import LegacyImage
from registry_model.manifests import ImageConfig, ParsedManifest
from registry_model.parent_chain import ParentChain

PREFIX_HEX = 56
ID_STRIDE = 1 << 16  # more places than a 4 MiB manifest can list layers
ALGORITHMS = ("sha256", "sha512")
_ZERO = timedelta(0)
# json.dumps with options builds an encoder per call; the view encodes one command a layer.
_encode_json = json.JSONEncoder(ensure_ascii=False).encode
_new_tuple = tuple.__new__  # positional, without a namedtuple's __new__ call
_new_object = object.__new__
_fromisoformat = datetime.fromisoformat
_UNSEEN = object()  # a memo's miss (None is a converted value)
# What JSON must escape in a string when non-ASCII characters are kept as they are.
_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f"\\]').search


def legacy_image_id(manifest_digest: str, place: int) -> str:
    """The synthetic V1 id of the layer ``place`` steps below the top of the manifest."""
    return _prefix(manifest_digest) + "%08x" % place


def parse_legacy_image_id(docker_image_id: object) -> Optional[tuple]:
    """``(digest hex prefix, place)`` of a synthetic V1 id, or None for any other string."""
    if not isinstance(docker_image_id, str) or len(docker_image_id) != PREFIX_HEX + 8:
        return None
    try:
        int(docker_image_id, 16)
    except ValueError:
        return None
    if docker_image_id != docker_image_id.lower():
        return None
    return docker_image_id[:PREFIX_HEX], int(docker_image_id[PREFIX_HEX:], 16)


def layer_history(parsed: ParsedManifest, config: Optional[ImageConfig]) -> Optional[str]:
    """The JSON kept for the legacy view of an image manifest; None for a list or index.

    One entry per layer, base first: digest, size, and what the config's history says
    of the layer (created, created_by, comment; None when the config is not at hand or
    does not describe it).
    """
    if parsed.is_manifest_list or parsed.config is None:
        return None
    history = config.layer_history if config is not None else ()
    entries = []
    for index, layer in enumerate(parsed.layers):
        step = history[index] if index < len(history) else None
        entries.append({"digest": layer.digest, "size": layer.size,
                        "created": step.created if step else None,
                        "created_by": step.created_by if step else None,
                        "comment": step.comment if step else None})
    return json.dumps(entries, ensure_ascii=False)


def schema1_layer_history(images: list) -> str:
    """The JSON kept for the legacy view of a schema 1 manifest whose images are known.

    ``images`` holds the manifest's legacy images, base first, each with
    ``docker_image_id``, ``blob_digest``, ``image_size``, ``aggregate_size``, ``created``
    (a datetime or None), ``comment``, ``command`` (its JSON text) and
    ``v1_json_metadata``, as the pre-OCI image rows hold them.
    """
    return json.dumps([{"digest": image.blob_digest, "size": image.image_size,
                        "created": image.created.isoformat() if image.created else None,
                        "created_by": None, "comment": image.comment,
                        "v1_id": image.docker_image_id, "command": image.command,
                        "v1_json": image.v1_json_metadata,
                        "aggregate_size": image.aggregate_size}
                       for image in images], ensure_ascii=False)


def top_image_id(manifest) -> Optional[str]:
    """The V1 id of a manifest row's top layer (a schema 1 image's own), None without layers."""
    entries = json.loads(manifest.layer_history) if manifest.layer_history else []
    if not entries:
        return None
    return entries[-1].get("v1_id") or legacy_image_id(manifest.digest, 0)


def _created(value: Optional[str]) -> Optional[datetime]:
    """An RFC 3339 time (nanoseconds allowed) as naive UTC, or None."""
    if not value:
        return None
    try:
        if value[-1] == "Z":  # the usual spelling: naive at once (replace() costs 1.4 us)
            return datetime.fromisoformat(value[:-1])
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = _created_slowly(value)
        if parsed is None:
            return None
    if parsed.tzinfo is None:
        return parsed
    return parsed.astimezone(UTC).replace(tzinfo=None)


def _command(created_by: Optional[str]) -> Optional[str]:
    """The V1 ``command`` of a history step: the JSON list of its ``created_by``."""
    if created_by is None:
        return None
    if _NEEDS_ESCAPE(created_by) is None:  # most steps: no JSON encoder call (2.7 us)
        return '["' + created_by + '"]'
    return _encode_json([created_by])


def _created_slowly(value: str) -> Optional[datetime]:
    """What ``fromisoformat`` refuses: more than 6 fraction digits before an offset."""
    text = value.replace("Z", "+00:00")
    if "." in text:  # Python reads at most microseconds
        head, tail = text.split(".", 1)
        digits = len(tail) - len(tail.lstrip("0123456789"))
        text = head + "." + tail[:min(digits, 6)] + tail[digits:]
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def legacy_image(manifest, place: int) -> Optional[LegacyImage]:
    """The LegacyImage of the layer ``place`` steps below the top, ``parents`` and ``tags``
    None; None past the bottom layer. Builds that one image only."""
    return _one_image(manifest, _entries(manifest), place)


def legacy_images(manifest, tags: Optional[tuple] = None, place: int = 0,
                  with_parents: bool = True, memo: Optional[dict] = None) -> list:
    """The LegacyImages of one manifest row from the layer ``place`` down, top first.

    Each image has its parents (the layers below it, nearest first: one
    :class:`ParentChain` link per image over the chain of the one below), or None
    without ``with_parents``. ``tags`` (alive, non-hidden tag names of the manifest) go
    on the top layer; the layers below get an empty tuple; None leaves ``tags``
    unloaded on every layer. A ``place`` past the bottom layer gives an empty list.
    ``memo`` (a dict the caller keeps over the manifests of one listing) holds the
    commands already encoded: images built on one base repeat their base's history
    steps. Entries carry every key :func:`layer_history` writes; those of
    :func:`schema1_layer_history` give each image its own V1 id, command, aggregate
    size and V1 JSON.
    """
    return _images(manifest, _entries(manifest), tags, place, with_parents, memo)


def repository_images(manifests: list, tags_by_manifest: dict) -> list:
    """The legacy view of a repository: the images of every image manifest row, in order.

    ``tags_by_manifest`` maps a manifest id to its alive, non-hidden tag names (they go on
    its top layer). Each manifest's images come top first with their parents; a V1 image
    shared by backfilled schema 1 manifests is listed once, with all their tags
    (:func:`merge_shared_images`).
    """
    images: list = []
    memo: dict = {}  # history steps encoded once for the whole listing
    shared = False
    no_tags = ()
    for manifest in manifests:
        entries = _entries(manifest)
        # Whether it names its own V1 ids (has_own_v1_ids), from the entries already read.
        shared = shared or (len(entries) > 0 and "v1_id" in entries[0])
        images += _images(manifest, entries, tuple(tags_by_manifest.get(manifest.id, no_tags)),
                          0, True, memo)
    return merge_shared_images(images) if shared else images


def find_image(manifest, docker_image_id: str, place: int,
               with_parents: bool) -> Optional[LegacyImage]:
    """The LegacyImage of that V1 id in one manifest row (``tags`` None), or None.

    ``place`` is what the id says when read as synthetic; a backfilled schema 1 image
    is found by its own id wherever it sits. ``parents`` are filled with
    ``with_parents``, None without.
    """
    entries = _entries(manifest)
    if entries and "v1_id" in entries[0]:
        total = len(entries)
        place = next((total - 1 - index for index, entry in enumerate(entries)
                      if entry["v1_id"] == docker_image_id), -1)
        if place < 0:
            return None
    elif docker_image_id != legacy_image_id(manifest.digest, place):
        return None
    if not with_parents:
        return _one_image(manifest, entries, place)
    images = _images(manifest, entries, None, place, True, None)
    return images[0] if images else None


def has_own_v1_ids(manifest) -> bool:
    """Whether a manifest row is a backfilled schema 1 manifest, whose images keep their
    own V1 ids (and may be shared with other manifests of the repository)."""
    return manifest.layer_history is not None and '"v1_id": ' in manifest.layer_history


def merge_shared_images(images: list) -> list:
    """A listing's images with each V1 id once, in order of first appearance.

    Backfilled schema 1 manifests share V1 images (each tag had its own manifest over
    one chain): one image, with the tags of every manifest showing it.
    """
    merged: dict = {}
    for image in images:
        seen = merged.get(image.docker_image_id)
        if seen is None:
            merged[image.docker_image_id] = image
        elif image.tags:
            merged[image.docker_image_id] = seen._replace(
                tags=tuple(dict.fromkeys(seen.tags + image.tags)))
    return list(merged.values())


def _entries(manifest) -> list:
    return json.loads(manifest.layer_history) if manifest.layer_history else []


def _one_image(manifest, entries: list, place: int) -> Optional[LegacyImage]:
    count = len(entries) - place
    if place < 0 or count <= 0:
        return None
    aggregate = sum(entry["size"] or 0 for entry in entries[:count])
    return _image(manifest.id * ID_STRIDE, _prefix(manifest.digest), place, entries[count - 1],
                  aggregate, None, None)


def _images(manifest, entries: list, tags: Optional[tuple], place: int, with_parents: bool,
            memo: Optional[dict]) -> list:
    """:func:`legacy_images` of entries already read."""
    total = len(entries)
    own_ids = total > 0 and "v1_id" in entries[0]  # every entry, or none, names its V1 id
    prefix = _prefix(manifest.digest)
    first_id = manifest.id * ID_STRIDE
    no_tags = None if tags is None else ()
    top_tags = None if tags is None else tuple(tags)
    # JSON escapes every character a command would need escaped ('"', '\\', controls) with
    # a backslash: a history without one writes its commands by concatenation alone.
    plain = total == 0 or "\\" not in manifest.layer_history
    commands = memo.setdefault("created_by", {}) if memo is not None else {}
    command_of = commands.get
    place_hex = _PLACE_HEX if total <= len(_PLACE_HEX) else _place_hex(total)
    built: list = []
    append = built.append
    aggregate = 0
    below = None
    parents: Any = () if with_parents else None
    chain = None  # the link ``parents`` holds once there is one below
    # Base first, up to the layer ``place``: each image's chain is one link in front of the
    # chain of the one below, built here (ParentChain's constructor is a call per image).
    # The entries run past ``place``: zip stops there.
    for layer, entry in zip(range(total - 1, place - 1, -1), entries, strict=False):
        size = entry["size"]
        aggregate += size or 0
        if with_parents and below is not None:
            parents = _new_object(ParentChain)
            parents._head = below
            parents._tail = chain
            chain = parents
        created = entry["created"]
        if created.__class__ is str and created[-1:] == "Z":  # the usual spelling: at once
            try:
                when = _fromisoformat(created[:-1])
            except ValueError:
                when = _created(created)
        else:
            when = _created(created)
        if own_ids:  # a backfilled schema 1 image, as its pre-OCI row showed it
            below = _new_tuple(LegacyImage, (
                first_id + layer, entry["v1_id"], when, entry["comment"], entry["command"],
                size, entry["aggregate_size"], False, entry["v1_json"], entry["digest"],
                parents, no_tags if layer else top_tags))
            append(below)
            continue
        created_by = entry["created_by"]
        if created_by is None:
            command = None
        elif plain:
            command = '["' + created_by + '"]'
        else:
            command = command_of(created_by, _UNSEEN)
            if command is _UNSEEN:
                command = commands[created_by] = _command(created_by)
        # Positionally, without a namedtuple's __new__: a listing builds thousands.
        below = _new_tuple(LegacyImage, (
            first_id + layer, prefix + place_hex[layer], when, entry["comment"], command,
            size, aggregate, False, None, entry["digest"], parents,
            no_tags if layer else top_tags))
        append(below)
    built.reverse()
    return built


def _place_hex(count: int) -> tuple:
    """The V1 id suffixes of places 0 to ``count - 1``."""
    return tuple("%08x" % place for place in range(count))


_PLACE_HEX = _place_hex(256)  # formatting a suffix costs as much as the rest of an image


def _prefix(manifest_digest: str) -> str:
    return manifest_digest.split(":", 1)[1][:PREFIX_HEX]


def _image(first_id: int, prefix: str, place: int, entry: dict, aggregate: int,
           parents, tags) -> LegacyImage:
    """One layer's LegacyImage."""
    if "v1_id" in entry:  # a backfilled schema 1 image, as its pre-OCI row showed it
        return _new_tuple(LegacyImage, (
            first_id + place, entry["v1_id"], _created(entry.get("created")),
            entry.get("comment"), entry["command"], entry["size"], entry["aggregate_size"],
            False, entry["v1_json"], entry["digest"], parents, tags))
    return _new_tuple(LegacyImage, (
        first_id + place, prefix + "%08x" % place, _created(entry.get("created")),
        entry.get("comment"), _command(entry.get("created_by")), entry["size"], aggregate,
        False, None, entry["digest"], parents, tags))
