"""registry_model.oci.manifest: byte-for-byte storage, visibility by digest, referrers."""
import pytest

from registry_model import clock, errors
from registry_model.database import ManifestBlob, ManifestChild
from registry_model.model import lookup
from registry_model.oci import manifest as manifest_model
from registry_model.oci import tag as tag_model
from registry_model.testing.factories import RepositoryFactory
from registry_model.testing.queries import count_statements
from registry_model.transactions import transaction
from tests.oci import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    EMPTY_CONFIG,
    config_bytes,
    image_manifest,
    index_manifest,
    layer_bytes,
    link_blobs,
    parse,
    pushable_image,
    row_counts,
)

NOW_MS = 1_700_000_000_000


@pytest.fixture
def repo(initialized_db):
    return RepositoryFactory()


def store(repo, parsed, layer_history=None):
    with transaction():
        row, _ = manifest_model.store_manifest(repo.id, parsed, clock.now_ts(), layer_history)
    return row


def tag(repo, name, row, now_ms=NOW_MS, **options):
    with transaction():
        return tag_model.move_tag(repo.id, name, row.id, now_ms, **options)


@pytest.mark.parametrize("layer_count", [1, 50])
def test_store_keeps_the_exact_bytes_and_costs_the_same_for_any_layer_count(repo, layer_count):
    parsed, config = pushable_image(repo, layer_count)
    with count_statements() as counted:
        row = store(repo, parsed)
    assert counted.count == 4  # existing?, blobs (locked), manifest, blob rows
    stored = manifest_model.get_manifest(row.id)
    assert stored.manifest_bytes == parsed.bytes and type(stored.manifest_bytes) is bytes
    assert stored.digest == parsed.digest
    assert lookup.media_type_name(stored.media_type_id) == parsed.media_type
    assert stored.config_media_type == parsed.config.media_type
    assert stored.layers_compressed_size == sum(len(layer_bytes(i)) for i in range(layer_count))
    assert ManifestBlob.select().where(ManifestBlob.manifest == row.id).count() == layer_count + 1


def test_storing_a_known_digest_returns_the_stored_row_in_one_statement(repo):
    parsed, _ = pushable_image(repo)
    first = store(repo, parsed)
    before = row_counts()
    with count_statements() as counted, transaction():
        again, created = manifest_model.store_manifest(repo.id, parsed, clock.now_ts())
    assert (again.id, created, counted.count) == (first.id, False, 1)
    assert row_counts() == before


def test_a_layer_not_linked_to_the_repository_is_refused_by_digest(repo):
    config = config_bytes(2)
    layers = [layer_bytes(0), layer_bytes(1)]
    link_blobs(repo, config, layers[0])
    link_blobs(RepositoryFactory(), layers[1])  # in another repository only
    parsed = parse(image_manifest(config, layers))
    before = row_counts()
    with pytest.raises(errors.ManifestBlobUnknownException, match=parsed.layers[1].digest):
        store(repo, parsed)
    assert row_counts() == before


def test_an_index_needs_its_children_and_names_the_missing_one(repo):
    present, _ = pushable_image(repo, seed="a")
    absent, _ = pushable_image(repo, seed="b")
    store(repo, present)
    index = parse(index_manifest([present.bytes, absent.bytes]))
    before = row_counts()
    with pytest.raises(errors.ManifestChildUnknownException, match=absent.digest):
        store(repo, index)
    assert row_counts() == before


@pytest.mark.parametrize("child_count", [1, 10])
def test_an_index_stores_its_children_in_constant_statements(repo, child_count):
    children = [pushable_image(repo, seed=str(i))[0] for i in range(child_count)]
    child_rows = [store(repo, child) for child in children]
    index = parse(index_manifest([child.bytes for child in children]))
    with count_statements() as counted:
        row = store(repo, index)
    assert counted.count == 4  # existing?, children (locked), manifest, child rows
    assert sorted(c.child_manifest_id for c in
                  ManifestChild.select().where(ManifestChild.manifest == row.id)) == sorted(
        r.id for r in child_rows)


def test_a_docker_list_of_schema_2_manifests_is_stored(repo):
    child, _ = pushable_image(repo, media_type=DOCKER_MANIFEST)
    store(repo, child)
    listing = parse(index_manifest([child.bytes], media_type=DOCKER_LIST,
                                   child_type=DOCKER_MANIFEST))
    row = store(repo, listing)
    assert lookup.media_type_name(manifest_model.get_manifest(row.id).media_type_id) == DOCKER_LIST


def test_find_by_digest_sees_alive_tags_children_of_alive_lists_and_their_referrers(repo):
    child, _ = pushable_image(repo, seed="child")
    child_row = store(repo, child)
    index_row = store(repo, parse(index_manifest([child.bytes])))
    signature, _ = pushable_image(repo, seed="sig", subject=child.bytes,
                                  artifact_type="application/example.sig")
    signature_row = store(repo, signature)

    def found(row, now_ms=NOW_MS + 10, allow_dead=False):
        with count_statements() as counted:
            result = manifest_model.find_manifest_by_digest(repo.id, row.digest, now_ms,
                                                            allow_dead=allow_dead)
        assert counted.count == 1
        return result is not None and result.id == row.id

    assert not any(found(row) for row in (child_row, index_row, signature_row))
    tag(repo, "multi", index_row)
    assert all(found(row) for row in (child_row, index_row, signature_row))

    tag_model.delete_tag(repo.id, "multi", NOW_MS + 20)
    assert not any(found(row, NOW_MS + 30) for row in (child_row, index_row, signature_row))
    assert all(found(row, NOW_MS + 30, allow_dead=True)
               for row in (child_row, index_row, signature_row))


def test_find_by_digest_sees_a_referrer_of_a_referrer_while_its_chain_is_tagged(repo):
    image, _ = pushable_image(repo, seed="image")
    image_row = store(repo, image)
    signature, _ = pushable_image(repo, seed="sig", subject=image.bytes,
                                  artifact_type="application/example.sig")
    countersignature, _ = pushable_image(repo, seed="countersig", subject=signature.bytes,
                                         artifact_type="application/example.sig")
    # Stored before the signature it signs: the chain is by digest, not by row.
    chain = [store(repo, countersignature), store(repo, signature)]
    other, _ = pushable_image(repo, seed="other")
    tag(repo, "other", store(repo, other))

    def found(row, now_ms, allow_dead=False):
        with count_statements() as counted:
            result = manifest_model.find_manifest_by_digest(repo.id, row.digest, now_ms,
                                                            allow_dead=allow_dead)
        assert counted.count == 1
        return result is not None and result.id == row.id

    assert not any(found(row, NOW_MS + 10) for row in chain)
    tag(repo, "latest", image_row)
    assert all(found(row, NOW_MS + 10) for row in chain)
    tag_model.delete_tag(repo.id, "latest", NOW_MS + 20)
    assert not any(found(row, NOW_MS + 30) for row in chain)
    assert all(found(row, NOW_MS + 30, allow_dead=True) for row in chain)


def test_find_by_digest_sees_a_referrer_of_a_child_of_a_tagged_index(repo):
    child, _ = pushable_image(repo, seed="child")
    store(repo, child)
    tag(repo, "multi", store(repo, parse(index_manifest([child.bytes]))))
    signature, _ = pushable_image(repo, seed="sig", subject=child.bytes,
                                  artifact_type="application/example.sig")
    countersignature, _ = pushable_image(repo, seed="countersig", subject=signature.bytes,
                                         artifact_type="application/example.sig")
    store(repo, signature)
    row = store(repo, countersignature)
    assert manifest_model.find_manifest_by_digest(repo.id, row.digest, NOW_MS + 10).id == row.id


def test_find_by_digest_is_per_repository_and_refuses_malformed_digests(repo):
    parsed, _ = pushable_image(repo)
    tag(repo, "latest", store(repo, parsed))
    assert manifest_model.find_manifest_by_digest(RepositoryFactory().id, parsed.digest,
                                                  NOW_MS) is None
    with count_statements() as counted:
        assert manifest_model.find_manifest_by_digest(repo.id, "sha256:nope", NOW_MS) is None
    assert counted.count == 0


def test_referrers_are_listed_in_one_statement_even_before_their_subject(repo):
    subject, _ = pushable_image(repo, seed="subject")
    empty = b"{}"
    link_blobs(repo, empty)
    sbom = parse(image_manifest(empty, [layer_bytes(0, "sbom")], subject=subject.bytes,
                                artifact_type="application/spdx+json",
                                annotations={"org.example": "sbom"}, config_type=EMPTY_CONFIG))
    link_blobs(repo, layer_bytes(0, "sbom"))
    signature, _ = pushable_image(repo, seed="sig", subject=subject.bytes,
                                  artifact_type="application/example.sig")
    store(repo, sbom)  # before its subject
    store(repo, signature)
    store(repo, subject)

    with count_statements() as counted:
        rows = manifest_model.find_referrers(repo.id, subject.digest)
    assert counted.count == 1
    assert [row[0] for row in rows] == [sbom.digest, signature.digest]
    digest, media_type_id, artifact_type, manifest_bytes = rows[0]
    assert (manifest_bytes, artifact_type) == (sbom.bytes, "application/spdx+json")

    only_sbom = manifest_model.find_referrers(repo.id, subject.digest, "application/spdx+json")
    assert [row[0] for row in only_sbom] == [sbom.digest]
    assert manifest_model.find_referrers(RepositoryFactory().id, subject.digest) == []
    assert manifest_model.find_referrers(repo.id, "not a digest") == []


def test_get_manifest_for_tag_checks_the_tag_name(repo):
    parsed, _ = pushable_image(repo)
    row = store(repo, parsed)
    tag_row = tag(repo, "latest", row)
    with count_statements() as counted:
        found = manifest_model.get_manifest_for_tag(tag_row.id, "latest")
    assert counted.count == 1 and found.manifest_bytes == parsed.bytes
    assert manifest_model.get_manifest_for_tag(tag_row.id, "other") is None


def test_get_manifest_by_a_stale_handle_names_nothing(repo):
    parsed, _ = pushable_image(repo)
    row = store(repo, parsed)
    assert manifest_model.get_manifest(row.id, parsed.digest).id == row.id
    assert manifest_model.get_manifest(row.id, "sha256:" + "0" * 64) is None
