"""Quickstart: migrate a database, push a small repository, read it back.

    python examples/quickstart.py [DATABASE_URI]    # default: sqlite:///registry.db, here

It writes ``acme/quickstart``, its own repository, so it runs as well in the folder where the
README's first command imported ``acme/hello`` (the namespace is reused when it exists).
Everything goes through the interface (``registry_model.registry_model``), as a registry
serving a push would: blob uploads into the ``blobs/`` folder, then a schema 1 manifest
naming them; the reads hand back datatypes, never database rows. Running the script again
reuses what the first run wrote.
"""
import hashlib
import json
import sys
import uuid

from registry_model import errors, registry_model
from registry_model.blobstore import FilesystemBlobStore, ResumableSHA256
from registry_model.database import DEFAULT_URI, configure
from registry_model.manifests import DockerSchema1ManifestBuilder
from registry_model.migration import upgrade

NAMESPACE, NAME = "acme", "quickstart"
LAYERS = ["base", "runtime", "app"]  # a 3-image chain: base <- runtime <- app


def v1_id(layer: str) -> str:
    """A V1 image id (64 hex characters) for the layer's name."""
    return hashlib.sha256(("image " + layer).encode()).hexdigest()


def upload(store, ref, data: bytes) -> str:
    """Upload one blob in one chunk, as a registry serves ``PUT ...?digest=``; its digest."""
    upload_id = str(uuid.uuid4())
    pending = registry_model.create_blob_upload(ref, upload_id, "local", None)
    store.initiate_upload(upload_id)
    hasher = ResumableSHA256()
    length = store.write_chunk(upload_id, 0, data, hasher)
    pending = registry_model.update_blob_upload(pending, length, None, length, 1,
                                                hasher.to_state())
    store.complete_upload(upload_id, hasher.digest_str(), hasher.to_state())
    return registry_model.commit_blob_upload(pending, hasher.digest_str(), 3600).digest


def write_repository(store) -> None:
    """Push acme/quickstart: three chained layers, tags latest and v1, a label."""
    try:
        ref = registry_model.create_repository(NAMESPACE, NAME, visibility="public",
                                               create_namespace=True)
    except errors.DuplicateException:
        return  # written by an earlier run
    builder = DockerSchema1ManifestBuilder(NAMESPACE, NAME, "latest")
    for index in reversed(range(len(LAYERS))):  # the builder takes the leaf first
        v1 = {"id": v1_id(LAYERS[index]), "created": "2024-01-0%dT00:00:00Z" % (index + 1),
              "container_config": {"Cmd": ["/bin/sh", "-c", "build " + LAYERS[index]]}}
        if index:
            v1["parent"] = v1_id(LAYERS[index - 1])
        digest = upload(store, ref, ("layer " + LAYERS[index]).encode() * (index + 1) * 100)
        builder.add_layer(digest, json.dumps(v1))
    manifest, latest = registry_model.create_manifest_and_retarget_tag(ref, builder.build(),
                                                                       "latest", store)
    registry_model.retarget_tag(ref, "v1", manifest, store, None)
    registry_model.create_manifest_label(manifest, "com.example.maintainer", "acme team", "api")


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
    write_repository(FilesystemBlobStore("blobs"))
    show_repository()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_URI)
