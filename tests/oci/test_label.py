"""registry_model.oci.label: labels per manifest on the shared Label table."""
import pytest

from registry_model import errors
from registry_model.database import Label, ManifestLabel, Tag
from registry_model.model import lookup
from registry_model.oci import label as label_model
from registry_model.oci import manifest as manifest_model
from registry_model.oci import tag as tag_model
from registry_model.testing.factories import RepositoryFactory
from registry_model.testing.queries import count_statements
from registry_model.transactions import transaction
from tests.oci import pushable_image, row_counts

T0 = 1_700_000_000_000


@pytest.fixture
def repo(initialized_db):
    return RepositoryFactory()


@pytest.fixture
def manifest(repo):
    parsed, _ = pushable_image(repo)
    with transaction():
        return manifest_model.store_manifest(repo.id, parsed, T0 // 1000)[0]


def create(manifest, key, value, source="api", media_type=None):
    return label_model.create_manifest_label(manifest.id, manifest.digest, key, value, source,
                                             media_type, T0)


def test_create_is_three_statements_and_infers_the_media_type(manifest):
    with count_statements() as counted:
        label = create(manifest, "com.example.a", '{"x": 1}')
    assert counted.count == 3
    assert lookup.media_type_name(label.media_type_id) == "application/json"
    assert ManifestLabel.get(ManifestLabel.label == label.id).repository_id == (
        manifest.repository_id)


def test_labels_belong_to_the_manifest_whatever_tags_point_at_it(repo, manifest):
    tag_model.retarget_tag(repo.id, "one", manifest.id, now_ms=T0)
    tag_model.retarget_tag(repo.id, "two", manifest.id, now_ms=T0)
    create(manifest, "k", "v")
    assert [row.key for row in label_model.list_manifest_labels(manifest.id)] == ["k"]


def test_listing_by_prefix_is_literal_and_case_sensitive(manifest):
    for key in ("a.b", "a_b", "ab", "A.b"):
        create(manifest, key.lower() if key[0] != "A" else key, "v", source="manifest")
    with count_statements() as counted:
        found = label_model.list_manifest_labels(manifest.id, "a_", manifest.digest)
    assert counted.count == 1 and [row.key for row in found] == ["a_b"]
    assert [r.key for r in label_model.list_manifest_labels(manifest.id, "A")] == ["A.b"]


def test_a_stale_digest_names_no_labels(manifest):
    label = create(manifest, "k", "v")
    other = "sha256:" + "0" * 64
    assert label_model.list_manifest_labels(manifest.id, digest=other) == []
    assert label_model.get_manifest_label(manifest.id, label.uuid, other) is None
    with pytest.raises(errors.NotFoundException):
        label_model.create_manifest_label(manifest.id, other, "k", "v", "api", None, T0)


def test_bad_keys_values_and_types_are_refused_before_any_statement(manifest):
    before = row_counts()
    with count_statements() as counted:
        for key, value, source in (("Bad Key", "v", "api"), ("k", "v", "nope"),
                                   ("k", "x" * 70_000, "api")):
            with pytest.raises(errors.DataModelException):
                create(manifest, key, value, source)
    assert counted.count == 0 and row_counts() == before


def test_delete_returns_the_label_once_and_refuses_immutable_sources(manifest):
    mutable = create(manifest, "k", "v")
    immutable = create(manifest, "from-build", "v", source="manifest")
    with count_statements() as counted:
        deleted = label_model.delete_manifest_label(manifest.id, mutable.uuid, manifest.digest)
    assert counted.count == 3 and deleted.uuid == mutable.uuid
    assert label_model.delete_manifest_label(manifest.id, mutable.uuid) is None
    with pytest.raises(errors.ImmutableLabelException):
        label_model.delete_manifest_label(manifest.id, immutable.uuid)
    assert Label.get_or_none(Label.uuid == immutable.uuid) is not None


def test_many_labels_are_three_statements(repo, manifest):
    labels = [("key%d" % i, "v", "manifest", None) for i in range(20)]
    with count_statements() as counted, transaction():
        rows = label_model.create_manifest_labels(manifest.id, repo.id, labels)
    assert counted.count == 3 and [row.key for row in rows] == [k for k, *_ in labels]


def test_expires_after_ends_the_manifest_tags_from_their_start(repo, manifest):
    tag_model.retarget_tag(repo.id, "latest", manifest.id, now_ms=T0)
    with count_statements() as counted:
        create(manifest, "quay.expires-after", "2h")
    assert counted.count == 5
    assert Tag.get(Tag.name == "latest").lifetime_end_ms == T0 + 2 * 3600 * 1000
    create(manifest, "quay.expires-after", "soon")  # kept as a plain label, changes nothing
    assert Tag.get(Tag.name == "latest").lifetime_end_ms == T0 + 2 * 3600 * 1000


def test_expires_after_on_an_immutable_tag_is_refused_with_nothing_written(repo, manifest):
    row = tag_model.retarget_tag(repo.id, "release", manifest.id, now_ms=T0)
    tag_model.change_tag_immutability(row.id, True, T0 + 1)
    before = row_counts()
    with pytest.raises(errors.ImmutableTagException):
        create(manifest, "quay.expires-after", "2h")
    assert row_counts() == before
