"""The shipped migrations build exactly the schema the models declare, and run up and down.

Each test migrates a scratch database of its own on the backend under test
(``TEST_DATABASE_URI``, or SQLite), because DDL commits on MySQL/MariaDB and so
cannot live inside the per-test rollback of ``initialized_db``.
"""
import json
import os
import re

import pytest
from peewee import ForeignKeyField, IntegrityError
from playhouse.schema_diff import IndexDiff, SchemaDiff, diff_models

import registry_model.migrations
from registry_model.database import (
    ALIVE_TAG_INDEX,
    ALIVE_TAG_MARKER_COLUMN,
    ALL_MODELS,
    LOOKUP_MODELS,
    OCI_ALIVE_TAG_INDEX,
    OCI_MODELS,
    ImageStorageLocation,
    LabelSourceType,
    Manifest,
    MediaType,
    RepositoryKind,
    Tag,
    Visibility,
    backend_name,
    configure,
    db,
)
from registry_model.migration import (
    HISTORY_TABLE,
    downgrade,
    migrations_directory,
    status,
    upgrade,
)
from registry_model.testing.databases import scratch_database
from registry_model.testing.factories import ImageFactory, RepositoryFactory, RepositoryTagFactory

FIRST_MIGRATION = "0001_initial"
OCI_MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
MODEL_TABLES = {model._meta.table_name: model for model in ALL_MODELS}

# What DESIGN.md promises to be unique, written out by hand so that a model and
# a migration that drifted together from the contract are still caught.
DESIGN_UNIQUE_COLUMNS = {
    "repository_kind": {("name",)},
    "visibility": {("name",)},
    "image_storage_location": {("name",)},
    "media_type": {("name",)},
    "label_source_type": {("name",)},
    "namespace": {("name",)},
    "repository": {("namespace_id", "name")},
    "image_storage": {("uuid",)},
    "image_storage_placement": {("storage_id", "location_id")},
    "image": {("repository_id", "docker_image_id")},
    "repository_tag": set(),  # only the alive-tag rule, checked on its own
    "tag_manifest": {("tag_id",)},
    "label": {("uuid",)},
    "tag_manifest_label": {("label_id",), ("annotated_id", "label_id")},
    "oci_manifest": {("repository_id", "digest")},
    "oci_manifest_blob": {("manifest_id", "blob_id")},
    "oci_manifest_child": {("manifest_id", "child_manifest_id")},
    "oci_tag": set(),  # only the alive-tag rule, checked on its own
    "oci_manifest_label": {("label_id",), ("manifest_id", "label_id")},
    "account": {("name",)},
    "account_grant": set(),  # one grant per (account, ns, repo, action): kept by grant()
}
# What DESIGN.md promises to be indexed (a leading column is enough), beside the unique rules.
DESIGN_INDEXED_COLUMNS = {
    "oci_manifest": {("repository_id", "subject")},
    "oci_manifest_blob": {("blob_id",)},
    "oci_manifest_child": {("child_manifest_id",)},
    "oci_tag": {("repository_id", "name"), ("repository_id", "lifetime_end_ms")},
}
# Each wing's tag table and its alive-tag rule: (table, index name, end column).
ALIVE_TAG_RULES = {
    "repository_tag": (ALIVE_TAG_INDEX, "lifetime_end_ts"),
    "oci_tag": (OCI_ALIVE_TAG_INDEX, "lifetime_end_ms"),
}
OCI_MIGRATION = "0005_oci"
ACCOUNTS_MIGRATION = "0006_accounts"
ACCOUNT_TABLES = {"account", "account_grant"}


@pytest.fixture
def scratch_db():
    """An empty database of its own, bound to ``db``; the previous binding comes back after."""
    previous = db.obj
    with scratch_database() as uri:
        database = configure(uri)
        try:
            yield database
        finally:
            database.close()
            db.initialize(previous)


@pytest.fixture
def migrated_db(scratch_db):
    """The scratch database with every migration applied."""
    applied = upgrade(scratch_db)
    assert FIRST_MIGRATION in applied
    return scratch_db


def _is_mysql(database) -> bool:
    return backend_name(database) == "mysql"


def _is_primary_key_index(index) -> bool:
    return (index.name == "PRIMARY" or index.name.endswith("_pkey")
            or index.name.startswith("sqlite_autoindex_"))


def _database_indexes(database, table: str) -> list:
    """(name, columns, unique) of every index but the primary key and the alive-tag rule."""
    return sorted(
        (index.name, tuple(index.columns), bool(index.unique))
        for index in database.get_indexes(table)
        if not _is_primary_key_index(index)
        and not (table in ALIVE_TAG_RULES and index.name == ALIVE_TAG_RULES[table][0]))


def _declared_indexes(model) -> list:
    return sorted(
        (index._name, tuple(field.column_name for field in index._expressions),
         bool(index._unique))
        for index in model._meta.fields_to_index())


def _declared_foreign_keys(model) -> set:
    return {(field.column_name, field.rel_model._meta.table_name, field.rel_field.column_name)
            for field in model._meta.sorted_fields if isinstance(field, ForeignKeyField)}


def _snapshot(database) -> dict:
    """Everything the database reports about its schema, for before/after comparisons."""
    snapshot = {}
    for table in database.get_tables():
        snapshot[table] = {
            "columns": sorted((c.name, c.data_type, c.full_type, c.null, c.primary_key)
                              for c in database.get_columns(table)),
            "indexes": sorted((i.name, tuple(i.columns), bool(i.unique), i.sql)
                              for i in database.get_indexes(table)),
            "foreign_keys": sorted((fk.column, fk.dest_table, fk.dest_column)
                                   for fk in database.get_foreign_keys(table)),
        }
    return snapshot


def _lookup_rows(database) -> dict:
    """Every lookup table as a sorted list of its rows without ids."""
    rows = {model._meta.table_name: sorted(model.select(model.name).tuples())
            for model in LOOKUP_MODELS}
    rows["label_source_type"] = sorted(
        LabelSourceType.select(LabelSourceType.name, LabelSourceType.mutable).tuples())
    return rows


def _expected_alive_tag_diff(database) -> tuple:
    """What ``diff_models`` reports for the alive-tag rules, which no model can declare."""
    if _is_mysql(database):
        return ([(table, ALIVE_TAG_MARKER_COLUMN) for table in ALIVE_TAG_RULES],
                [IndexDiff(table, index, ("repository_id", "name", ALIVE_TAG_MARKER_COLUMN), True)
                 for table, (index, _) in ALIVE_TAG_RULES.items()])
    # A partial index carries no column signature in schema_diff, only its name.
    return [], [IndexDiff(table, index, None, None)
                for table, (index, _) in ALIVE_TAG_RULES.items()]


def test_migrated_tables_are_the_models_plus_history(migrated_db):
    assert set(migrated_db.get_tables()) == set(MODEL_TABLES) | {HISTORY_TABLE}


def test_migrated_columns_and_nullability_match_models(migrated_db):
    for table, model in MODEL_TABLES.items():
        declared = {(field.column_name, field.null) for field in model._meta.sorted_fields}
        if table in ALIVE_TAG_RULES and _is_mysql(migrated_db):
            # MySQL's half of the alive-tag rule: NULL for ended rows, so nullable.
            declared.add((ALIVE_TAG_MARKER_COLUMN, True))
        actual = {(column.name, column.null) for column in migrated_db.get_columns(table)}
        assert actual == declared, table


def test_migrated_indexes_match_models(migrated_db):
    for table, model in MODEL_TABLES.items():
        assert _database_indexes(migrated_db, table) == _declared_indexes(model), table


def test_migrated_unique_rules_match_models_and_design(migrated_db):
    for table, model in MODEL_TABLES.items():
        declared = {columns for _, columns, unique in _declared_indexes(model) if unique}
        actual = {columns for _, columns, unique in _database_indexes(migrated_db, table)
                  if unique}
        assert actual == declared, table
        if table in DESIGN_UNIQUE_COLUMNS:
            assert actual == DESIGN_UNIQUE_COLUMNS[table], table


def test_migrated_indexes_cover_what_design_promises(migrated_db):
    for table, promised in DESIGN_INDEXED_COLUMNS.items():
        indexes = [columns for _, columns, _ in _database_indexes(migrated_db, table)]
        for columns in promised:
            assert any(index[:len(columns)] == columns for index in indexes), (table, columns)


def test_oci_tables_never_share_a_name_with_another_wing():
    oci_tables = {model._meta.table_name for model in OCI_MODELS}
    assert all(name.startswith("oci_") for name in oci_tables)
    assert len(oci_tables & {m._meta.table_name for m in ALL_MODELS if m not in OCI_MODELS}) == 0


def test_migrated_foreign_keys_match_models(migrated_db):
    for table, model in MODEL_TABLES.items():
        actual = {(fk.column, fk.dest_table, fk.dest_column)
                  for fk in migrated_db.get_foreign_keys(table)}
        assert actual == _declared_foreign_keys(model), table
    # Spot-check the contract itself, not only model/migration agreement.
    assert ("annotated_id", "tag_manifest", "id") in _declared_foreign_keys(
        MODEL_TABLES["tag_manifest_label"])


def test_schema_diff_against_models_is_only_the_alive_tag_rule(migrated_db):
    diff = diff_models(migrated_db, list(ALL_MODELS))
    expected_columns, expected_indexes = _expected_alive_tag_diff(migrated_db)
    assert diff == SchemaDiff([], [], expected_columns, [], expected_indexes), str(diff)
    residue = diff._replace(
        drop_columns=[c for c in diff.drop_columns if c not in expected_columns],
        drop_indexes=[i for i in diff.drop_indexes if i not in expected_indexes])
    assert not residue, str(residue)


@pytest.mark.parametrize("table", sorted(ALIVE_TAG_RULES))
def test_alive_tag_rule_is_a_unique_index_over_rows_without_end(migrated_db, table):
    index_name, end_column = ALIVE_TAG_RULES[table]
    indexes = {index.name: index for index in migrated_db.get_indexes(table)}
    alive = indexes[index_name]
    assert alive.unique
    if _is_mysql(migrated_db):
        assert alive.columns == ["repository_id", "name", ALIVE_TAG_MARKER_COLUMN]
        extra, expression = migrated_db.execute_sql(
            "SELECT EXTRA, GENERATION_EXPRESSION FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s "
            "AND COLUMN_NAME = %s", (table, ALIVE_TAG_MARKER_COLUMN)).fetchone()
        assert "GENERATED" in extra.upper()
        assert re.search(end_column + r"`?\s+is\s+null", expression, re.IGNORECASE)
    else:
        assert alive.columns == ["repository_id", "name"]
        assert re.search(r"\)\s*WHERE\s+\(?\s*\"?" + end_column + r"\"?\s+IS\s+NULL",
                         alive.sql, re.IGNORECASE), alive.sql


def test_alive_tag_rule_rejects_a_second_row_without_end(migrated_db):
    repo = RepositoryFactory()
    image = ImageFactory(repository=repo)
    RepositoryTagFactory(repository=repo, name="latest", image=image, lifetime_start_ts=10,
                         lifetime_end_ts=20)
    RepositoryTagFactory(repository=repo, name="latest", image=image, lifetime_start_ts=20,
                         lifetime_end_ts=30)
    RepositoryTagFactory(repository=repo, name="latest", image=image, lifetime_start_ts=30)
    RepositoryTagFactory(repository=repo, name="Latest", image=image, lifetime_start_ts=30)
    with pytest.raises(IntegrityError):
        with migrated_db.atomic():
            RepositoryTagFactory(repository=repo, name="latest", image=image,
                                 lifetime_start_ts=40)


def _oci_manifest(repo) -> Manifest:
    return Manifest.create(repository=repo, digest="sha256:" + "1" * 64,
                           media_type=MediaType.get(MediaType.name == OCI_MANIFEST_TYPE),
                           manifest_bytes=b"{}")


def test_oci_alive_tag_rule_rejects_a_second_row_without_end(migrated_db):
    repo = RepositoryFactory()
    manifest = _oci_manifest(repo)
    for start, end in ((10, 20), (20, 30), (30, None)):
        Tag.create(repository=repo, name="latest", manifest=manifest, lifetime_start_ms=start,
                   lifetime_end_ms=end)
    Tag.create(repository=repo, name="Latest", manifest=manifest, lifetime_start_ms=30)
    Tag.create(repository=RepositoryFactory(), name="latest", manifest=manifest,
               lifetime_start_ms=30)
    with pytest.raises(IntegrityError):
        with migrated_db.atomic():
            Tag.create(repository=repo, name="latest", manifest=manifest, lifetime_start_ms=40)
    # Ending the alive row frees the name for a new one.
    Tag.update(lifetime_end_ms=40).where(Tag.name == "latest", Tag.repository == repo,
                                         Tag.lifetime_end_ms.is_null()).execute()
    Tag.create(repository=repo, name="latest", manifest=manifest, lifetime_start_ms=40)
    assert Tag.select().where(Tag.name == "latest", Tag.repository == repo).count() == 4


def test_oci_manifest_bytes_come_back_exactly(migrated_db):
    # Not UTF-8, every byte value, a NUL, and more than MySQL's 64 KiB BLOB.
    exact = bytes(range(256)) * 300 + b"\x00\xff"
    manifest = _oci_manifest(RepositoryFactory())
    Manifest.update(manifest_bytes=exact).where(Manifest.id == manifest.id).execute()
    stored = Manifest.get_by_id(manifest.id).manifest_bytes
    assert type(stored) is bytes and stored == exact


def test_lookup_tables_are_filled(migrated_db):
    assert {row.name for row in RepositoryKind.select()} == {"image", "application"}
    assert {row.name for row in Visibility.select()} == {"public", "private"}
    assert "local" in {row.name for row in ImageStorageLocation.select()}
    assert {
        "text/plain",
        "application/json",
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    } <= {row.name for row in MediaType.select()}
    assert {row.name: row.mutable for row in LabelSourceType.select()} == {
        "manifest": False, "api": True, "internal": True}


def test_downgrade_to_initial_leaves_only_history_and_upgrade_rebuilds_the_same(migrated_db):
    first_schema = _snapshot(migrated_db)
    first_rows = _lookup_rows(migrated_db)
    applied_names = [migration.name for migration in status(migrated_db)]

    reverted = downgrade(migrated_db, target=FIRST_MIGRATION)

    assert reverted == list(reversed(applied_names))
    assert migrated_db.get_tables() == [HISTORY_TABLE]
    assert [(m.name, m.applied) for m in status(migrated_db)] == [
        (name, None) for name in applied_names]

    assert upgrade(migrated_db) == applied_names
    assert _snapshot(migrated_db) == first_schema
    assert _lookup_rows(migrated_db) == first_rows


def test_upgrade_is_idempotent(migrated_db):
    schema = _snapshot(migrated_db)
    rows = _lookup_rows(migrated_db)
    history = sorted(m.name for m in status(migrated_db) if m.applied)

    assert upgrade(migrated_db) == []
    assert _snapshot(migrated_db) == schema
    assert _lookup_rows(migrated_db) == rows
    assert sorted(m.name for m in status(migrated_db) if m.applied) == history


def _drop_table(database) -> None:
    # The last table 0001 creates: the one an interrupted run is likeliest to lack.
    database.execute_sql("DROP TABLE tag_manifest_label")


def _drop_alive_tag_index(database) -> None:
    # The last statement of 0001; on MySQL the generated column stays, as after a
    # cut between its two statements.
    if _is_mysql(database):
        database.execute_sql("DROP INDEX %s ON repository_tag" % ALIVE_TAG_INDEX)
    else:
        database.execute_sql("DROP INDEX %s" % ALIVE_TAG_INDEX)


@pytest.mark.parametrize("interrupt", [_drop_table, _drop_alive_tag_index],
                         ids=["table_missing", "alive_tag_index_missing"])
def test_rerunning_initial_migration_completes_a_half_migrated_database(migrated_db, interrupt):
    # A run cut short inside 0001 has applied nothing after it.
    later = [m.name for m in status(migrated_db) if m.name != FIRST_MIGRATION]
    downgrade(migrated_db, target=later[0])
    complete_schema = _snapshot(migrated_db)
    rows = _lookup_rows(migrated_db)
    interrupt(migrated_db)
    migrated_db.execute_sql("DELETE FROM %s WHERE name = '%s'" % (HISTORY_TABLE, FIRST_MIGRATION))
    assert _snapshot(migrated_db) != complete_schema

    assert upgrade(migrated_db, target=FIRST_MIGRATION) == [FIRST_MIGRATION]

    assert _snapshot(migrated_db) == complete_schema
    assert _lookup_rows(migrated_db) == rows  # filled again without duplicates
    assert upgrade(migrated_db) == later
    assert all(m.applied for m in status(migrated_db))


def _drop_oci_label_table(database) -> None:
    database.execute_sql("DROP TABLE oci_manifest_label")


def _drop_oci_alive_tag_index(database) -> None:
    # The last statement of 0005; on MySQL the generated column stays, as after a cut.
    if _is_mysql(database):
        database.execute_sql("DROP INDEX %s ON oci_tag" % OCI_ALIVE_TAG_INDEX)
    else:
        database.execute_sql("DROP INDEX %s" % OCI_ALIVE_TAG_INDEX)


@pytest.mark.parametrize("interrupt", [_drop_oci_label_table, _drop_oci_alive_tag_index],
                         ids=["table_missing", "alive_tag_index_missing"])
def test_rerunning_the_oci_migration_completes_a_half_migrated_database(migrated_db, interrupt):
    later = [m.name for m in status(migrated_db) if m.name > OCI_MIGRATION]
    if later:
        downgrade(migrated_db, target=later[0])
    complete_schema = _snapshot(migrated_db)
    interrupt(migrated_db)
    migrated_db.execute_sql("DELETE FROM %s WHERE name = '%s'" % (HISTORY_TABLE, OCI_MIGRATION))
    assert _snapshot(migrated_db) != complete_schema

    assert upgrade(migrated_db, target=OCI_MIGRATION) == [OCI_MIGRATION]

    assert _snapshot(migrated_db) == complete_schema
    assert upgrade(migrated_db) == later


def test_the_oci_migration_goes_down_and_up_leaving_the_other_tables(migrated_db):
    complete_schema = _snapshot(migrated_db)
    later = [m.name for m in status(migrated_db) if m.name > OCI_MIGRATION]
    downgrade(migrated_db, target=OCI_MIGRATION)
    oci_tables = {model._meta.table_name for model in OCI_MODELS}
    remaining = set(migrated_db.get_tables())
    assert not remaining & oci_tables
    assert remaining == set(complete_schema) - oci_tables - ACCOUNT_TABLES
    assert upgrade(migrated_db) == [OCI_MIGRATION] + later
    assert _snapshot(migrated_db) == complete_schema


def test_the_accounts_migration_goes_down_and_up_leaving_the_other_tables(migrated_db):
    complete_schema = _snapshot(migrated_db)
    downgrade(migrated_db, target=ACCOUNTS_MIGRATION)
    remaining = set(migrated_db.get_tables())
    assert remaining == set(complete_schema) - ACCOUNT_TABLES
    assert upgrade(migrated_db) == [ACCOUNTS_MIGRATION]
    assert _snapshot(migrated_db) == complete_schema


def test_installed_package_ships_the_migrations():
    directory = migrations_directory()
    files = sorted(name for name in os.listdir(directory) if re.match(r"^\d{4}_\w+\.py$", name))
    assert "0001_initial.py" in files
    assert os.path.samefile(directory, os.path.dirname(registry_model.migrations.__file__))


def test_status_lists_every_shipped_migration_as_pending_on_an_empty_database(scratch_db):
    files = sorted(name[:-3] for name in os.listdir(migrations_directory())
                   if re.match(r"^\d{4}_\w+\.py$", name))
    assert [(m.name, m.applied) for m in status(scratch_db)] == [(name, None) for name in files]
    assert files[0] == FIRST_MIGRATION


def test_manifest_media_types_are_filled_for_rows_written_before_0003(scratch_db):
    """0003 adds TagManifest.media_type and fills it from each stored manifest's bytes."""
    upgrade(scratch_db, target="0002_blob_uploads")
    tag = RepositoryTagFactory()
    signed = json.dumps({"schemaVersion": 1, "signatures": [{"protected": "x"}]})
    unsigned = json.dumps({"schemaVersion": 1, "fsLayers": []})
    empty_signatures = json.dumps({"schemaVersion": 1, "signatures": []})
    ids = []
    for json_data in (signed, unsigned, empty_signatures, "not json"):
        other_tag = RepositoryTagFactory(repository=tag.repository, image=tag.image)
        scratch_db.execute_sql(
            "INSERT INTO tag_manifest (tag_id, digest, json_data) VALUES (%s, %s, %s)"
            .replace("%s", scratch_db.param),
            (other_tag.id, "sha256:" + "a" * 64, json_data))
        ids.append(scratch_db.execute_sql("SELECT MAX(id) FROM tag_manifest").fetchone()[0])

    assert upgrade(scratch_db, target="0003_manifest_media_type") == [
        "0003_manifest_media_type"]

    names = {row.id: row.name for row in MediaType.select()}
    stored = dict(scratch_db.execute_sql(
        "SELECT id, media_type_id FROM tag_manifest ORDER BY id").fetchall())
    signed_type = "application/vnd.docker.distribution.manifest.v1+prettyjws"
    unsigned_type = "application/vnd.docker.distribution.manifest.v1+json"
    assert [names[stored[row_id]] for row_id in ids] == [
        signed_type, unsigned_type, unsigned_type, signed_type]
