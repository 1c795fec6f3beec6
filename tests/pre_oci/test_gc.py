"""Collection of images imported into the pre-OCI wing, checked against its tables.

What every implementation's collection does is in tests/conformance/test_collection.py.
"""
import hashlib
import io

from registry_model.archive import write_docker_archive
from registry_model.archive.oci_layout import make_layer_tar
from registry_model.blobstore import FilesystemBlobStore
from registry_model.clock import now_ts
from registry_model.database import (
    Image,
    ImageStorage,
    Namespace,
    RepositoryTag,
    UploadedBlob,
)
from registry_model.images import import_archive
from registry_model.sample import sample_config, sample_layers, write_sample_archive


def digests_present(digests) -> list:
    return sorted(row[0] for row in ImageStorage.select(ImageStorage.content_checksum)
                  .where(ImageStorage.content_checksum.in_(list(digests))).tuples())


def _archive(path, layers, repo_tag):
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    write_docker_archive(path, repo_tag, sample_config(diff_ids),
                         [(digest, len(layer), io.BytesIO(layer))
                          for digest, layer in zip(diff_ids, layers, strict=True)])
    return diff_ids


def test_an_imported_image_leaves_no_link_and_is_collected_once_untagged(
        registry_model, tmp_path):
    store = FilesystemBlobStore(tmp_path / "blobs", fsync=False)
    write_sample_archive(tmp_path / "hello.tar")
    base = sample_layers()[0]
    world = [base, make_layer_tar({"world.txt": "hello, world\n"})]
    world_digests = _archive(tmp_path / "world.tar", world, "acme/world:latest")
    hello = import_archive(tmp_path / "hello.tar", "acme", "hello", store, None)
    import_archive(tmp_path / "world.tar", "acme", "world", store, None)

    # Once the manifests are stored, only images hold the layers: no temporary link is left.
    assert UploadedBlob.select().count() == 0
    registry_model.delete_tag(hello.repository, "latest")
    Namespace.update(removed_tag_expiration_s=0).where(Namespace.name == "acme").execute()

    summary = registry_model.garbage_collect_repository(hello.repository, store,
                                                        now=now_ts() + 60)

    hello_digests = [layer.digest for layer in hello.layers]
    assert (summary.tags, summary.images, summary.blobs) == (1, 3, 2)
    assert digests_present(hello_digests) == [world_digests[0]]  # shared with acme/world
    assert Image.select().where(Image.repository == hello.repository.id).count() == 0
    assert RepositoryTag.select().where(
        RepositoryTag.repository == hello.repository.id).count() == 0
    world_ref = registry_model.lookup_repository("acme", "world")
    assert [registry_model.get_repo_blob_by_digest(world_ref, digest) is not None
            for digest in world_digests] == [True, True]
