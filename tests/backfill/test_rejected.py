"""Rows the backfill cannot carry are reported, logged and kept in the pre-OCI tables."""
import logging

from registry_model.backfill import backfill_to_oci
from registry_model.model import lookup
from registry_model.model.tables import Label
from registry_model.oci.tables import OCI_MODELS
from registry_model.pre_oci.tables import PRE_OCI_MODELS, TagManifestLabel
from registry_model.testing.factories import (
    RepositoryFactory,
    RepositoryTagFactory,
    TagManifestFactory,
)
from registry_model.testing.oci_builder import OCIImageBuilder
from registry_model.testing.pre_oci_builder import PreOCIImageBuilder
from tests.backfill.test_run import rows_of


def _bad_rows():
    """A tag without manifest, one whose manifest is no JSON, one whose digest lies, a
    label the OCI wing refuses, and a tag that is fine."""
    repo = RepositoryFactory(namespace__name="acme", name="odd")
    bare = RepositoryTagFactory(repository=repo, name="bare")
    garbled = TagManifestFactory(tag__repository=repo, tag__name="garbled",
                                 json_data="{not json", digest="sha256:" + "1" * 64)
    lying = TagManifestFactory(tag__repository=repo, tag__name="lying",
                               digest="sha256:" + "2" * 64)
    fine = TagManifestFactory(tag__repository=repo, tag__name="fine")
    label = Label.create(key="Not A Key", value="v", media_type=lookup.media_type_id("text/plain"),
                         source_type=lookup.source_type_id("api"))
    link = TagManifestLabel.create(repository=repo, annotated=fine, label=label)
    return repo, bare, garbled, lying, fine, link


def test_rows_that_cannot_be_carried_are_reported_and_kept(registry_model, oci_model, caplog):
    repo, bare, garbled, lying, fine, link = _bad_rows()
    before = rows_of(PRE_OCI_MODELS)
    with caplog.at_level(logging.WARNING, logger="registry_model.backfill.run"):
        report = backfill_to_oci(batch_size=2)
    found = {(row.table, row.row_id): row for row in report.rejected}
    assert set(found) == {("repository_tag", bare.id), ("repository_tag", garbled.tag.id),
                          ("repository_tag", lying.tag.id), ("tag_manifest_label", link.id)}
    assert "no manifest" in found["repository_tag", bare.id].reason
    assert "does not parse" in found["repository_tag", garbled.tag.id].reason
    assert "hash to" in found["repository_tag", lying.tag.id].reason
    assert found["tag_manifest_label", link.id].name == "Not A Key"
    assert {row.repository for row in report.rejected} == {"acme/odd"}
    assert len([record for record in caplog.records if "not carried" in record.message]) == 4
    assert rows_of(PRE_OCI_MODELS) == before
    reference = oci_model.lookup_repository("acme", "odd")
    carried = oci_model.find_matching_tag(reference, ["fine", "bare", "garbled", "lying"])
    assert (carried.name, carried.manifest_digest) == ("fine", fine.digest)
    assert oci_model.list_manifest_labels(oci_model.get_manifest_for_tag(carried)) == []
    assert registry_model.find_matching_tag(reference, ["bare"]).name == "bare"


def test_a_run_over_rejected_rows_reports_them_again_and_writes_nothing(registry_model):
    _bad_rows()
    first = backfill_to_oci()
    carried = rows_of(OCI_MODELS)
    again = backfill_to_oci()
    assert again.rejected == first.rejected and not again.changed
    assert rows_of(OCI_MODELS) == carried


def test_an_alive_tag_whose_name_is_alive_in_the_oci_tables_is_reported(registry_model,
                                                                         oci_model, store):
    pre_builder = PreOCIImageBuilder(registry_model, store)
    repo = pre_builder.repository("acme", "both")
    pre_builder.push_image(repo, "latest", [b"old"])
    OCIImageBuilder(oci_model, store).push_image(repo, "latest", [b"new"])
    report = backfill_to_oci()
    assert [(row.name, "alive in the OCI tables" in row.reason) for row in report.rejected] == \
        [("latest", True)]
    assert oci_model.get_repo_tag(repo, "latest").manifest_digest != \
        registry_model.get_repo_tag(repo, "latest").manifest_digest
