"""The checks the state machine test runs after every step: the database equals the model.

Tag rows, manifests, labels, images (with their ancestors), blob records, placements, links
and the blob store's files are read whole and compared with
:class:`tests.pre_oci.registry_state.RegistryState`; then what the interface shows of each
repository. A failure names what differs.
"""
from collections import defaultdict

from registry_model.database import (
    Image,
    ImageStorage,
    ImageStoragePlacement,
    Label,
    RepositoryTag,
    TagManifest,
    TagManifestLabel,
    UploadedBlob,
    parse_ancestors,
)
from registry_model.model import lookup

from .registry_state import LabelRow, RegistryState


def check_database(model: RegistryState, refs: list, store, interface, digests: list) -> None:
    """Assert that the database, the blob store and the interface's views equal the model.

    ``refs`` are the RepositoryReferences of the model's repositories 0, 1, ...; ``digests``
    the layers whose link to each repository get_repo_blob_by_digest must report.
    """
    index = {ref.id: number for number, ref in enumerate(refs)}
    assert {row.id: (index[row.repository_id], row.name, row.image_id,
                     row.lifetime_start_ts, row.lifetime_end_ts, row.reversion, row.hidden)
            for row in RepositoryTag.select()} == {
        row.id: (row.repo, row.name, row.image_id, row.start, row.end, row.reversion, False)
        for row in model.tags.values()}
    assert {manifest_id: (tag_id, digest) for manifest_id, tag_id, digest in
            TagManifest.select(TagManifest.id, TagManifest.tag, TagManifest.digest)
            .tuples()} == {row.manifest_id: (row.id, row.digest)
                           for row in model.tags.values()}
    labels = defaultdict(list)
    for manifest_id, label_uuid, key, value, source_id in (
            Label.select(TagManifestLabel.annotated, Label.uuid, Label.key, Label.value,
                         Label.source_type).join(TagManifestLabel)
            .order_by(Label.id).tuples()):
        labels[manifest_id].append(LabelRow(label_uuid, key, value,
                                            lookup.source_type_name(source_id)))
    assert dict(labels) == {row.manifest_id: row.labels for row in model.tags.values()
                            if row.labels}
    assert Label.select().count() == sum(len(row.labels) for row in model.tags.values())
    _check_images_and_blobs(model, index, store)
    for number, ref in enumerate(refs):
        _check_interface_views(model, number, ref, interface, digests)


def _check_images_and_blobs(model: RegistryState, index: dict, store) -> None:
    """Images with their ancestors, blob records, placements, links and the store's files."""
    images = {image_id: (index[repo], digest, ancestors, docker_image_id)
              for image_id, repo, digest, ancestors, docker_image_id in
              Image.select(Image.id, Image.repository, ImageStorage.content_checksum,
                           Image.ancestors, Image.docker_image_id)
              .join(ImageStorage).tuples()}
    assert images == {
        image.id: (image.repo, image.digest,
                   "/" + "".join("%d/" % a.id for a in model.chain(image.id)[:-1]),
                   image.docker_image_id)
        for image in model.images.values()}
    for image_id, (repo, _, ancestors, _) in images.items():
        assert all(images.get(ancestor, (None,))[0] == repo
                   for ancestor in parse_ancestors(ancestors)), (image_id, ancestors)
    for row in model.tags.values():  # alive or restorable: its whole chain is there
        assert all(image.id in images for image in model.chain(row.image_id)), row.id
    records = dict(ImageStorage.select(ImageStorage.content_checksum, ImageStorage.id)
                   .where(ImageStorage.uploading == False).tuples())  # noqa: E712
    assert records == model.records
    assert ImageStorage.select().count() == len(records)
    assert sorted(row[0] for row in ImageStoragePlacement.select(
        ImageStoragePlacement.storage).tuples()) == sorted(records.values())
    by_id = {record_id: digest for digest, record_id in records.items()}
    assert sorted((index[repo], by_id[blob], expires) for repo, blob, expires in
                  UploadedBlob.select(UploadedBlob.repository, UploadedBlob.blob,
                                      UploadedBlob.expires_at).tuples()) == sorted(
        (link.repo, link.digest, link.expires_at) for link in model.links)
    stored = set(store.list_digests())
    assert set(records) <= stored, "blob records without bytes: %s" % (set(records) - stored)
    assert stored == set(model.files)


def _check_interface_views(model: RegistryState, repo: int, ref, interface,
                           digests: list) -> None:
    """What the interface shows of one repository: alive tags, linked blobs, legacy images."""
    alive = interface.list_all_active_repository_tags(ref)
    assert [(tag.name, tag.id, tag.image_id, tag.manifest_digest, tag.lifetime_end_ts)
            for tag in alive] == [
        (row.name, row.id, row.image_id, row.digest, row.end)
        for row in sorted(model.alive_rows(repo), key=lambda row: row.name)]
    for digest in digests:
        found = interface.get_repo_blob_by_digest(ref, digest)
        assert (found is not None) == model.is_linked(repo, digest), digest
    names_by_image = defaultdict(list)
    for row in model.alive_rows(repo):
        names_by_image[row.image_id].append(row.name)
    assert {image.id: (tuple(parent.id for parent in image.parents), image.tags)
            for image in interface.get_legacy_images(ref)} == {
        image.id: (tuple(a.id for a in reversed(model.chain(image.id)[:-1])),
                   tuple(sorted(names_by_image[image.id])))
        for image in model.images.values() if image.repo == repo}
