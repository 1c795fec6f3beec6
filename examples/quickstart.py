"""Quickstart: migrate a database, write a small repository, read it back.

    python examples/quickstart.py [DATABASE_URI]    # default: sqlite:///registry.db, here

It writes ``acme/quickstart``, its own repository, so it runs as well in the folder where the
README's first command imported ``acme/hello`` (the namespace is reused when it exists).
Writes go through the model layer (``registry_model.model.*``); reads go through
the interface (``registry_model.registry_model``), which hands back datatypes,
never database rows. The writes run in one transaction and only when the
repository is missing, so running the script again reuses what the first run wrote.
"""
import hashlib
import json
import sys
from datetime import datetime

from registry_model import registry_model
from registry_model.database import DEFAULT_URI, configure
from registry_model.migration import upgrade
from registry_model.model import image, manifest, namespace, repository, storage, tag

NAMESPACE, NAME = "acme", "quickstart"
LAYERS = ["base", "runtime", "app"]  # a 3-image chain: base <- runtime <- app


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_repository(database) -> None:
    """Create acme/quickstart: three chained images, tags latest and v1, a manifest, a label."""
    with database.atomic():  # all or nothing: a half-written repository never stays behind
        if repository.get_repository(NAMESPACE, NAME) is not None:
            return
        if namespace.get_namespace(NAMESPACE) is None:
            namespace.create_namespace(NAMESPACE)
        repo = repository.create_repository(NAMESPACE, NAME, visibility="public")

        parent = None
        for index, layer in enumerate(LAYERS):
            blob = storage.create_storage("sha256:" + sha256("blob of " + layer),
                                          image_size=1024 * (index + 1))
            parent = image.create_image(repo, sha256("image " + layer), blob, parent=parent,
                                        created=datetime(2024, 1, 1 + index),
                                        command='["/bin/sh", "-c", "build %s"]' % layer)

        latest = tag.create_or_update_tag(repo, "latest", parent)
        tag.create_or_update_tag(repo, "v1", parent)

        manifest_bytes = json.dumps({
            "schemaVersion": 1, "name": "%s/%s" % (NAMESPACE, NAME), "tag": "latest",
            "architecture": "amd64",
            "fsLayers": [{"blobSum": "sha256:" + sha256("blob of " + layer)}
                         for layer in reversed(LAYERS)],
            "history": [{"v1Compatibility": json.dumps({"id": sha256("image " + layer)})}
                        for layer in reversed(LAYERS)],
        }, indent=3).encode("utf-8")
        manifest.store_tag_manifest(latest, "sha256:" + hashlib.sha256(manifest_bytes)
                                    .hexdigest(), manifest_bytes)

        # Labels are written through the interface, which validates the key.
        ref = registry_model.lookup_repository(NAMESPACE, NAME)
        stored = registry_model.get_manifest_for_tag(
            registry_model.find_matching_tag(ref, ["latest"]))
        registry_model.create_manifest_label(stored, "com.example.maintainer", "acme team",
                                             "api")


def show_repository() -> None:
    """Print what the interface returns for acme/quickstart."""
    ref = registry_model.lookup_repository(NAMESPACE, NAME)
    print("repository %s: kind %s, %s, %s"
          % (ref.full_name, ref.kind, "public" if ref.is_public else "private", ref.state.name))

    for tag_name in ("latest", "v1"):
        found = registry_model.find_matching_tag(ref, [tag_name])
        if found is None:  # ended since the first run (e.g. `registry-model untag`)
            print("tag %s: not found" % tag_name)
        else:
            print("tag %s -> image %s" % (found.name, found.docker_image_id[:12]))

    latest = registry_model.find_matching_tag(ref, ["latest"])
    stored = registry_model.get_manifest_for_tag(latest) if latest is not None else None
    if stored is None:
        print("no manifest for latest")
        return
    print("manifest of latest: %s (%s, %d bytes)"
          % (stored.digest, stored.media_type, len(stored.manifest_bytes)))

    print("legacy images (parents nearest first):")
    for legacy in registry_model.get_legacy_images(ref):
        parents = ", ".join(parent.docker_image_id[:12] for parent in legacy.parents) or "-"
        print("  image %s  %d bytes  parents: %s  tags: %s"
              % (legacy.docker_image_id[:12], legacy.image_size, parents,
                 ", ".join(legacy.tags) or "-"))

    print("labels of latest:")
    for label in registry_model.list_manifest_labels(stored):
        print("  %s = %s (%s, %s)"
              % (label.key, label.value, label.source_type_name, label.media_type_name))


def main(uri: str) -> None:
    database = configure(uri)
    applied = upgrade(database)
    print("database %s: %s" % (database.database, "applied " + ", ".join(applied)
                               if applied else "schema up to date"))
    write_repository(database)
    show_repository()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_URI)
