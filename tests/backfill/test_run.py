"""The backfill carries a pre-OCI registry into the OCI tables, and the OCI model answers alike."""
import json
from datetime import UTC, datetime

import pytest

from registry_model import errors
from registry_model.backfill import backfill_to_oci, run, target
from registry_model.oci import legacy
from registry_model.oci.tables import OCI_MODELS, Tag
from registry_model.pre_oci.tables import PRE_OCI_MODELS
from registry_model.testing.budgets import budget
from registry_model.testing.pre_oci_builder import PreOCIImageBuilder, v1_metadata
from registry_model.testing.pre_oci_registry import write_random_registry
from registry_model.testing.queries import count_statements
from tests.backfill.equivalence import assert_same_answers, image_view


def rows_of(models) -> dict:
    """Every row of those tables, ids included."""
    return {model._meta.table_name: list(model.select().order_by(model.id).dicts())
            for model in models}


def oci_content() -> dict:
    """The OCI tables without their ids: what two runs that carried the same must share."""
    found = {}
    for table, rows in rows_of(OCI_MODELS).items():
        found[table] = sorted(repr(sorted((key, value) for key, value in row.items()
                                          if key not in ("id", "manifest", "label",
                                                         "child_manifest")))
                              for row in rows)
    return found


@pytest.fixture
def written(registry_model, clock, store):
    """A random pre-OCI registry: 3 repositories, 40 operations each."""
    return write_random_registry(registry_model, 1, clock.tick, store=store)


@pytest.mark.parametrize("seed,batch_size", [(1, 500), (2, 7), (3, 1)])
def test_a_backfilled_registry_answers_every_seed_method_as_before(
        registry_model, oci_model, clock, store, seed, batch_size):
    written = write_random_registry(registry_model, seed, clock.tick, store=store)
    report = backfill_to_oci(batch_size=batch_size)
    assert report.rejected == ()
    assert report.tags_carried == report.tags_seen > 0
    assert_same_answers(registry_model, oci_model, written)
    clock.tick(7200)  # tags with an end ahead of the backfill end in both wings alike
    assert_same_answers(registry_model, oci_model, written)


def test_the_pre_oci_tables_are_only_read(registry_model, written):
    before = rows_of(PRE_OCI_MODELS)
    backfill_to_oci(batch_size=5)
    assert rows_of(PRE_OCI_MODELS) == before


def test_a_second_run_changes_nothing(registry_model, written):
    first = backfill_to_oci(batch_size=9)
    assert first.changed
    before = rows_of(OCI_MODELS)
    again = backfill_to_oci(batch_size=4)
    assert not again.changed
    assert again.tags_seen == first.tags_seen
    assert rows_of(OCI_MODELS) == before


def test_a_run_killed_mid_batch_keeps_whole_batches_and_resumes_to_the_same_rows(
        registry_model, oci_model, written, monkeypatch):
    clean = backfill_to_oci()
    expected = oci_content()
    for model in reversed(OCI_MODELS):  # start again from empty OCI tables
        model.delete().execute()
    calls = []
    real_insert_tags = target.insert_tags

    def dying_insert_tags(rows):
        calls.append(len(rows))
        if len(calls) == 3:
            real_insert_tags(rows)
            raise KeyboardInterrupt("killed in the middle of the third batch")
        return real_insert_tags(rows)

    monkeypatch.setattr(target, "insert_tags", dying_insert_tags)
    with pytest.raises(KeyboardInterrupt):
        backfill_to_oci(batch_size=10)
    assert Tag.select().count() == sum(calls[:2])  # the third batch left nothing
    monkeypatch.setattr(target, "insert_tags", real_insert_tags)
    resumed = backfill_to_oci(batch_size=10)
    assert resumed.tags_carried == clean.tags_carried - sum(calls[:2])
    assert oci_content() == expected
    assert_same_answers(registry_model, oci_model, written)


def test_a_run_stopped_after_some_batches_is_finished_by_the_next(registry_model, oci_model,
                                                                   written):
    seen = []

    def stop_after_two(done, total):
        seen.append((done, total))
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        backfill_to_oci(batch_size=6, progress=stop_after_two)
    assert seen == [(6, seen[0][1]), (12, seen[0][1])]
    finished = backfill_to_oci(batch_size=6)
    assert finished.tags_carried == finished.tags_seen - 12
    assert_same_answers(registry_model, oci_model, written)


def test_progress_counts_every_tag_row_against_the_total(registry_model, written):
    seen = []
    report = backfill_to_oci(batch_size=11, progress=lambda done, total: seen.append((done,
                                                                                      total)))
    assert [done for done, _ in seen] == [min(11 * (n + 1), report.tags_seen)
                                          for n in range(report.batches)]
    assert {total for _, total in seen} == {report.tags_seen}


def test_a_tag_ended_in_the_pre_oci_tables_after_its_backfill_ends_in_the_oci_tables(
        registry_model, oci_model, written, clock):
    backfill_to_oci()
    repo = written.repositories[0]
    alive = registry_model.list_all_active_repository_tags(repo)[0]
    clock.tick(5)
    registry_model.delete_tag(repo, alive.name)
    report = backfill_to_oci()
    assert (report.tags_updated, report.tags_carried) == (1, 0)
    assert oci_model.find_matching_tag(repo, [alive.name]) is None
    assert_same_answers(registry_model, oci_model, written)


def test_a_tag_moved_during_the_backfill_keeps_one_alive_row(registry_model, oci_model,
                                                              written, clock):
    repo = written.repositories[1]
    alive = registry_model.list_all_active_repository_tags(repo)[0]
    other = registry_model.lookup_manifest_by_digest(repo, written.digests[repo.full_name][0],
                                                     allow_dead=True)

    def move_once(done, total):
        if done == 10:
            clock.tick(3)
            registry_model.retarget_tag(repo, alive.name, other)

    report = backfill_to_oci(batch_size=10, progress=move_once)
    assert report.rejected == ()
    assert_same_answers(registry_model, oci_model, written)


def test_batch_size_must_be_positive(registry_model):
    for bad in (0, -1, "10", 1.5, True):
        with pytest.raises(errors.DataModelException):
            backfill_to_oci(batch_size=bad)


def test_the_statements_of_a_batch_do_not_grow_with_its_size(registry_model, written):
    with count_statements() as small:
        few = backfill_to_oci(batch_size=5)
    for model in reversed(OCI_MODELS):
        model.delete().execute()
    with count_statements() as large:
        many = backfill_to_oci(batch_size=1000)
    assert many.batches == 1 and few.batches > 10
    per_batch = run.STATEMENTS_PER_BATCH
    assert large.count <= per_batch + 2  # the count of tags, the last empty batch's read
    assert small.count <= few.batches * per_batch + 2


def test_the_oci_legacy_reads_of_backfilled_images_keep_their_budgets(registry_model, oci_model,
                                                                      written):
    backfill_to_oci()
    repo = written.repositories[0]
    with count_statements() as counter:
        images = oci_model.get_legacy_images(repo)
    assert counter.count <= budget("get_legacy_images")
    for image in images:
        for parents, variant in ((False, None), (True, "with parents")):
            with count_statements() as counter:
                found = oci_model.get_legacy_image(repo, image.docker_image_id,
                                                   include_parents=parents)
            assert found.docker_image_id == image.docker_image_id
            assert counter.count <= budget("get_legacy_image", variant)


def test_a_tag_hidden_or_given_no_end_after_its_backfill_is_so_in_the_oci_tables(
        registry_model, oci_model, clock, store):
    builder = PreOCIImageBuilder(registry_model, store)
    repo = builder.repository("acme", "changes")
    hidden = builder.push_image(repo, "hidden", [b"one"]).tag
    ending = builder.push_image(repo, "ending", [b"two"]).tag
    registry_model.change_repository_tag_expiration(ending,
                                                    datetime.fromtimestamp(clock.now + 3600, UTC))
    ending = registry_model.get_repo_tag(repo, "ending")
    backfill_to_oci()
    builder.hide_tag(hidden)
    registry_model.change_repository_tag_expiration(ending, None)
    report = backfill_to_oci()
    assert (report.tags_updated, report.tags_carried) == (2, 0)
    assert oci_model.get_repo_tag(repo, "hidden") is None
    assert oci_model.get_repo_tag(repo, "ending").lifetime_end_ts is None
    assert not backfill_to_oci().changed


def test_a_backfilled_top_legacy_image_can_be_tagged_on_the_oci_model(registry_model, oci_model,
                                                                       written):
    backfill_to_oci()
    repo = written.repositories[0]
    tag = oci_model.get_most_recent_tag(repo)
    top = next(image for image in oci_model.get_legacy_images(repo) if tag.name in image.tags)
    assert oci_model.retarget_tag(repo, "from-legacy", top).name == "from-legacy"
    shown = {image.docker_image_id: image.tags for image in oci_model.get_legacy_images(repo)}
    assert "from-legacy" in shown[top.docker_image_id]
    below = top.parents[0] if top.parents else None
    if below is not None:
        with pytest.raises(errors.UnsupportedOperationException):
            oci_model.retarget_tag(repo, "from-below", below)


def test_a_backfilled_v1_id_that_reads_as_a_synthetic_one_is_still_found(registry_model,
                                                                         oci_model, store):
    # A V1 id whose last 8 hex digits are below ID_STRIDE reads as a synthetic id (the
    # digest scan finds no manifest of it): one real V1 id in 65536 is so.
    layer = next(data for data in (b"layer %d" % number for number in range(1 << 20))
                 if int(json.loads(v1_metadata([data])[0][1])["id"][-8:], 16)
                 < legacy.ID_STRIDE)
    builder = PreOCIImageBuilder(registry_model, store)
    repo = builder.repository("acme", "reads")
    builder.push_image(repo, "latest", [layer, b"top"])
    backfill_to_oci()
    base = oci_model.get_legacy_images(repo)[-1]
    assert legacy.parse_legacy_image_id(base.docker_image_id)[1] < legacy.ID_STRIDE
    for parents in (False, True):
        assert image_view(oci_model.get_legacy_image(repo, base.docker_image_id, parents)) \
            == image_view(registry_model.get_legacy_image(repo, base.docker_image_id, parents))
