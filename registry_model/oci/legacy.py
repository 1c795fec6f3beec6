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
from datetime import UTC, datetime
from typing import Optional

from registry_model.datatypes import LegacyImage
from registry_model.manifests import ImageConfig, ParsedManifest

PREFIX_HEX = 56
ID_STRIDE = 1 << 16  # more places than a 4 MiB manifest can list layers
ALGORITHMS = ("sha256", "sha512")


def legacy_image_id(manifest_digest: str, place: int) -> str:
    """The synthetic V1 id of the layer ``place`` steps below the top of the manifest."""
    return manifest_digest.split(":", 1)[1][:PREFIX_HEX] + "%08x" % place


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


def find_image(images: list, docker_image_id: str, place: int) -> Optional[LegacyImage]:
    """The image of that V1 id among one manifest's ``images`` (top first), or None.

    ``place`` is what the id says when read as synthetic; a schema 1 image is found by
    its own id wherever it sits.
    """
    if place < len(images) and images[place].docker_image_id == docker_image_id:
        return images[place]
    for image in images:
        if image.docker_image_id == docker_image_id:
            return image
    return None


def _created(value: Optional[str]) -> Optional[datetime]:
    """An RFC 3339 time (nanoseconds allowed) as naive UTC, or None."""
    if not value:
        return None
    text = value.replace("Z", "+00:00")
    if "." in text:  # Python reads at most microseconds
        head, tail = text.split(".", 1)
        digits = len(tail) - len(tail.lstrip("0123456789"))
        text = head + "." + tail[:min(digits, 6)] + tail[digits:]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def legacy_images(manifest, tags: Optional[tuple] = None) -> list:
    """The LegacyImages of one manifest row, top layer first, each with its parents.

    ``tags`` (alive, non-hidden tag names of the manifest) go on the top layer; the
    layers below get an empty tuple; None leaves ``tags`` unloaded on every layer.
    """
    entries = json.loads(manifest.layer_history) if manifest.layer_history else []
    built: list = []
    aggregate = 0
    for index, entry in enumerate(entries):
        place = len(entries) - 1 - index
        aggregate += entry["size"] or 0
        parents = (built[-1],) + built[-1].parents if built else ()
        layer_tags = None if tags is None else (tuple(tags) if place == 0 else ())
        if "v1_id" in entry:  # a schema 1 manifest's own legacy image, as it was
            docker_image_id, command = entry["v1_id"], entry["command"]
            aggregate_size, v1_metadata = entry["aggregate_size"], entry["v1_json"]
        else:
            docker_image_id = legacy_image_id(manifest.digest, place)
            command = json.dumps([entry["created_by"]], ensure_ascii=False) \
                if entry.get("created_by") is not None else None
            aggregate_size, v1_metadata = aggregate, None
        built.append(LegacyImage(
            id=manifest.id * ID_STRIDE + place, docker_image_id=docker_image_id,
            created=_created(entry.get("created")), comment=entry.get("comment"),
            command=command, image_size=entry["size"], aggregate_size=aggregate_size,
            uploading=False, v1_metadata_string=v1_metadata, blob_digest=entry["digest"],
            parents=parents, tags=layer_tags))
    return built[::-1]
