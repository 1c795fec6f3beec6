"""The backfill in one process while others keep writing and reading through the pre-OCI model.

Real commits on separate connections: the pre-OCI model keeps answering (reads and writes
succeed while batches commit), and one more run after the writers stop leaves the OCI model
answering exactly as the pre-OCI one.
"""
from registry_model import clock
from registry_model.backfill import backfill_to_oci
from registry_model.oci.model import OCIModel
from registry_model.registry_pre_oci_model import PreOCIModel
from registry_model.testing.databases import migrated_scratch_database
from registry_model.testing.pre_oci_registry import (
    RandomRegistry,
    change_random_registry,
    write_random_registry,
)
from registry_model.testing.processes import run_in_processes
from tests.backfill.equivalence import assert_same_answers, tag_view


def _no_tick(seconds: int) -> None:
    """Real time passes on its own between the writers' steps."""


def backfiller(batch_size: int) -> tuple:
    """Backfill in small batches, twice; the reports' counts."""
    first = backfill_to_oci(batch_size=batch_size)
    second = backfill_to_oci(batch_size=batch_size)
    return (first.tags_seen, len(first.rejected), second.tags_seen, len(second.rejected))


def _part(written: RandomRegistry, repositories: list) -> RandomRegistry:
    names = {repo.full_name for repo in repositories}
    return RandomRegistry(repositories,
                          {name: list(tags) for name, tags in written.tag_names.items()
                           if name in names},
                          {name: list(digests) for name, digests in written.digests.items()
                           if name in names})


def writer(written: RandomRegistry, seed: int) -> RandomRegistry:
    """Go on changing those repositories (tags the backfill may have carried already)."""
    return change_random_registry(PreOCIModel(), written, seed, _no_tick, steps=12)


def reader(repositories: list, rounds: int) -> int:
    """Ask the pre-OCI model's seed reads over and over; how many answers it gave."""
    model, answers = PreOCIModel(), 0
    for _ in range(rounds):
        for repo in repositories:
            tag = model.get_most_recent_tag(repo)
            if tag is not None:
                answers += model.get_manifest_for_tag(tag) is not None
            answers += len(model.get_legacy_images(repo))
    return answers


def test_the_pre_oci_model_keeps_working_during_a_backfill_and_one_more_run_catches_up(
        monkeypatch):
    with migrated_scratch_database() as database:
        pre = PreOCIModel()
        written = write_random_registry(pre, 11, _no_tick, repositories=4, steps=15)
        repos = written.repositories
        halves = [_part(written, repos[:2]), _part(written, repos[2:])]
        results = [result.value for result in run_in_processes(
            _dispatch, database.scratch_uri,
            [("backfill", 3), ("write", halves[0], 21), ("write", halves[1], 22),
             ("read", repos, 5)], timeout_s=300)]
        assert results[0][1] == 0 and results[3] > 0
        for changed in results[1:3]:
            for repo in changed.repositories:
                written.tag_names[repo.full_name] = sorted(
                    set(written.tag_names[repo.full_name]) | set(changed.tag_names[repo.full_name]))
                written.digests[repo.full_name] = sorted(
                    set(written.digests[repo.full_name]) | set(changed.digests[repo.full_name]))
        final = clock.now_ts() + 1
        monkeypatch.setattr(clock, "now_ts", lambda: final)
        monkeypatch.setattr(clock, "now_ms", lambda: final * 1000)
        caught_up = backfill_to_oci()
        assert caught_up.rejected == ()
        assert not backfill_to_oci().changed
        assert_same_answers(pre, OCIModel(), written)
        assert tag_view(OCIModel().get_most_recent_tag(repos[0])) == \
            tag_view(pre.get_most_recent_tag(repos[0]))


def _dispatch(role: str, *args):
    """One worker's part, by name (run_in_processes calls one function for all)."""
    if role == "backfill":
        return backfiller(*args)
    if role == "write":
        return writer(*args)
    return reader(*args)
