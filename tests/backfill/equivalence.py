"""The seed methods asked of both models, their answers reduced to what a backfill keeps.

Ids differ between the wings (a backfilled tag, manifest or label is a new row) and so
do label uuids (a Label row belongs to one wing, each deletes the rows it unlinks), so
answers are compared by digest, name, bytes, time and V1 id. ``Tag.docker_image_id`` is
left out: the OCI model shows a schema 1 manifest's tag without one (see README).
"""
from collections import Counter

from registry_model.datatypes import Manifest
from registry_model.pre_oci.tables import RepositoryTag, TagManifest


def tag_view(tag):
    """What a carried tag keeps."""
    if tag is None:
        return None
    return (tag.name, tag.manifest_digest, tag.lifetime_start_ts, tag.lifetime_end_ts,
            bool(tag.reversion), bool(tag.hidden))


def manifest_view(manifest):
    """What a carried manifest keeps: digest, media type, the exact bytes."""
    if manifest is None:
        return None
    return (manifest.digest, manifest.media_type, manifest.manifest_bytes)


def image_view(image):
    """What a legacy image shows, its parents by V1 id and its tags as a set."""
    if image is None:
        return None
    parents = None if image.parents is None else tuple(parent.docker_image_id
                                                      for parent in image.parents)
    tags = None if image.tags is None else tuple(sorted(image.tags))
    return (image.docker_image_id, image.created, image.comment, image.command,
            image.image_size, image.aggregate_size, bool(image.uploading),
            image.v1_metadata_string, image.blob_digest, parents, tags)


def label_view(label):
    return (label.key, label.value, label.source_type_name, label.media_type_name)


def history(model, repo) -> list:
    """Every tag row of the repository (alive and dead), newest first."""
    rows, more = model.list_repository_tag_history(repo, size=10000)
    assert not more
    return rows


def expected_labels(pre, repo, digest) -> Counter:
    """The labels a digest has on the OCI model: each label as often as the pre-OCI
    manifest of that digest holding it most often has it (hidden tags' manifests too,
    which no interface method lists: read from the table)."""
    wanted: Counter = Counter()
    rows = (TagManifest.select().join(RepositoryTag)
            .where(RepositoryTag.repository == repo.id, TagManifest.digest == digest))
    for row in rows:
        manifest = Manifest.for_tag_manifest(row)
        wanted |= Counter(label_view(label) for label in pre.list_manifest_labels(manifest))
    return wanted


def assert_same_answers(pre, oci, written) -> None:
    """Ask both models every seed method about everything written; they must agree."""
    for repo in written.repositories:
        assert oci.lookup_repository(repo.namespace_name, repo.name) == \
            pre.lookup_repository(repo.namespace_name, repo.name)
        names = written.tag_names[repo.full_name] + ["never-pushed"]
        assert [tag_view(tag) for tag in history(oci, repo)] == \
            [tag_view(tag) for tag in history(pre, repo)]
        assert tag_view(oci.get_most_recent_tag(repo)) == tag_view(pre.get_most_recent_tag(repo))
        for count in range(1, len(names) + 1):
            asked = names[-count:] + names[:1]
            assert tag_view(oci.find_matching_tag(repo, asked)) == \
                tag_view(pre.find_matching_tag(repo, asked))
        for name in names:
            pre_tag, oci_tag = pre.find_matching_tag(repo, [name]), oci.find_matching_tag(repo,
                                                                                         [name])
            if pre_tag is not None:
                assert manifest_view(oci.get_manifest_for_tag(oci_tag)) == \
                    manifest_view(pre.get_manifest_for_tag(pre_tag))
        for digest in written.digests[repo.full_name] + ["sha256:" + "0" * 64]:
            for allow_dead in (False, True):
                pre_manifest = pre.lookup_manifest_by_digest(repo, digest, allow_dead=allow_dead)
                oci_manifest = oci.lookup_manifest_by_digest(repo, digest, allow_dead=allow_dead)
                assert manifest_view(oci_manifest) == manifest_view(pre_manifest), digest
            if oci_manifest is not None:
                _assert_same_labels(pre, oci, repo, digest, oci_manifest)
        pre_images = {image.docker_image_id: image_view(image)
                      for image in pre.get_legacy_images(repo)}
        oci_images = {image.docker_image_id: image_view(image)
                      for image in oci.get_legacy_images(repo)}
        assert oci_images == pre_images
        for image_id in list(pre_images) + ["f" * 64]:
            for parents in (False, True):
                assert image_view(oci.get_legacy_image(repo, image_id, include_parents=parents)) \
                    == image_view(pre.get_legacy_image(repo, image_id, include_parents=parents))


def _assert_same_labels(pre, oci, repo, digest, oci_manifest) -> None:
    labels = oci.list_manifest_labels(oci_manifest)
    assert Counter(label_view(label) for label in labels) == expected_labels(pre, repo, digest), (
        Counter(label_view(label) for label in labels), expected_labels(pre, repo, digest))
    for label in labels:
        assert oci.get_manifest_label(oci_manifest, label.uuid) == label
        assert [label_view(found) for found in
                oci.list_manifest_labels(oci_manifest, key_prefix=label.key[:4])] == \
            [label_view(found) for found in labels if found.key.startswith(label.key[:4])]
