"""Time the garbage collector on many dead tags and blobs, and count its SQL statements.

Builds, in a scratch database on the server named by ``--db`` (a temporary SQLite file
without it; dropped afterwards), a repository holding ``--tags`` ended tags, each with a
manifest and a label, on an image of its own whose blob has a file in a FilesystemBlobStore
(or, with ``--memory-store``, in memory, to time the database work alone), plus as many alive
tags that must survive. Then it collects the repository
(:meth:`registry_model.model.collection.Collector.collect_repository`, as
``registry-model gc NS/REPO`` does) and prints wall seconds, tags and blobs per second and
the statements sent (transaction control not counted)::

    python benchmarks/gc_throughput.py --db postgresql://postgres@127.0.0.1:5432/rm_bench
    python benchmarks/gc_throughput.py --db mysql://root@127.0.0.1:3306/rm_bench --tags 500

Exit status 1 when the collection removed the wrong rows or files. Not part of the tests.
"""
import hashlib
import json
import tempfile
import time
import uuid
from typing import Optional

import click

from registry_model.blobstore import BlobStore, FilesystemBlobStore, InMemoryBlobStore
from registry_model.database import (
    Image,
    ImageStorage,
    ImageStoragePlacement,
    Label,
    Namespace,
    Repository,
    RepositoryTag,
    TagManifest,
    TagManifestLabel,
    backend_name,
    configure,
)
from registry_model.migration import upgrade
from registry_model.model import collection as gc
from registry_model.model import lookup
from registry_model.pre_oci.collector import PreOCICollector
from registry_model.testing.databases import scratch_database
from registry_model.testing.queries import count_statements


def build(store: BlobStore, dead: int, ended: int) -> tuple:
    """The repository: ``dead`` ended tags and ``dead`` alive ones, each on its own image."""
    namespace = Namespace.create(name="bench", removed_tag_expiration_s=0)
    repository = Repository.create(namespace=namespace, name="gc", kind=lookup.kind_id("image"),
                                   visibility=lookup.visibility_id("private"))
    total = 2 * dead
    digests = [store.put(b"layer %d of the gc benchmark" % index).digest
               for index in range(total)]
    ImageStorage.insert_many([{"uuid": str(uuid.uuid4()), "content_checksum": digest,
                               "image_size": 32, "uploading": False} for digest in digests]
                             ).execute()
    storage_ids = dict(ImageStorage.select(ImageStorage.content_checksum, ImageStorage.id)
                       .tuples())
    ImageStoragePlacement.insert_many([{"storage": storage_ids[digest],
                                        "location": lookup.location_id("local")}
                                       for digest in digests]).execute()
    Image.insert_many([{"repository": repository.id, "storage": storage_ids[digest],
                        "docker_image_id": hashlib.sha256(digest.encode()).hexdigest(),
                        "ancestors": "/"} for digest in digests]).execute()
    image_ids = [row[0] for row in Image.select(Image.id).order_by(Image.id).tuples()]
    RepositoryTag.insert_many([{"repository": repository.id, "name": "tag%d" % index,
                                "image": image_id, "lifetime_start_ts": ended - 100,
                                "lifetime_end_ts": ended if index < dead else None}
                               for index, image_id in enumerate(image_ids)]).execute()
    tag_ids = [row[0] for row in RepositoryTag.select(RepositoryTag.id)
               .order_by(RepositoryTag.id).tuples()]
    TagManifest.insert_many([{"tag": tag_id, "digest": "sha256:" + "0" * 64,
                              "json_data": json.dumps({"tag": tag_id})}
                             for tag_id in tag_ids]).execute()
    manifest_ids = [row[0] for row in TagManifest.select(TagManifest.id)
                    .order_by(TagManifest.id).tuples()]
    Label.insert_many([{"uuid": str(uuid.uuid4()), "key": "com.example.n", "value": str(n),
                        "media_type": lookup.media_type_id("text/plain"),
                        "source_type": lookup.source_type_id("api")}
                       for n in range(total)]).execute()
    label_ids = [row[0] for row in Label.select(Label.id).order_by(Label.id).tuples()]
    TagManifestLabel.insert_many([{"repository": repository.id, "annotated": manifest_id,
                                   "label": label_id} for manifest_id, label_id
                                  in zip(manifest_ids, label_ids, strict=True)]).execute()
    return repository, digests[:dead], digests[dead:]


@click.command()
@click.option("--db", "base_uri", default=None, metavar="URI",
              help="Server to make the scratch database on (default: a temporary SQLite file).")
@click.option("--tags", "dead", default=2000, show_default=True,
              help="Ended tags (each with its own image and blob) to collect.")
@click.option("--batch-size", default=gc.DEFAULT_BATCH_SIZE, show_default=True)
@click.option("--memory-store", is_flag=True,
              help="Keep the blobs in an InMemoryBlobStore: time the database work alone.")
def main(base_uri: Optional[str], dead: int, batch_size: int, memory_store: bool) -> None:
    """Collect DEAD ended tags with their images and blobs; print the throughput."""
    with scratch_database(base_uri) as uri, tempfile.TemporaryDirectory() as folder:
        database = configure(uri)
        upgrade(database)
        store = InMemoryBlobStore() if memory_store else FilesystemBlobStore(folder)
        repository, doomed, kept = build(store, dead, ended=int(time.time()) - 60)
        # Statistics, as a server that has been running has them (fresh tables get poor plans).
        if backend_name(database) == "mysql":
            database.execute_sql("ANALYZE TABLE %s" % ", ".join(
                model._meta.table_name for model in (Image, ImageStorage, RepositoryTag,
                                                     TagManifest, TagManifestLabel)))
        else:
            database.execute_sql("ANALYZE")
        # The real clock: the files, written just now, are past a grace period of 0.
        collector = PreOCICollector(store, grace_s=0, batch_size=batch_size)
        with count_statements() as counted:
            started = time.perf_counter()
            collector.collect_repository(repository.id)
            seconds = time.perf_counter() - started
        counts = collector.counts
        right = (counts["tags"] == counts["images"] == counts["blobs"] == counts["files"]
                 == dead and not any(map(store.exists, doomed))
                 and all(map(store.exists, kept))
                 and RepositoryTag.select().count() == dead)
        database.close()
    click.echo("%s: %d tags, %d manifests, %d labels, %d images, %d blobs, %d files in %.2f s "
               "(batch size %d, %s)" % (backend_name(database), counts["tags"],
                                        counts["manifests"], counts["labels"], counts["images"],
                                        counts["blobs"], counts["files"], seconds, batch_size,
                                        type(store).__name__))
    click.echo("  %.0f tags/s, %.0f blobs/s (with their files); %d statements"
               % (counts["tags"] / seconds, counts["blobs"] / seconds, counted.count))
    if not right:
        click.echo("WRONG: the collection did not remove exactly the dead tags' rows and files")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
