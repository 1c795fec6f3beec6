"""Multi-row INSERTs: every row lands with peewee's conversions, split past the size limits."""
from registry_model.backfill import bulk
from registry_model.model import lookup
from registry_model.oci.tables import Manifest, Tag
from registry_model.testing.factories import RepositoryFactory
from registry_model.testing.queries import count_statements

FIELDS = (Manifest.repository, Manifest.digest, Manifest.media_type, Manifest.manifest_bytes,
          Manifest.layer_history)


def _manifests(repo, count, size=10):
    media_type = lookup.media_type_id("application/vnd.oci.image.manifest.v1+json")
    return [(repo.id, "sha256:%064x" % number, media_type, bytes([number % 256]) * size,
             None if number % 2 else "[]") for number in range(count)]


def test_rows_are_inserted_in_one_statement_with_their_values(initialized_db):
    repo = RepositoryFactory()
    rows = _manifests(repo, 50)
    with count_statements() as counter:
        assert bulk.insert_rows(Manifest, FIELDS, rows) == 1
    assert counter.count == 1
    stored = list(Manifest.select(*FIELDS).order_by(Manifest.digest).tuples())
    assert stored == rows


def test_booleans_and_nulls_are_bound_as_peewee_binds_them(initialized_db):
    repo = RepositoryFactory()
    manifest = Manifest.create(repository=repo, digest="sha256:" + "a" * 64, manifest_bytes=b"{}",
                               media_type=lookup.media_type_id("text/plain"))
    bulk.insert_rows(Tag, (Tag.repository, Tag.name, Tag.manifest, Tag.lifetime_start_ms,
                           Tag.lifetime_end_ms, Tag.hidden, Tag.reversion, Tag.immutable),
                     [(repo.id, "a", manifest.id, 1000, 2000, True, False, False),
                      (repo.id, "a", manifest.id, 2000, None, False, True, False)])
    assert [(tag.lifetime_end_ms, tag.hidden, tag.reversion) for tag in
            Tag.select().order_by(Tag.id)] == [(2000, True, False), (None, False, True)]


def test_many_values_or_many_bytes_are_split(initialized_db, monkeypatch):
    repo = RepositoryFactory()
    monkeypatch.setattr(bulk, "MAX_PARAMETERS", 5 * 10)
    assert bulk.insert_rows(Manifest, FIELDS, _manifests(repo, 25)) == 3
    monkeypatch.setattr(bulk, "MAX_PARAMETERS", 30_000)
    monkeypatch.setattr(bulk, "MAX_BYTES", 1000)
    Manifest.delete().execute()
    assert bulk.insert_rows(Manifest, FIELDS, _manifests(repo, 10, size=400)) == 4
    assert Manifest.select().count() == 10


def test_no_rows_no_statement(initialized_db):
    with count_statements() as counter:
        assert bulk.insert_rows(Manifest, FIELDS, []) == 0
    assert counter.count == 0
