"""registry_model.model.lookup: the per-process cache of lookup-table ids."""
import pytest

from registry_model import errors
from registry_model.database import (
    ImageStorageLocation,
    LabelSourceType,
    MediaType,
    RepositoryKind,
    Visibility,
    configure,
    db,
)
from registry_model.migration import upgrade
from registry_model.model import lookup
from registry_model.testing.queries import count_statements


def _ids(model) -> dict:
    return {row.name: row.id for row in model.select()}


def test_tables_maps_every_lookup_name_to_its_row_id(initialized_db):
    tables = lookup.tables()
    assert tables.kinds == _ids(RepositoryKind)
    assert tables.visibilities == _ids(Visibility)
    assert tables.locations == _ids(ImageStorageLocation)
    assert tables.media_types == _ids(MediaType)
    assert tables.source_types == _ids(LabelSourceType)
    assert tables.mutable_source_type_ids == frozenset(
        row.id for row in LabelSourceType.select() if row.mutable)


def test_the_first_migration_fills_the_lookup_tables(initialized_db):
    tables = lookup.tables()
    assert set(tables.kinds) == {"image", "application"}
    assert set(tables.visibilities) == {"public", "private"}
    assert "local" in tables.locations
    assert {"text/plain", "application/json",
            "application/vnd.docker.distribution.manifest.v1+prettyjws"} <= set(
                tables.media_types)
    assert {lookup.source_type_name(i) for i in tables.mutable_source_type_ids} == {
        "api", "internal"}


def test_a_warm_cache_answers_without_queries(initialized_db):
    lookup.tables()
    with count_statements() as counted:
        kind = lookup.kind_id("image")
        assert lookup.kind_name(kind) == "image"
        assert lookup.is_public(lookup.visibility_id("public"))
        assert lookup.location_name(lookup.location_id("local")) == "local"
        assert lookup.media_type_name(lookup.media_type_id("text/plain")) == "text/plain"
        assert lookup.source_type_name(lookup.source_type_id("api")) == "api"
        lookup.is_mutable_source_type(lookup.source_type_id("manifest"))
    assert counted.count == 0


def test_clear_makes_the_next_use_read_the_tables_again(initialized_db):
    lookup.tables()
    lookup.clear()
    with count_statements() as counted:
        lookup.kind_id("image")
    assert counted.count > 0
    with count_statements() as counted:
        lookup.kind_id("image")
    assert counted.count == 0


def test_ids_and_names_round_trip_for_every_table(initialized_db):
    for name, row_id in _ids(RepositoryKind).items():
        assert (lookup.kind_id(name), lookup.kind_name(row_id)) == (row_id, name)
    for name, row_id in _ids(ImageStorageLocation).items():
        assert (lookup.location_id(name), lookup.location_name(row_id)) == (row_id, name)
    for name, row_id in _ids(MediaType).items():
        assert (lookup.media_type_id(name), lookup.media_type_name(row_id)) == (row_id, name)
    for name, row_id in _ids(LabelSourceType).items():
        assert (lookup.source_type_id(name), lookup.source_type_name(row_id)) == (row_id, name)
    for name, row_id in _ids(Visibility).items():
        assert lookup.visibility_id(name) == row_id


def test_is_public_is_true_only_for_the_public_visibility(initialized_db):
    assert lookup.is_public(lookup.visibility_id("public")) is True
    assert lookup.is_public(lookup.visibility_id("private")) is False
    assert lookup.is_public(-1) is False


def test_only_manifest_labels_are_immutable(initialized_db):
    assert lookup.is_mutable_source_type(lookup.source_type_id("manifest")) is False
    assert lookup.is_mutable_source_type(lookup.source_type_id("api")) is True
    assert lookup.is_mutable_source_type(lookup.source_type_id("internal")) is True


@pytest.mark.parametrize("function, exception", [
    (lookup.kind_id, errors.InvalidRepositoryKindException),
    (lookup.visibility_id, errors.UnknownLookupValueException),
    (lookup.location_id, errors.UnknownLookupValueException),
    (lookup.media_type_id, errors.InvalidMediaTypeException),
    (lookup.source_type_id, errors.UnknownLabelSourceTypeException),
])
@pytest.mark.parametrize("name", ["unknown", "", "IMAGE", None, ["image"]])
def test_unknown_names_raise_the_tables_own_exception(initialized_db, function, exception,
                                                      name):
    with pytest.raises(exception) as raised:
        function(name)
    assert isinstance(raised.value, errors.UnknownLookupValueException)


def test_the_cache_is_kept_per_database(initialized_db, tmp_path):
    """Binding another database reads its own ids instead of reusing the first one's."""
    main_ids = lookup.tables().media_types
    other = configure("sqlite:///%s" % (tmp_path / "other.db"))
    try:
        upgrade(other)
        MediaType.create(name="application/x-only-here")
        assert "application/x-only-here" in lookup.tables().media_types
    finally:
        db.initialize(initialized_db)
        other.close()
    assert lookup.tables().media_types == main_ids
    with pytest.raises(errors.InvalidMediaTypeException):
        lookup.media_type_id("application/x-only-here")
