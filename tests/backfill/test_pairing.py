"""Pairing pre-OCI tag rows with OCI rows: what is carried, what ends move, what conflicts."""
from registry_model.backfill.pairing import end_ms, plan_tags
from registry_model.backfill.source import HistoryRow
from registry_model.backfill.target import TargetTag

DIGEST = "sha256:" + "a" * 64


def pre(row_id, start, end=None, name="latest", digest=DIGEST, hidden=False, reversion=False):
    return HistoryRow(row_id, 1, name, start, end, hidden, reversion, digest)


def oci(row_id, start_s, end_s=None, name="latest", digest=DIGEST, hidden=False,
        reversion=False):
    return TargetTag(row_id, 1, name, start_s * 1000, end_ms(end_s), hidden, reversion, digest)


def test_seconds_become_milliseconds():
    assert end_ms(None) is None
    assert end_ms(1_700_000_000) == 1_700_000_000_000


def test_rows_without_an_oci_pair_in_the_batch_are_carried():
    history = [pre(1, 10, 20), pre(2, 20)]
    plan = plan_tags({1, 2}, history, [])
    assert (plan.carry, plan.updates, plan.conflicts) == (history, {}, [])


def test_rows_of_later_batches_wait_for_them():
    plan = plan_tags({1}, [pre(1, 10, 20), pre(2, 20)], [])
    assert [row.id for row in plan.carry] == [1]


def test_paired_rows_are_not_carried_again():
    plan = plan_tags({1, 2}, [pre(1, 10, 20), pre(2, 20)], [oci(7, 10, 20), oci(8, 20)])
    assert (plan.carry, plan.updates, plan.conflicts) == ([], {}, [])


def test_identical_rows_within_one_second_pair_one_to_one_in_id_order():
    history = [pre(1, 10, 10), pre(2, 10, 10), pre(3, 10)]
    plan = plan_tags({1, 2, 3}, history, [oci(7, 10, 10)])
    assert [row.id for row in plan.carry] == [2, 3]


def test_an_end_set_since_the_row_was_carried_is_brought_over():
    plan = plan_tags({2}, [pre(1, 10, 30), pre(2, 30, None)], [oci(7, 10)])
    assert plan.updates == {7: (30_000, False)}
    assert [row.id for row in plan.carry] == [2]


def test_a_different_manifest_start_or_reversion_is_another_row():
    oci_rows = [oci(7, 10, 20, digest="sha256:" + "b" * 64), oci(8, 11, 20),
                oci(10, 10, 20, reversion=True)]
    plan = plan_tags({1}, [pre(1, 10, 20)], oci_rows)
    assert [row.id for row in plan.carry] == [1]


def test_an_alive_row_whose_name_is_alive_in_the_oci_tables_is_a_conflict():
    native = oci(7, 50, digest="sha256:" + "b" * 64)
    plan = plan_tags({1}, [pre(1, 10)], [native])
    assert ([row.id for row in plan.conflicts], plan.carry) == ([1], [])


def test_an_end_lifted_while_another_row_of_the_name_is_alive_is_a_conflict():
    native = oci(8, 50, digest="sha256:" + "b" * 64)
    plan = plan_tags(set(), [pre(1, 10, None)], [oci(7, 10, 40), native])
    assert plan.updates == {}
    assert [row.id for row in plan.conflicts] == [1]


def test_other_names_do_not_conflict():
    plan = plan_tags({1}, [pre(1, 10)], [oci(7, 50, name="other")])
    assert [row.id for row in plan.carry] == [1]


def test_a_row_hidden_since_it_was_carried_is_hidden_in_its_pair():
    plan = plan_tags({1}, [pre(1, 10, hidden=True)], [oci(7, 10)])
    assert (plan.updates, plan.carry, plan.conflicts) == ({7: (None, True)}, [], [])
