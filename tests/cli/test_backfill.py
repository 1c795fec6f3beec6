"""``registry-model migrate-to-oci``: the backfill from the command line."""
import json

import pytest

from registry_model import clock
from registry_model.database import configure
from registry_model.oci.model import OCIModel
from registry_model.registry_pre_oci_model import PreOCIModel
from registry_model.testing.factories import RepositoryTagFactory
from registry_model.testing.pre_oci_registry import write_random_registry

from . import assert_fails, invoke, row_counts, succeeds


@pytest.fixture
def pre_oci_uri(migrated_uri, monkeypatch):
    """A migrated database holding a random pre-OCI registry and one tag without manifest."""
    now = [1_700_000_000]
    monkeypatch.setattr(clock, "now_ts", lambda: now[0])
    monkeypatch.setattr(clock, "now_ms", lambda: now[0] * 1000)

    def tick(seconds):
        now[0] += seconds

    database = configure(migrated_uri)
    written = write_random_registry(PreOCIModel(), 5, tick, repositories=2, steps=15)
    bare = RepositoryTagFactory(name="bare", lifetime_start_ts=now[0])
    database.close()
    return migrated_uri, written, bare


def test_migrate_to_oci_carries_the_registry_and_lists_what_it_could_not(pre_oci_uri):
    uri, written, bare = pre_oci_uri
    output = succeeds(uri, "migrate-to-oci", "--batch-size", "4")
    lines = output.splitlines()
    counts = row_counts(uri)
    assert lines[0].startswith("carried %d tags, %d manifests, "
                               % (counts["Tag"], counts["Manifest"]))
    assert "(%d pre-OCI tag rows in " % counts["RepositoryTag"] in lines[0]
    assert lines[1] == "not carried, kept in the pre-OCI tables (1):"
    assert lines[2].split() == ["TABLE", "ID", "REPOSITORY", "NAME", "REASON"]
    assert lines[3].split()[:4] == ["repository_tag", str(bare.id),
                                    "%s/%s" % (bare.repository.namespace.name,
                                               bare.repository.name), "bare"]
    assert lines[3].endswith("tag has no manifest")
    database = configure(uri)
    repo = written.repositories[0]
    assert OCIModel().get_most_recent_tag(repo).manifest_digest == \
        PreOCIModel().get_most_recent_tag(repo).manifest_digest
    database.close()


def test_migrate_to_oci_twice_carries_nothing_the_second_time(pre_oci_uri):
    uri, _, _ = pre_oci_uri
    first = json.loads(succeeds(uri, "migrate-to-oci", "--json"))
    counts = row_counts(uri)
    second = json.loads(succeeds(uri, "migrate-to-oci", "--json", "--batch-size", "3"))
    assert first["tags_carried"] > 0 and first["batches"] == 1
    assert [second[key] for key in ("tags_carried", "manifests_carried", "blobs_linked",
                                    "labels_carried", "tags_updated")] == [0] * 5
    assert second["rejected"] == first["rejected"] != []
    assert set(second["rejected"][0]) == {"table", "row_id", "repository", "name", "reason"}
    assert row_counts(uri) == counts


def test_migrate_to_oci_refuses_a_batch_size_below_one(pre_oci_uri):
    uri, _, _ = pre_oci_uri
    result = invoke(uri, "migrate-to-oci", "--batch-size", "0")
    assert_fails(result, "--batch-size", exit_code=2)


def test_migrate_to_oci_needs_a_migrated_database(empty_uri):
    assert_fails(invoke(empty_uri, "migrate-to-oci"), "run `registry-model migrate`")
