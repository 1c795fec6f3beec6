"""registry_model.pre_oci.manifest: manifests stored per tag row, found by tag or by digest."""
import hashlib
import json

import pytest

from registry_model import errors
from registry_model.database import (
    Image,
    RepositoryTag,
    TagManifest,
    UploadedBlob,
)
from registry_model.pre_oci import image as image_model
from registry_model.pre_oci import label as label_model
from registry_model.pre_oci import manifest as manifest_model
from registry_model.testing.databases import snapshot_rows
from registry_model.testing.factories import (
    ImageStorageFactory,
    RepositoryFactory,
    RepositoryTagFactory,
    TagManifestFactory,
)
from registry_model.testing.queries import count_statements

NOW = 1_700_000_000
MANIFEST = '{\n   "schemaVersion": 1,\n   "name": "devtable/simple",\n   "tag": "caf\u00e9"\n}'


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_store_tag_manifest_keeps_the_exact_bytes(initialized_db):
    tag = RepositoryTagFactory()
    data = MANIFEST.encode("utf-8")
    stored = manifest_model.store_tag_manifest(tag, _digest(data), data)
    row = TagManifest.get_by_id(stored.id)
    assert (row.tag_id, row.digest) == (tag.id, _digest(data))
    assert row.json_data.encode("utf-8") == data


def test_store_tag_manifest_accepts_text(initialized_db):
    tag = RepositoryTagFactory()
    stored = manifest_model.store_tag_manifest(tag, _digest(MANIFEST.encode()), MANIFEST)
    assert TagManifest.get_by_id(stored.id).json_data == MANIFEST


def test_manifest_text_decodes_utf8_and_passes_text_through():
    assert manifest_model.manifest_text(MANIFEST.encode("utf-8")) == MANIFEST
    assert manifest_model.manifest_text(MANIFEST) == MANIFEST


@pytest.mark.parametrize("manifest_bytes", [b"\xff\xfe{}", "{\x00}", b"{\x00}", 42, None])
def test_manifest_text_rejects_what_the_column_cannot_hold(manifest_bytes):
    with pytest.raises(errors.DataModelException):
        manifest_model.manifest_text(manifest_bytes)


def test_store_tag_manifest_rejects_a_second_manifest_for_the_tag(initialized_db):
    existing = TagManifestFactory()
    before = snapshot_rows()
    with pytest.raises(errors.DuplicateException):
        manifest_model.store_tag_manifest(existing.tag, _digest(b"{}"), b"{}")
    assert snapshot_rows() == before


@pytest.mark.parametrize("digest, manifest_bytes, exception", [
    ("sha256:nothex", b"{}", errors.InvalidDigestException),
    ("", b"{}", errors.InvalidDigestException),
    (_digest(b"{}"), b"\xff", errors.DataModelException),
    (_digest(b"{}"), "{\x00}", errors.DataModelException),
    (_digest(b"{}"), {"schemaVersion": 1}, errors.DataModelException),
])
def test_store_tag_manifest_rejects_bad_input_before_writing(initialized_db, digest,
                                                             manifest_bytes, exception):
    tag = RepositoryTagFactory()
    before = snapshot_rows()
    with pytest.raises(exception):
        manifest_model.store_tag_manifest(tag, digest, manifest_bytes)
    assert snapshot_rows() == before


def test_get_tag_manifest_finds_the_manifest_of_a_tag_row(initialized_db):
    manifest = TagManifestFactory()
    other_tag = RepositoryTagFactory()
    with count_statements() as counted:
        assert manifest_model.get_tag_manifest(manifest.tag_id).id == manifest.id
    assert counted.count == 1
    assert manifest_model.get_tag_manifest(other_tag.id) is None
    assert manifest_model.get_tag_manifest(-1) is None


def test_find_manifest_by_digest_sees_alive_tags_unless_dead_ones_are_allowed(initialized_db):
    repo = RepositoryFactory()
    dead = TagManifestFactory(tag__repository=repo, tag__lifetime_start_ts=NOW - 10,
                              tag__lifetime_end_ts=NOW - 5)
    alive = TagManifestFactory(tag__repository=repo, tag__lifetime_start_ts=NOW - 10,
                               tag__lifetime_end_ts=NOW + 5)
    assert manifest_model.find_manifest_by_digest(repo.id, dead.digest, NOW) is None
    assert manifest_model.find_manifest_by_digest(repo.id, dead.digest, NOW,
                                                  allow_dead=True).id == dead.id
    assert manifest_model.find_manifest_by_digest(repo.id, alive.digest, NOW).id == alive.id
    assert manifest_model.find_manifest_by_digest(repo.id, alive.digest, NOW + 5) is None


def test_find_manifest_by_digest_counts_hidden_tags(initialized_db):
    hidden = TagManifestFactory(tag__hidden=True, tag__lifetime_start_ts=NOW - 10)
    found = manifest_model.find_manifest_by_digest(hidden.tag.repository_id, hidden.digest, NOW)
    assert found.id == hidden.id


def test_find_manifest_by_digest_prefers_the_newest_row(initialized_db):
    repo = RepositoryFactory()
    older = TagManifestFactory(tag__repository=repo, tag__name="a",
                               tag__lifetime_start_ts=NOW - 10)
    newer = TagManifestFactory(tag__repository=repo, tag__name="b",
                               tag__lifetime_start_ts=NOW - 10, digest=older.digest,
                               json_data=older.json_data)
    assert manifest_model.find_manifest_by_digest(repo.id, older.digest, NOW).id == newer.id


def test_find_manifest_by_digest_stays_in_its_repository(initialized_db):
    manifest = TagManifestFactory(tag__lifetime_start_ts=NOW - 10)
    other = RepositoryFactory()
    assert manifest_model.find_manifest_by_digest(other.id, manifest.digest, NOW) is None
    assert manifest_model.find_manifest_by_digest(other.id, manifest.digest, NOW,
                                                  allow_dead=True) is None


@pytest.mark.parametrize("digest", ["sha256:nothex", "", None, "sha256:" + "A" * 64])
def test_find_manifest_by_digest_answers_none_to_a_malformed_digest_without_querying(
        initialized_db, digest):
    manifest = TagManifestFactory(tag__lifetime_start_ts=NOW - 10)
    with count_statements() as counted:
        assert manifest_model.find_manifest_by_digest(manifest.tag.repository_id, digest,
                                                      NOW, allow_dead=True) is None
    assert counted.count == 0


def test_find_manifest_by_digest_with_allow_dead_sees_every_row_of_the_repository(
        initialized_db):
    dead = TagManifestFactory(tag__lifetime_start_ts=NOW - 10, tag__lifetime_end_ts=NOW - 5)
    repository_id = dead.tag.repository_id
    assert manifest_model.find_manifest_by_digest(repository_id, dead.digest, NOW,
                                                  allow_dead=True).id == dead.id
    assert manifest_model.find_manifest_by_digest(RepositoryFactory().id, dead.digest, NOW,
                                                  allow_dead=True) is None


def test_get_manifest_owner_loads_tag_image_repository_and_namespace(initialized_db):
    manifest = TagManifestFactory(tag__repository__namespace__name="devtable",
                                  tag__repository__name="simple", tag__name="latest")
    with count_statements() as counted:
        owner = manifest_model.get_manifest_owner(manifest.id)
        loaded = (owner.tag.name, owner.tag.image.docker_image_id, owner.tag.repository.name,
                  owner.tag.repository.namespace.name)
    assert loaded == ("latest", manifest.tag.image.docker_image_id, "simple", "devtable")
    assert counted.count == 1
    assert manifest_model.get_manifest_owner(-1) is None


def test_get_tag_with_repository_loads_repository_and_namespace(initialized_db):
    tag = RepositoryTagFactory(repository__namespace__name="devtable",
                               repository__name="simple")
    with count_statements() as counted:
        found = manifest_model.get_tag_with_repository(tag.id)
        names = (found.repository.namespace.name, found.repository.name)
    assert (found.id, names) == (tag.id, ("devtable", "simple"))
    assert counted.count == 1
    assert manifest_model.get_tag_with_repository(-1) is None


def _push_layers(repo, count: int, linked: bool = True) -> list:
    layers, parent = [], None
    for n in range(count):
        blob = ImageStorageFactory()
        if linked:
            UploadedBlob.create(repository=repo.id, blob=blob.id, uploaded_at=NOW,
                                expires_at=NOW + 3600)
        docker_image_id = hashlib.sha256(b"push-%d-%d" % (repo.id, n)).hexdigest()
        layers.append(image_model.LayerSpec(
            docker_image_id=docker_image_id, parent_image_id=parent,
            blob_digest=blob.content_checksum, created=None, comment=None, command=None,
            v1_json_metadata=json.dumps({"id": docker_image_id, "parent": parent})))
        parent = docker_image_id
    return layers


def test_store_manifest_and_retarget_tag_stores_chain_tag_manifest_and_labels(initialized_db):
    repo = RepositoryFactory()
    layers = _push_layers(repo, 3)
    data = b'{"schemaVersion": 1, "pushed": true}'
    manifest, tag, leaf = manifest_model.store_manifest_and_retarget_tag(
        repo.id, "latest", _digest(data), data, layers, {"com.example.built-by": "ci"}, NOW)
    chain = list(Image.select().where(Image.repository == repo.id).order_by(Image.id))
    assert [image.docker_image_id for image in chain] == [la.docker_image_id for la in layers]
    assert leaf.id == chain[-1].id
    assert leaf.ancestors == "/%d/%d/" % (chain[0].id, chain[1].id)
    assert (tag.name, tag.image_id, tag.lifetime_start_ts, tag.lifetime_end_ts) == (
        "latest", leaf.id, NOW, None)
    stored = TagManifest.get_by_id(manifest.id)
    assert (stored.tag_id, stored.digest, stored.json_data.encode()) == (tag.id, _digest(data),
                                                                         data)
    [label] = label_model.list_manifest_labels(manifest.id)
    assert (label.key, label.value) == ("com.example.built-by", "ci")


def test_store_manifest_and_retarget_tag_moves_an_existing_tag(initialized_db):
    repo = RepositoryFactory()
    old = RepositoryTagFactory(repository=repo, name="latest", lifetime_start_ts=NOW - 60)
    data = b'{"schemaVersion": 1}'
    _, tag, _ = manifest_model.store_manifest_and_retarget_tag(
        repo.id, "latest", _digest(data), data, _push_layers(repo, 1), {}, NOW)
    assert RepositoryTag.get_by_id(old.id).lifetime_end_ts == NOW == tag.lifetime_start_ts


def test_store_manifest_and_retarget_tag_needs_every_layer_linked(initialized_db):
    repo = RepositoryFactory()
    layers = _push_layers(repo, 1) + _push_layers(RepositoryFactory(), 1, linked=False)
    data = b'{"schemaVersion": 1}'
    before = snapshot_rows()
    with pytest.raises(errors.ManifestBlobUnknownException):
        manifest_model.store_manifest_and_retarget_tag(repo.id, "latest", _digest(data), data,
                                                       layers, {"a": "b"}, NOW)
    assert snapshot_rows() == before


@pytest.mark.parametrize("tag_name, digest, layer_count, exception", [
    ("bad name", _digest(b"{}"), 1, errors.InvalidNameException),
    ("latest", "sha256:nothex", 1, errors.InvalidDigestException),
    ("latest", _digest(b"{}"), 0, errors.DataModelException),
])
def test_store_manifest_and_retarget_tag_rejects_bad_input_before_writing(
        initialized_db, tag_name, digest, layer_count, exception):
    repo = RepositoryFactory()
    layers = _push_layers(repo, layer_count)
    before = snapshot_rows()
    with pytest.raises(exception):
        manifest_model.store_manifest_and_retarget_tag(repo.id, tag_name, digest, b"{}",
                                                       layers, {}, NOW)
    assert snapshot_rows() == before
