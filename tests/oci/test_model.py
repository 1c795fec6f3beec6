"""registry_model.oci.model: OCIModel through the interface, with the pre-OCI budgets."""
from datetime import UTC, datetime

import pytest

from registry_model import OCIModel, errors, oci_model, registry_model
from registry_model.archive.oci_reader import open_oci_layout
from registry_model.blobstore import InMemoryBlobStore
from registry_model.datatypes import Manifest, Referrer, RepositoryReference, Tag
from registry_model.image_export import export_image
from registry_model.interface import RegistryDataInterface
from registry_model.testing.factories import RepositoryFactory
from registry_model.testing.queries import count_statements
from tests.oci import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    config_bytes,
    image_manifest,
    index_manifest,
    layer_bytes,
    link_blobs,
    parse,
    row_counts,
)


@pytest.fixture
def model(initialized_db):
    return OCIModel()


@pytest.fixture
def repo(initialized_db):
    return RepositoryReference.for_repo_obj(RepositoryFactory())


@pytest.fixture
def store():
    return InMemoryBlobStore()


def image(repo, store, layer_count=2, seed="", labels=None, **options):
    """A parsed image manifest whose config and layers are in ``store`` and linked to repo."""
    config = config_bytes(layer_count, labels=labels, seed=seed)
    layers = [layer_bytes(index, seed) for index in range(layer_count)]
    for data in [config] + layers:
        store.put(data)
    link_blobs(RepositoryFactory._meta.model.get_by_id(repo.id), config, *layers)
    return parse(image_manifest(config, layers, **options))


def push(model, repo, parsed, tag_name="latest", store=None):
    return model.create_manifest_and_retarget_tag(repo, parsed, tag_name, store)


def test_the_package_exposes_both_models():
    assert isinstance(oci_model, OCIModel) and isinstance(oci_model, RegistryDataInterface)
    assert not isinstance(registry_model, OCIModel)


@pytest.mark.parametrize("layer_count", [1, 50])
def test_a_push_costs_the_same_for_1_and_50_layers(model, repo, store, layer_count):
    parsed = image(repo, store, layer_count, labels={"com.example.a": "1", "b": "2"})
    with count_statements() as counted:
        manifest, tag = push(model, repo, parsed, store=store)
    assert counted.count <= 16
    assert manifest.manifest_bytes == parsed.bytes and manifest.digest == parsed.digest
    assert manifest.media_type == parsed.media_type
    assert (tag.name, tag.manifest_digest, tag.lifetime_end_ts) == ("latest", parsed.digest, None)
    labels = model.list_manifest_labels(manifest)
    assert {(label.key, label.value, label.source_type_name) for label in labels} == {
        ("com.example.a", "1", "manifest"), ("b", "2", "manifest")}


def test_the_seed_reads_answer_in_one_statement(model, repo, store):
    parsed = image(repo, store, media_type=DOCKER_MANIFEST)
    manifest, pushed = push(model, repo, parsed, store=store)
    reads = {
        "find_matching_tag": lambda: model.find_matching_tag(repo, ["missing", "latest"]),
        "get_most_recent_tag": lambda: model.get_most_recent_tag(repo),
        "get_repo_tag": lambda: model.get_repo_tag(repo, "latest"),
        "get_manifest_for_tag": lambda: model.get_manifest_for_tag(pushed),
        "lookup_manifest_by_digest": lambda: model.lookup_manifest_by_digest(repo,
                                                                             parsed.digest),
        "list_manifest_labels": lambda: model.list_manifest_labels(manifest),
        "list_all_active_repository_tags": lambda: model.list_all_active_repository_tags(repo),
        "has_expired_tag": lambda: model.has_expired_tag(repo, "latest"),
        "lookup_referrers": lambda: model.lookup_referrers(repo, parsed.digest),
    }
    results = {}
    for name, read in reads.items():
        with count_statements() as counted:
            results[name] = read()
        assert counted.count == 1, name
    for name in ("find_matching_tag", "get_most_recent_tag", "get_repo_tag"):
        assert results[name] == pushed, name
    assert results["get_manifest_for_tag"] == manifest
    assert results["lookup_manifest_by_digest"] == manifest
    assert results["list_all_active_repository_tags"] == [pushed]
    assert results["has_expired_tag"] is False and results["lookup_referrers"] == []


def test_tags_show_seconds_and_the_top_layer_v1_id(model, repo, store):
    parsed = image(repo, store)
    _, tag = push(model, repo, parsed, store=store)
    top = model.get_legacy_images(repo)[0]
    assert isinstance(tag, Tag) and tag.docker_image_id == top.docker_image_id
    assert abs(tag.lifetime_start_ts - datetime.now(UTC).timestamp()) < 60
    assert tag.image_id is None and tag.immutable is False


def test_a_list_needs_its_children_and_names_the_missing_one(model, repo, store):
    present, absent = image(repo, store, seed="a"), image(repo, store, seed="b")
    push(model, repo, present, None)
    index = parse(index_manifest([present.bytes, absent.bytes]))
    before = row_counts()
    with pytest.raises(errors.ManifestChildUnknownException, match=absent.digest):
        push(model, repo, index, "multi")
    assert row_counts() == before


def test_a_layer_not_in_the_repository_is_refused_with_nothing_written(model, repo, store):
    config, layer = config_bytes(1), layer_bytes(0, "orphan")
    link_blobs(RepositoryFactory._meta.model.get_by_id(repo.id), config)
    parsed = parse(image_manifest(config, [layer]))
    before = row_counts()
    with pytest.raises(errors.ManifestBlobUnknownException, match=parsed.layers[0].digest):
        push(model, repo, parsed)
    assert row_counts() == before


def test_a_push_by_digest_is_hidden_but_found_and_a_child_is_found_through_its_list(
        model, repo, store):
    children = [image(repo, store, seed=str(index)) for index in range(2)]
    for child in children:
        manifest, tag = push(model, repo, child, None)
        assert tag is None
    assert model.list_all_active_repository_tags(repo) == []
    index = parse(index_manifest([child.bytes for child in children]))
    push(model, repo, index, "multi")
    for child in children:
        assert model.lookup_manifest_by_digest(repo, child.digest).digest == child.digest


def test_a_nested_index_keeps_every_level_pullable_and_exportable_after_the_temporary_tags(
        model, repo, store, clock, tmp_path):
    clock.at(1_800_000_000)
    leaf = image(repo, store, seed="nested")
    inner = parse(index_manifest([leaf.bytes]))
    outer = parse(index_manifest([inner.bytes], child_type=OCI_INDEX))
    push(model, repo, leaf, None)  # as skopeo copy --all pushes: children first,
    push(model, repo, inner, None)  # by digest, under hidden temporary tags
    push(model, repo, outer, "nested")
    clock.tick(model.temporary_tag_s + 60)  # the temporary tags have ended

    for parsed in (leaf, inner, outer):
        assert model.lookup_manifest_by_digest(repo, parsed.digest).digest == parsed.digest
    export_image(repo.namespace_name, repo.name, "nested", tmp_path / "out", store,
                 model=model, archive_format="oci")
    layout = open_oci_layout(tmp_path / "out")
    assert [layout.read_blob(parsed.digest) for parsed in (leaf, inner, outer)] == [
        leaf.bytes, inner.bytes, outer.bytes]

    model.delete_tag(repo, "nested")
    assert model.lookup_manifest_by_digest(repo, leaf.digest) is None
    assert model.lookup_manifest_by_digest(repo, leaf.digest,
                                           allow_dead=True) is not None


def test_referrers_list_their_descriptors_and_filter_by_artifact_type(model, repo, store):
    subject = image(repo, store, seed="subject")
    signature = image(repo, store, seed="sig", subject=subject.bytes,
                      artifact_type="application/example.sig",
                      annotations={"org.example.signed-by": "me"})
    push(model, repo, signature, None)  # before its subject
    push(model, repo, subject, "latest")
    with count_statements() as counted:
        referrers = model.lookup_referrers(repo, subject.digest)
    assert counted.count == 1
    assert referrers == [Referrer(signature.digest, signature.media_type, len(signature.bytes),
                                  "application/example.sig", {"org.example.signed-by": "me"})]
    assert model.lookup_referrers(repo, subject.digest, "application/other") == []
    assert model.lookup_manifest_by_digest(repo, signature.digest).digest == signature.digest


def test_an_immutable_tag_cannot_move_be_deleted_or_expire(model, repo, store):
    first, second = image(repo, store, seed="1"), image(repo, store, seed="2")
    manifest, tag = push(model, repo, first)
    push(model, repo, second, None)
    with count_statements() as counted:
        locked_tag = model.change_tag_immutability(tag, True)
    assert counted.count == 2 and locked_tag.immutable
    before = row_counts()
    for write in (lambda: push(model, repo, second),
                  lambda: model.delete_tag(repo, "latest"),
                  lambda: model.change_repository_tag_expiration(
                      locked_tag, datetime(2100, 1, 1, tzinfo=UTC)),
                  lambda: model.delete_tags_for_manifest(manifest),
                  lambda: model.set_tags_expiration_for_manifest(manifest, 60),
                  lambda: model.create_manifest_label(manifest, "quay.expires-after", "1h",
                                                      "api")):
        with pytest.raises(errors.ImmutableTagException):
            write()
        assert row_counts() == before
    assert model.get_repo_tag(repo, "latest").manifest_digest == first.digest
    model.change_tag_immutability(locked_tag, False)
    assert model.delete_tag(repo, "latest").name == "latest"


def test_the_pre_oci_model_has_no_referrers_and_no_immutable_tags(initialized_db, repo):
    with count_statements() as counted:
        assert registry_model.lookup_referrers(repo, "sha256:" + "a" * 64) == []
    assert counted.count == 0
    tag = Tag(1, "latest", repo, None, False, 0, None, None, False, None, False)
    with pytest.raises(errors.UnsupportedOperationException):
        registry_model.change_tag_immutability(tag, True)


def test_moving_deleting_and_expiring_tags(model, repo, store):
    first, second = image(repo, store, seed="1"), image(repo, store, seed="2")
    manifest, _ = push(model, repo, first)
    other, _ = push(model, repo, second, None)
    moved = model.retarget_tag(repo, "latest", other)
    assert moved.manifest_digest == second.digest
    history, more = model.list_repository_tag_history(repo)
    assert [t.manifest_digest for t in history] == [second.digest, first.digest] and not more
    previous, changed = model.change_repository_tag_expiration(
        moved, datetime(2100, 1, 1, tzinfo=UTC))
    assert (previous, changed) == (None, True)
    assert model.get_repo_tag(repo, "latest").lifetime_end_ts == int(
        datetime(2100, 1, 1, tzinfo=UTC).timestamp())
    ended = model.delete_tags_for_manifest(other)
    assert [t.name for t in ended] == ["latest"] and ended[0].repository == repo
    assert model.get_repo_tag(repo, "latest") is None
    assert model.has_expired_tag(repo, "latest")
    assert model.retarget_tag(repo, "x", manifest._replace(digest="sha256:" + "0" * 64)) is None


def test_labels_through_the_interface(model, repo, store):
    manifest, _ = push(model, repo, image(repo, store))
    with count_statements() as counted:
        label = model.create_manifest_label(manifest, "com.example.k", "v", "api")
    assert counted.count == 3
    assert model.get_manifest_label(manifest, label.uuid) == label
    assert model.delete_manifest_label(manifest, label.uuid) == label
    assert model.get_manifest_label(manifest, label.uuid) is None


def test_legacy_images_one_per_layer_with_history_and_parents(model, repo, store):
    parsed = image(repo, store, layer_count=3)
    push(model, repo, parsed, "latest", store)
    with count_statements() as counted:
        images = model.get_legacy_images(repo)
    assert counted.count == 2
    assert [i.blob_digest for i in images] == [layer.digest for layer in parsed.layers][::-1]
    top = images[0]
    assert top.tags == ("latest",) and images[1].tags == ()
    assert [p.docker_image_id for p in top.parents] == [i.docker_image_id for i in images[1:]]
    assert images[2].command == '["RUN step 0 "]' and images[2].comment == "layer 0"
    assert images[2].created == datetime(2024, 1, 1)
    assert top.aggregate_size == sum(layer.size for layer in parsed.layers)
    with count_statements() as counted:
        found = model.get_legacy_image(repo, images[1].docker_image_id, include_parents=True)
    assert counted.count == 1
    assert found.id == images[1].id and found.tags is None
    assert found.parents == tuple(p._replace(tags=None) for p in images[1].parents)
    assert model.get_legacy_image(repo, images[1].docker_image_id).parents is None
    assert model.get_legacy_image(repo, "f" * 64) is None
    other = RepositoryReference.for_repo_obj(RepositoryFactory())
    assert model.get_legacy_image(other, top.docker_image_id) is None


def test_legacy_ids_are_derived_from_the_manifest_digest_alone(model, repo, store):
    parsed = image(repo, store)
    push(model, repo, parsed)
    top = model.get_legacy_images(repo)[0]
    assert top.docker_image_id == parsed.digest.split(":")[1][:56] + "00000000"


def test_a_tag_owns_its_legacy_images_only_alone(model, repo, store):
    parsed = image(repo, store)
    _, tag = push(model, repo, parsed)
    with count_statements() as counted:
        owned = model.get_legacy_images_owned_by_tag(tag)
    assert counted.count == 1 and len(owned) == 2
    push(model, repo, parsed, "second")
    assert model.get_legacy_images_owned_by_tag(tag) == []


def test_collection_keeps_what_tags_lists_and_subjects_need(model, repo, store):
    repository = RepositoryFactory._meta.model.get_by_id(repo.id)
    repository.namespace.removed_tag_expiration_s = 0
    repository.namespace.save()
    shared = image(repo, store, seed="shared")
    only_a = image(repo, store, seed="a")
    push(model, repo, shared, None)
    push(model, repo, only_a, None)
    push(model, repo, parse(index_manifest([shared.bytes, only_a.bytes])), "list-a")
    push(model, repo, parse(index_manifest([shared.bytes])), "list-b")
    signature = image(repo, store, seed="sig", subject=only_a.bytes,
                      artifact_type="application/example.sig")
    push(model, repo, signature, None)
    lonely = image(repo, store, seed="lonely")
    push(model, repo, lonely, "lonely")
    model.delete_tag(repo, "list-a")
    model.delete_tag(repo, "lonely")

    far_future = 4_000_000_000
    summary = model.garbage_collect_repository(repo, store, now=far_future)

    # list-a, only_a, its signature and lonely went; shared stays through list-b.
    assert summary.manifests == 4 and summary.tags >= 2
    assert model.lookup_manifest_by_digest(repo, shared.digest, allow_dead=True) is not None
    for gone in (only_a, signature, lonely):
        assert model.lookup_manifest_by_digest(repo, gone.digest, allow_dead=True) is None
    assert model.lookup_referrers(repo, only_a.digest) == []
    assert model.get_repo_blob_by_digest(repo, shared.layers[0].digest) is not None
    assert model.get_repo_blob_by_digest(repo, lonely.layers[0].digest) is None


def test_a_dry_run_predicts_the_collection(model, repo, store):
    repository = RepositoryFactory._meta.model.get_by_id(repo.id)
    repository.namespace.removed_tag_expiration_s = 0
    repository.namespace.save()
    push(model, repo, image(repo, store, seed="kept"), "kept")
    push(model, repo, image(repo, store, seed="gone"), "gone")
    model.delete_tag(repo, "gone")
    before = row_counts()
    predicted = model.garbage_collect_repository(repo, store, dry_run=True, now=4_000_000_000)
    assert row_counts() == before
    done = model.garbage_collect_repository(repo, store, now=4_000_000_000)
    assert predicted.manifests == done.manifests == 1
    assert predicted.blobs == done.blobs and done.blobs >= 3
    assert model.get_repo_tag(repo, "kept") is not None


def test_wrong_argument_types_raise_before_any_statement(model, repo):
    with count_statements() as counted:
        for call in (lambda: model.get_manifest_for_tag(None),
                     lambda: model.lookup_referrers("repo", "sha256:" + "a" * 64),
                     lambda: model.list_manifest_labels("manifest"),
                     lambda: model.change_tag_immutability(None, True),
                     lambda: model.create_manifest_and_retarget_tag(repo, b"{}", "t")):
            with pytest.raises(TypeError):
                call()
    assert counted.count == 0
    assert isinstance(Manifest(1, "d", "m", b"", None), Manifest)


def test_a_schema_1_manifest_is_stored_byte_for_byte_too(model, repo):
    from tests.pre_oci import build_manifest, chain
    from tests.pre_oci import link_blobs as commit_uploads

    layers = chain(2, seed="schema1")
    parsed = build_manifest(repo.namespace_name, repo.name, "old", layers)
    commit_uploads(model, repo, [digest for digest, _ in layers])
    manifest, tag = push(model, repo, parsed, "old")
    assert manifest.manifest_bytes == parsed.bytes and manifest.media_type == parsed.media_type
    assert tag.docker_image_id is None  # no image config: no legacy view
    assert model.lookup_manifest_by_digest(repo, parsed.digest) == manifest


def test_purging_a_repository_removes_every_oci_row_in_small_batches(model, repo, store):
    children = [image(repo, store, seed=str(index)) for index in range(3)]
    for child in children:
        push(model, repo, child, None)
    index, _ = push(model, repo, parse(index_manifest([c.bytes for c in children])), "multi")
    model.create_manifest_label(index, "k", "v", "api")
    push(model, repo, image(repo, store, seed="sig", subject=children[0].bytes), None)
    model.mark_repository_for_deletion(repo)
    summary = model.purge_repository(repo, store, batch_size=2)
    assert summary.purged == 1 and summary.manifests == 5 and summary.labels == 1
    assert model.get_repository(repo.namespace_name, repo.name) is None
    counts = row_counts()
    assert all(counts[name] == 0 for name in ("Manifest", "ManifestBlob", "ManifestChild",
                                              "Tag", "ManifestLabel"))


def test_a_config_expires_after_label_expires_the_pushed_tag(model, repo, store):
    parsed = image(repo, store, labels={"quay.expires-after": "2h"})
    _, tag = push(model, repo, parsed, "latest", store)
    stored = model.get_repo_tag(repo, "latest")
    assert stored.lifetime_end_ts is not None
    assert stored.lifetime_end_ts - stored.lifetime_start_ts in (7200, 7201)
    assert tag.name == "latest"


def test_a_re_push_gives_its_tag_the_stored_expires_after_again(model, repo, store):
    parsed = image(repo, store, labels={"quay.expires-after": "2h"})
    push(model, repo, parsed, "first", store)
    model.delete_tag(repo, "first")
    _, tag = push(model, repo, parsed, "second", store)
    assert tag.lifetime_end_ts is not None
    assert tag.lifetime_end_ts - tag.lifetime_start_ts in (7200, 7201)
    assert model.get_repo_tag(repo, "second").lifetime_end_ts == tag.lifetime_end_ts


def test_a_re_push_follows_the_newest_expires_after_label_and_only_ends_its_own_tag(
        model, repo, store):
    parsed = image(repo, store, seed="api-label")
    manifest, _ = push(model, repo, parsed, "kept", store)
    model.create_manifest_label(manifest, "quay.expires-after", "1h", "api")
    model.create_manifest_label(manifest, "quay.expires-after", "3h", "api")
    model.change_repository_tag_expiration(model.get_repo_tag(repo, "kept"), None)
    _, tag = push(model, repo, parsed, "new", store)
    assert tag.lifetime_end_ts - tag.lifetime_start_ts in (3 * 3600, 3 * 3600 + 1)
    assert model.get_repo_tag(repo, "kept").lifetime_end_ts is None


def test_a_re_push_without_an_expires_after_label_leaves_its_tag_open(model, repo, store):
    parsed = image(repo, store, seed="plain", labels={"quay.expires-after": "soon"})
    push(model, repo, parsed, "first", store)
    _, tag = push(model, repo, parsed, "second", store)
    assert tag.lifetime_end_ts is None


def test_a_push_by_digest_is_kept_for_a_while_then_collected(model, repo, store):
    repository = RepositoryFactory._meta.model.get_by_id(repo.id)
    repository.namespace.removed_tag_expiration_s = 0
    repository.namespace.save()
    parsed = image(repo, store, seed="by-digest")
    push(model, repo, parsed, None)
    soon = int(datetime.now(UTC).timestamp()) + 60
    assert model.garbage_collect_repository(repo, store, now=soon).manifests == 0
    assert model.lookup_manifest_by_digest(repo, parsed.digest, allow_dead=True) is not None
    later = soon + model.temporary_tag_s + 60
    summary = model.garbage_collect_repository(repo, store, now=later)
    assert summary.manifests == 1 and summary.tags == 1
    assert model.lookup_manifest_by_digest(repo, parsed.digest, allow_dead=True) is None


def test_the_oci_model_may_read_stale_exactly_where_the_pre_oci_one_does_plus_referrers():
    from tests.test_replicas import LISTINGS, STALE_OK

    marked = {name for name in dir(OCIModel)
              if getattr(getattr(OCIModel, name), "stale_ok", False)}
    assert marked == STALE_OK | {"lookup_referrers"}
    confirming = {name for name in marked if getattr(OCIModel, name).confirm_miss}
    assert confirming == STALE_OK - LISTINGS
