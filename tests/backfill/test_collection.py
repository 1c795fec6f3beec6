"""After a backfill, garbage collection on either model loses nothing the other still uses."""
import pytest

from registry_model.backfill import backfill_to_oci
from registry_model.manifests import parse_manifest_from_bytes
from registry_model.testing.pre_oci_registry import write_random_registry
from tests.backfill.equivalence import image_view, manifest_view


def _answers(model, written) -> dict:
    """Every alive tag's manifest and blobs, and every legacy image, per repository."""
    found = {}
    for repo in written.repositories:
        tags = model.list_all_active_repository_tags(repo)
        manifests = {tag.name: manifest_view(model.get_manifest_for_tag(tag)) for tag in tags}
        found[repo.full_name] = (manifests, sorted(map(image_view,
                                                       model.get_legacy_images(repo))))
    return found


def _end_everything(model, written, clock) -> None:
    """End every alive tag through ``model`` and collect its wing's garbage at once."""
    for namespace in {repo.namespace_name for repo in written.repositories}:
        model.set_namespace_tag_expiration(namespace, 0)
    for repo in written.repositories:
        for tag in model.list_all_active_repository_tags(repo):
            model.delete_tag(repo, tag.name)
    clock.tick(10)


def _assert_blobs_kept(model, answers, written, store) -> None:
    for repo in written.repositories:
        manifests, images = answers[repo.full_name]
        digests = {image[8] for image in images}
        for _, media_type, data in manifests.values():
            digests.update(parse_manifest_from_bytes(data, media_type,
                                                     validate=False).blob_digests)
        assert digests
        for digest in digests:
            blob = model.get_repo_blob_by_digest(repo, digest)
            assert blob is not None, digest
            assert store.read(digest)


@pytest.mark.parametrize("collected", ["pre-oci", "oci"])
def test_collecting_one_wing_after_a_backfill_keeps_what_the_other_uses(
        registry_model, oci_model, clock, store, collected):
    written = write_random_registry(registry_model, 4, clock.tick, store=store)
    backfill_to_oci(batch_size=13)
    going, staying = ((registry_model, oci_model) if collected == "pre-oci"
                      else (oci_model, registry_model))
    before = _answers(staying, written)
    _end_everything(going, written, clock)
    summary = going.collect_garbage(store, grace_s=0)
    assert summary.tags > 0 and summary.manifests > 0
    assert all(not manifests for manifests, _ in _answers(going, written).values())
    assert _answers(staying, written) == before
    _assert_blobs_kept(staying, before, written, store)


def test_a_repository_deleted_after_a_backfill_goes_once_both_wings_collected_it(
        registry_model, oci_model, clock, store):
    written = write_random_registry(registry_model, 6, clock.tick, repositories=1, steps=10,
                                    store=store)
    backfill_to_oci()
    repo = written.repositories[0]
    registry_model.mark_repository_for_deletion(repo)
    first = registry_model.collect_garbage(store, grace_s=0)
    assert first.purged == 0 and first.tags > 0  # its rows went; the OCI rows hold the name
    assert registry_model.get_repository(repo.namespace_name, repo.name) is not None
    second = oci_model.collect_garbage(store, grace_s=0)
    assert second.purged == 1
    assert registry_model.get_repository(repo.namespace_name, repo.name) is None
