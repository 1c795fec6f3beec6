"""registry_model.pre_oci.label: manifest labels, their key rules, media types and deletion."""
import pytest

from registry_model import errors
from registry_model.database import Label, RepositoryTag, TagManifestLabel
from registry_model.model import lookup
from registry_model.pre_oci import label as label_model
from registry_model.testing.databases import snapshot_rows
from registry_model.testing.factories import TagManifestFactory
from registry_model.testing.queries import count_statements

NOW = 1_700_000_000


@pytest.fixture
def manifest(initialized_db):
    return TagManifestFactory(tag__lifetime_start_ts=NOW)


def _keys(labels) -> list:
    return [label.key for label in labels]


@pytest.mark.parametrize("value, media_type", [
    ('{"a": 1}', "application/json"),
    ("{}", "application/json"),
    ('[1, "two"]', "application/json"),
    ("[]", "application/json"),
    ("42", "text/plain"),
    ("4.2", "text/plain"),
    ('"quoted"', "text/plain"),
    ("true", "text/plain"),
    ("null", "text/plain"),
    ("plain words", "text/plain"),
    ("{not json", "text/plain"),
    ("", "text/plain"),
])
def test_infer_media_type_calls_only_objects_and_arrays_json(value, media_type):
    assert label_model.infer_media_type(value) == media_type


def test_create_manifest_label_stores_and_links_the_label(manifest):
    created = label_model.create_manifest_label(manifest.id, "com.example.key", "value", "api")
    stored = Label.get_by_id(created.id)
    assert (stored.key, stored.value, stored.uuid) == ("com.example.key", "value", created.uuid)
    assert stored.source_type_id == lookup.source_type_id("api")
    assert stored.media_type_id == lookup.media_type_id("text/plain")
    link = TagManifestLabel.get(TagManifestLabel.label == created.id)
    assert (link.annotated_id, link.repository_id) == (manifest.id, manifest.tag.repository_id)


def test_create_manifest_label_infers_json_and_keeps_an_explicit_media_type(manifest):
    inferred = label_model.create_manifest_label(manifest.id, "a", '{"x": 1}', "api")
    explicit = label_model.create_manifest_label(manifest.id, "b", '{"x": 1}', "api",
                                                 media_type_name="text/plain")
    assert inferred.media_type_id == lookup.media_type_id("application/json")
    assert explicit.media_type_id == lookup.media_type_id("text/plain")


@pytest.mark.parametrize("key", ["a", "0", "a.b-c", "com.example.v2", "a" * 255,
                                 "1-2.3"])
def test_create_manifest_label_accepts_keys_that_follow_the_rules(manifest, key):
    assert label_model.create_manifest_label(manifest.id, key, "v", "internal").key == key


@pytest.mark.parametrize("key", ["", "Upper", "a..b", "a.-b", "a--b", ".a", "a.", "-a", "a-",
                                 "a_b", "a b", "a" * 256, "caf\u00e9", "a\x00", "a\n", None, 7])
@pytest.mark.parametrize("source", ["api", "internal"])
def test_create_manifest_label_rejects_bad_user_keys_before_writing(manifest, key, source):
    before = snapshot_rows()
    with pytest.raises(errors.InvalidLabelKeyException):
        label_model.create_manifest_label(manifest.id, key, "v", source)
    assert snapshot_rows() == before


@pytest.mark.parametrize("key", ["Com.Example_Key", "with space", "a..b", "-a-", "caf\u00e9",
                                 "a" * 255])
def test_manifest_source_keys_are_stored_as_written(manifest, key):
    created = label_model.create_manifest_label(manifest.id, key, "v", "manifest")
    assert Label.get_by_id(created.id).key == key


@pytest.mark.parametrize("key", ["", "a" * 256, "a\x00b", None])
def test_manifest_source_keys_still_need_storable_text(manifest, key):
    before = snapshot_rows()
    with pytest.raises(errors.InvalidLabelKeyException):
        label_model.create_manifest_label(manifest.id, key, "v", "manifest")
    assert snapshot_rows() == before


@pytest.mark.parametrize("arguments, exception", [
    ({"value": None}, errors.InvalidLabelValueException),
    ({"value": 42}, errors.InvalidLabelValueException),
    ({"value": "a\x00b"}, errors.InvalidLabelValueException),
    ({"source_type_name": "builder"}, errors.UnknownLabelSourceTypeException),
    ({"source_type_name": None}, errors.UnknownLabelSourceTypeException),
    ({"media_type_name": "image/png"}, errors.InvalidMediaTypeException),
    ({"tag_manifest_id": -1}, errors.NotFoundException),
])
def test_create_manifest_label_rejects_bad_input_before_writing(manifest, arguments,
                                                                exception):
    before = snapshot_rows()
    with pytest.raises(exception):
        label_model.create_manifest_label(**{"tag_manifest_id": manifest.id, "key": "k",
                                             "value": "v", "source_type_name": "api",
                                             **arguments})
    assert snapshot_rows() == before


def test_unknown_errors_for_lookups_share_a_base_class():
    assert issubclass(errors.UnknownLabelSourceTypeException, errors.UnknownLookupValueException)
    assert issubclass(errors.InvalidMediaTypeException, errors.DataModelException)


def test_an_expires_after_label_schedules_the_end_of_the_manifests_tags(manifest):
    label_model.create_manifest_label(manifest.id, "quay.expires-after", "2h", "api")
    assert RepositoryTag.get_by_id(manifest.tag_id).lifetime_end_ts == NOW + 2 * 3600


def test_an_expires_after_label_that_does_not_parse_changes_no_tag(manifest):
    label = label_model.create_manifest_label(manifest.id, "quay.expires-after", "soon", "api")
    assert RepositoryTag.get_by_id(manifest.tag_id).lifetime_end_ts is None
    assert Label.get_by_id(label.id).value == "soon"


def test_list_manifest_labels_keeps_creation_order(manifest):
    for key in ("b", "c", "a"):
        label_model.create_manifest_label(manifest.id, key, "v", "api")
    other = TagManifestFactory()
    label_model.create_manifest_label(other.id, "other", "v", "api")
    with count_statements() as counted:
        assert _keys(label_model.list_manifest_labels(manifest.id)) == ["b", "c", "a"]
    assert counted.count == 1
    assert _keys(label_model.list_manifest_labels(other.id)) == ["other"]


def test_list_manifest_labels_of_an_unlabelled_manifest_is_empty(manifest):
    assert label_model.list_manifest_labels(manifest.id) == []


def test_list_manifest_labels_prefix_is_case_sensitive(manifest):
    for key in ("com.example.a", "Com.Example.b", "COM.EXAMPLE.c", "org.example.d"):
        label_model.create_manifest_label(manifest.id, key, "v", "manifest")
    assert _keys(label_model.list_manifest_labels(manifest.id, "com.")) == ["com.example.a"]
    assert _keys(label_model.list_manifest_labels(manifest.id, "Com.")) == ["Com.Example.b"]
    assert _keys(label_model.list_manifest_labels(manifest.id, "cOm")) == []


def test_list_manifest_labels_prefix_treats_wildcards_literally(manifest):
    for key in ("a%b", "axb", "a_b", "ayb", "a%", "ab", "a\\b"):
        label_model.create_manifest_label(manifest.id, key, "v", "manifest")
    assert _keys(label_model.list_manifest_labels(manifest.id, "a%")) == ["a%b", "a%"]
    assert _keys(label_model.list_manifest_labels(manifest.id, "a_")) == ["a_b"]
    assert _keys(label_model.list_manifest_labels(manifest.id, "a\\")) == ["a\\b"]
    assert _keys(label_model.list_manifest_labels(manifest.id, "%")) == []


def test_list_manifest_labels_with_an_empty_prefix_lists_everything(manifest):
    for key in ("b", "a"):
        label_model.create_manifest_label(manifest.id, key, "v", "api")
    assert _keys(label_model.list_manifest_labels(manifest.id, "")) == ["b", "a"]
    assert _keys(label_model.list_manifest_labels(manifest.id, None)) == ["b", "a"]


def test_get_manifest_label_finds_by_uuid_within_the_manifest(manifest):
    label = label_model.create_manifest_label(manifest.id, "k", "v", "api")
    other = TagManifestFactory()
    with count_statements() as counted:
        assert label_model.get_manifest_label(manifest.id, label.uuid).id == label.id
    assert counted.count == 1
    assert label_model.get_manifest_label(other.id, label.uuid) is None


@pytest.mark.parametrize("label_uuid", ["not-a-uuid", "", None,
                                        "00000000-0000-0000-0000-000000000000"])
def test_get_manifest_label_answers_none_to_unknown_or_malformed_uuids(manifest, label_uuid):
    label_model.create_manifest_label(manifest.id, "k", "v", "api")
    assert label_model.get_manifest_label(manifest.id, label_uuid) is None


@pytest.mark.parametrize("source", ["api", "internal"])
def test_delete_manifest_label_removes_a_mutable_label_and_returns_it(manifest, source):
    label = label_model.create_manifest_label(manifest.id, "k", "v", source)
    kept = label_model.create_manifest_label(manifest.id, "kept", "v", source)
    deleted = label_model.delete_manifest_label(manifest.id, label.uuid)
    assert (deleted.id, deleted.key, deleted.uuid) == (label.id, "k", label.uuid)
    assert Label.get_or_none(Label.id == label.id) is None
    assert TagManifestLabel.get_or_none(TagManifestLabel.label == label.id) is None
    assert _keys(label_model.list_manifest_labels(manifest.id)) == [kept.key]


def test_delete_manifest_label_of_an_immutable_source_raises_and_keeps_it(manifest):
    label = label_model.create_manifest_label(manifest.id, "k", "v", "manifest")
    before = snapshot_rows()
    with pytest.raises(errors.ImmutableLabelException):
        label_model.delete_manifest_label(manifest.id, label.uuid)
    assert snapshot_rows() == before
    assert label_model.get_manifest_label(manifest.id, label.uuid).id == label.id


@pytest.mark.parametrize("which", ["other manifest", "malformed", "unknown"])
def test_delete_manifest_label_answers_none_and_deletes_nothing(manifest, which):
    label = label_model.create_manifest_label(manifest.id, "k", "v", "api")
    other = TagManifestFactory()
    manifest_id, label_uuid = {
        "other manifest": (other.id, label.uuid),
        "malformed": (manifest.id, "nope"),
        "unknown": (manifest.id, "00000000-0000-0000-0000-000000000000"),
    }[which]
    before = snapshot_rows()
    assert label_model.delete_manifest_label(manifest_id, label_uuid) is None
    assert snapshot_rows() == before


def test_create_manifest_labels_writes_many_in_order_in_three_statements(manifest,
                                                                       initialized_db):
    specs = [("b", '{"x": 1}', "manifest", None), ("Any Key", "v", "manifest", None),
             ("a", "v", "api", "application/json")]
    with initialized_db.atomic(), count_statements() as counted:
        created = label_model.create_manifest_labels(manifest.id, manifest.tag.repository_id,
                                                     specs)
    assert counted.count == 3
    listed = label_model.list_manifest_labels(manifest.id)
    assert [label.id for label in listed] == [label.id for label in created]
    assert [(label.key, label.media_type_id) for label in listed] == [
        ("b", lookup.media_type_id("application/json")),
        ("Any Key", lookup.media_type_id("text/plain")),
        ("a", lookup.media_type_id("application/json"))]


def test_create_manifest_labels_checks_every_label_before_writing(manifest, initialized_db):
    before = snapshot_rows()
    with pytest.raises(errors.InvalidLabelKeyException):
        label_model.create_manifest_labels(manifest.id, manifest.tag.repository_id,
                                           [("good", "v", "api", None),
                                            ("Bad Key", "v", "api", None)])
    assert snapshot_rows() == before
    with count_statements() as counted:
        assert label_model.create_manifest_labels(manifest.id, manifest.tag.repository_id,
                                                  []) == []
    assert counted.count == 0
