"""registry_model.oci.manifest: byte-for-byte storage, visibility by digest, referrers."""
import pytest

from registry_model import clock, errors
from registry_model.blobstore import InMemoryBlobStore
from registry_model.database import ManifestBlob, ManifestChild, Namespace
from registry_model.model import blob as blob_model
from registry_model.model import lookup
from registry_model.oci import manifest as manifest_model
from registry_model.oci import tag as tag_model
from registry_model.oci.collector import OCICollector
from registry_model.testing.factories import RepositoryFactory
from registry_model.testing.queries import count_statements
from registry_model.transactions import transaction
from tests.oci import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    EMPTY_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
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


def found(repo, row, now_ms, allow_dead=False):
    """The manifest row is visible by its digest at ``now_ms``, asked in one statement."""
    with count_statements() as counted:
        result = manifest_model.find_manifest_by_digest(repo.id, row.digest, now_ms,
                                                        allow_dead=allow_dead)
    assert counted.count == 1
    return result is not None and result.id == row.id


def assert_found_while_tagged(repo, rows, tagged_row, expired=False):
    """The rows are found by digest exactly while an alive tag points at ``tagged_row``,
    and with ``allow_dead`` once it is deleted (``expired``: once its lifetime is over)."""
    assert not any(found(repo, row, NOW_MS + 10) for row in rows)
    tag(repo, "keeper", tagged_row, lifetime_ms=20 if expired else None)  # to NOW_MS + 20
    assert all(found(repo, row, NOW_MS + 10) for row in rows)
    if not expired:
        tag_model.delete_tag(repo.id, "keeper", NOW_MS + 20)
    assert not any(found(repo, row, NOW_MS + 30) for row in rows)
    assert all(found(repo, row, NOW_MS + 30, allow_dead=True) for row in rows)


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
    assert_found_while_tagged(repo, (child_row, index_row, signature_row), index_row)


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
    assert_found_while_tagged(repo, chain, image_row)


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


def nested_indexes(repo, depth, seed="nested"):
    """An image, then ``depth`` indexes each listing the one below: rows innermost first."""
    child, _ = pushable_image(repo, seed=seed)
    rows = [store(repo, child)]
    child_bytes, child_type = child.bytes, OCI_MANIFEST
    for _ in range(depth):
        index = parse(index_manifest([child_bytes], child_type=child_type))
        rows.append(store(repo, index))
        child_bytes, child_type = index.bytes, OCI_INDEX
    return rows


@pytest.mark.parametrize("ending", ["deleted", "expired"])
@pytest.mark.parametrize("depth", [2, 3])
def test_find_by_digest_sees_every_manifest_nested_in_a_tagged_index(repo, depth, ending):
    rows = nested_indexes(repo, depth)
    image_bytes = manifest_model.get_manifest(rows[0].id).manifest_bytes
    signature, _ = pushable_image(repo, seed="sig", subject=image_bytes,
                                  artifact_type="application/example.sig")
    top = rows[-1]
    rows.append(store(repo, signature))  # a referrer of the innermost image
    other, _ = pushable_image(repo, seed="other")
    tag(repo, "other", store(repo, other))
    assert_found_while_tagged(repo, rows, top, expired=ending == "expired")


def test_a_nested_index_tagged_in_another_repository_keeps_nothing_here(repo):
    here = nested_indexes(repo, 2)
    elsewhere = RepositoryFactory()
    tag(elsewhere, "nested", nested_indexes(elsewhere, 2)[-1])
    other, _ = pushable_image(repo, seed="other")
    store(repo, other)
    image_bytes = manifest_model.get_manifest(here[0].id).manifest_bytes
    tag(repo, "sibling", store(repo, parse(index_manifest([image_bytes, other.bytes]))))
    assert found(repo, here[0], NOW_MS + 10)  # the image, through the sibling
    assert not any(found(repo, row, NOW_MS + 10, allow_dead=True) for row in here[1:])


def test_find_by_digest_sees_the_children_of_an_index_that_is_a_referrer(repo):
    image, _ = pushable_image(repo, seed="image")
    image_row = store(repo, image)
    attestation, _ = pushable_image(repo, seed="attestation")
    attestation_row = store(repo, attestation)
    # An index attached to the image as a referrer, listing a manifest of its own.
    index_row = store(repo, parse(index_manifest([attestation.bytes], subject=image.bytes)))
    signature, _ = pushable_image(repo, seed="sig", subject=attestation.bytes,
                                  artifact_type="application/example.sig")
    signature_row = store(repo, signature)
    assert_found_while_tagged(repo, (index_row, attestation_row, signature_row), image_row)


def test_a_referrer_of_a_subject_not_stored_is_found_through_a_tagged_index(repo):
    absent, _ = pushable_image(repo, seed="absent")  # never stored
    signature, _ = pushable_image(repo, seed="sig", subject=absent.bytes,
                                  artifact_type="application/example.sig")
    signature_row = store(repo, signature)
    outer = nested_indexes(repo, 1, seed="outer")[-1]  # an index of an image of its own
    index = parse(index_manifest([manifest_model.get_manifest(outer.id).manifest_bytes,
                                  signature.bytes], child_types=[OCI_INDEX, OCI_MANIFEST]))
    assert_found_while_tagged(repo, (signature_row, outer), store(repo, index))


def test_what_lookup_finds_is_what_collection_keeps_with_its_blobs(repo):
    Namespace.update(removed_tag_expiration_s=0).where(
        Namespace.id == repo.namespace_id).execute()
    tagged = nested_indexes(repo, 3, seed="tagged")
    ended = nested_indexes(repo, 2, seed="ended")
    untagged = nested_indexes(repo, 2, seed="untagged")
    signature, _ = pushable_image(repo, seed="sig", artifact_type="application/example.sig",
                                  subject=manifest_model.get_manifest(tagged[0].id).manifest_bytes)
    rows = tagged + ended + untagged + [store(repo, signature)]
    now_ms = clock.now_ms()
    tag(repo, "tagged", tagged[-1], now_ms)
    tag(repo, "ended", ended[-1], now_ms)
    tag_model.delete_tag(repo.id, "ended", now_ms + 1)
    visible = {row.id for row in rows if found(repo, row, now_ms + 2)}
    assert visible == {row.id for row in tagged} | {rows[-1].id}

    # After the blobs' upload links have expired: only manifests keep blobs then.
    later_s = now_ms // 1000 + 2 * 3600
    OCICollector(InMemoryBlobStore(), now=later_s).collect_repository(repo.id)

    kept = {row.id for row in rows if manifest_model.get_manifest(row.id) is not None}
    assert kept == visible
    assert {row.id for row in rows if found(repo, row, later_s * 1000, allow_dead=True)} == kept
    for row in rows:
        if row.id in kept:
            parsed = parse(manifest_model.get_manifest(row.id).manifest_bytes)
            assert all(blob_model.get_repository_blob(repo.id, digest, later_s) is not None
                       for digest in parsed.blob_digests)


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
