"""registry_model.statements: read queries rendered once per database, then only bound."""
from datetime import datetime

import pytest
from peewee import SqliteDatabase

from registry_model import statements
from registry_model.database import (
    Image,
    ImageStorage,
    Repository,
    RepositoryState,
    RepositoryTag,
    db,
)
from registry_model.model import lookup
from registry_model.oci.tables import Manifest as OCIManifest
from registry_model.statements import Statement, param, params
from registry_model.testing.factories import ImageFactory, RepositoryFactory, RepositoryTagFactory
from registry_model.testing.queries import count_statements


class CountingBuilder:
    """A builder that counts how often it was asked to build, per shape."""

    def __init__(self, build):
        self.build = build
        self.calls: list = []

    def __call__(self, *shape):
        self.calls.append(shape)
        return self.build(*shape)


def test_a_statement_is_built_once_per_shape_and_then_only_bound(initialized_db):
    first, second = RepositoryFactory(), RepositoryFactory()
    builder = CountingBuilder(lambda: Repository.select(Repository.id, Repository.name)
                              .where(Repository.id == param("repository_id")))
    statement = Statement(builder)
    with count_statements() as counted:
        rows = [statement.first(repository_id=repo.id) for repo in (first, second, first)]
    assert [(row.id, row.name) for row in rows] == [
        (first.id, first.name), (second.id, second.name), (first.id, first.name)]
    assert builder.calls == [()]
    assert counted.count == 3


def test_in_lists_bind_item_by_item_and_each_length_is_its_own_shape(initialized_db):
    repos = [RepositoryFactory() for _ in range(3)]
    builder = CountingBuilder(lambda count: Repository.select(Repository.id)
                              .where(Repository.id.in_(params("ids", count)))
                              .order_by(Repository.id))
    statement = Statement(builder)
    ids = [repo.id for repo in repos]
    assert [row.id for row in statement.rows((2,), ids=ids[:2])] == ids[:2]
    assert [row.id for row in statement.rows((3,), ids=ids)] == ids
    assert [row.id for row in statement.rows((2,), ids=ids[1:])] == ids[1:]
    assert builder.calls == [(2,), (3,)]
    assert statement.sql((3,)).count("?" if db.obj.param == "?" else db.obj.param) == 3


def test_rows_carry_the_values_peewee_would_give(initialized_db):
    repo = RepositoryFactory(state=RepositoryState.READ_ONLY, trust_enabled=True)
    image = ImageFactory(repository=repo, created=datetime(2020, 5, 17, 12, 30, 45))
    tag = RepositoryTagFactory(repository=repo, image=image, hidden=True,
                               lifetime_start_ts=1000)
    statement = Statement(lambda: (
        RepositoryTag.select(RepositoryTag.id, RepositoryTag.hidden, RepositoryTag.image,
                             Repository.state, Repository.trust_enabled, Image.created,
                             ImageStorage.content_checksum.alias("digest"))
        .join(Repository)
        .join_from(RepositoryTag, Image)
        .join(ImageStorage)
        .where(RepositoryTag.id == param("tag_id"))))
    row = statement.first(tag_id=tag.id)
    peewee_image = Image.get_by_id(image.id)
    assert row._fields == ("id", "hidden", "image_id", "state", "trust_enabled", "created",
                           "digest")
    assert statement.columns() == row._fields
    assert statement.tuples(tag_id=tag.id) == [tuple(row)]
    assert row.hidden is True and row.trust_enabled is True
    assert row.state is RepositoryState.READ_ONLY
    assert row.image_id == image.id
    assert row.created == peewee_image.created == datetime(2020, 5, 17, 12, 30, 45)
    assert row.digest == peewee_image.storage.content_checksum


def test_constants_written_into_the_builder_stay_bound(initialized_db):
    repo = RepositoryFactory()
    RepositoryTagFactory(repository=repo, name="shown", hidden=False)
    RepositoryTagFactory(repository=repo, name="hidden", hidden=True)
    statement = Statement(lambda: RepositoryTag.select(RepositoryTag.name).where(
        RepositoryTag.repository == param("repository_id"),
        RepositoryTag.hidden == False))  # noqa: E712
    assert [row.name for row in statement.rows(repository_id=repo.id)] == ["shown"]
    assert statement.first(repository_id=repo.id + 1000) is None


def test_two_columns_with_one_name_are_refused(initialized_db):
    statement = Statement(lambda: RepositoryTag.select(RepositoryTag.id, Image.id).join(Image))
    with pytest.raises(TypeError, match="two columns"):
        statement.rows()


def test_another_bound_database_gets_its_own_rendering(initialized_db, tmp_path):
    builder = CountingBuilder(lambda: Repository.select(Repository.id)
                              .where(Repository.id == param("repository_id")))
    statement = Statement(builder)
    statement.rows(repository_id=1)
    original = db.obj
    other = SqliteDatabase(str(tmp_path / "other.db"))
    other.execute_sql('CREATE TABLE "repository" ("id" INTEGER PRIMARY KEY)')
    other.execute_sql('INSERT INTO "repository" ("id") VALUES (7)')
    db.initialize(other)
    try:
        assert [row.id for row in statement.rows(repository_id=7)] == [7]
    finally:
        db.initialize(original)
        other.close()
    assert builder.calls == [(), ()]


def test_converted_columns_keep_null_and_every_row_its_own_values(initialized_db):
    repo = RepositoryFactory()
    dated = ImageFactory(repository=repo, created=datetime(2021, 3, 4, 5, 6, 7))  # MySQL: no us
    undated = ImageFactory(repository=repo, created=None)
    RepositoryTagFactory(repository=repo, image=dated, name="shown", hidden=False)
    RepositoryTagFactory(repository=repo, image=undated, name="hidden", hidden=True)
    statement = Statement(lambda: (
        RepositoryTag.select(RepositoryTag.name, RepositoryTag.hidden, Image.created)
        .join(Image)
        .where(RepositoryTag.repository == param("repository_id"))
        .order_by(RepositoryTag.name)))
    rows = statement.rows(repository_id=repo.id)
    assert [tuple(row) for row in rows] == [
        ("hidden", True, None), ("shown", False, datetime(2021, 3, 4, 5, 6, 7))]
    assert [type(row.hidden) for row in rows] == [bool, bool]


def test_text_datetimes_parse_as_peewee_would_whatever_their_spelling():
    # SQLite hands datetimes back as text; the generated row code parses peewee's two
    # spellings in place and gives anything else to peewee, even text shaped like a
    # datetime that is none (then every row goes through peewee's way).
    convert = statements._datetime_converter(Image.created)
    build = statements._row_builder(None, {1: convert}, 2)
    spellings = ["2021-03-04 05:06:07", "2021-03-04 05:06:07.000890", "2021-03-04T05:06:07",
                 "2021-03-04", "yesterday", None]
    rows = [(index, value) for index, value in enumerate(spellings)]
    expected = [(index, Image.created.python_value(value)) for index, value in rows]
    assert build(rows) == expected
    assert expected[0][1] == datetime(2021, 3, 4, 5, 6, 7)
    assert expected[1][1] == datetime(2021, 3, 4, 5, 6, 7, 890)
    not_a_date = rows + [(9, "2021-13-45 05:06:07")]
    assert build(not_a_date) == expected + [(9, "2021-13-45 05:06:07")]


def test_blob_columns_come_back_as_the_exact_bytes_peewee_gives(initialized_db):
    repo = RepositoryFactory()
    data = b'{"schemaVersion": 2, "\xff": "\x00 not utf-8 \xfe"}'
    media_type = lookup.media_type_id("application/vnd.oci.image.manifest.v1+json")
    row = OCIManifest.create(repository=repo, digest="sha256:" + "a" * 64,
                             media_type=media_type, manifest_bytes=data)
    statement = Statement(lambda: OCIManifest.select(OCIManifest.manifest_bytes)
                          .where(OCIManifest.id == param("manifest_id")))
    got = statement.first(manifest_id=row.id).manifest_bytes
    assert type(got) is bytes and got == data == OCIManifest.get_by_id(row.id).manifest_bytes
    assert statement.tuples(manifest_id=row.id) == [(data,)]
