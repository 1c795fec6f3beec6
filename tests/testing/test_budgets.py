"""Budgets are read from the interface's docstrings, and the conformance suite checks each."""
import ast
from pathlib import Path

import pytest

from registry_model.testing.budgets import (
    BudgetFormatError,
    budget,
    budget_per,
    budgeted_methods,
    documented_budget,
    parse_budget,
)

CONFORMANCE = Path(__file__).resolve().parent.parent / "conformance"


def _budget_calls() -> list:
    """``(function, method, variant or unit, where)`` of every budget call of the suite."""
    calls = []
    for path in sorted(CONFORMANCE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("budget", "budget_per")):
                args = [arg.value for arg in node.args if isinstance(arg, ast.Constant)]
                assert len(args) == len(node.args), (
                    "%s:%d: name budgets with literals" % (path.name, node.lineno))
                calls.append((node.func.id, args[0], args[1] if len(args) > 1 else None,
                              "%s:%d" % (path.name, node.lineno)))
    return calls


@pytest.mark.parametrize("method", budgeted_methods())
def test_every_abstract_method_states_a_readable_budget(method):
    stated = documented_budget(method)
    assert stated.statements > 0 or stated.per or stated.variants


def test_every_budget_named_in_the_conformance_suite_is_documented():
    calls = _budget_calls()
    assert calls
    unknown = []
    for function, method, qualifier, where in calls:
        try:
            (budget if function == "budget" else budget_per)(method, qualifier)
        except KeyError as error:
            unknown.append("%s: %s" % (where, error))
    assert unknown == []


def test_every_documented_budget_is_checked_by_the_conformance_suite():
    named = {(method, qualifier) for _, method, qualifier, _ in _budget_calls()}
    documented = set()
    for method in budgeted_methods():
        stated = documented_budget(method)
        if stated.statements or not stated.per:
            documented.add((method, None))
        documented.update((method, name) for name in list(stated.variants) + list(stated.per))
    assert sorted(documented - named, key=str) == []


def test_a_budget_is_its_first_number_and_variants_are_named_by_their_phrase():
    doc = "Does things. Budget: 1 statement, 2 with parents, 0 for an empty list. More text."
    parsed = parse_budget("m", doc)
    assert (parsed.statements, parsed.variants, parsed.per) == (
        1, {"with parents": 2, "for an empty list": 0}, {})


def test_remarks_in_parentheses_are_ignored_and_costs_per_unit_read():
    doc = ("Budget: 1 statement, plus 2 statements (to plan, i.e. read), 6 per batch of tags "
           "and 3 per batch of images (one after the commit). A phase costs 1.")
    parsed = parse_budget("m", doc)
    assert (parsed.statements, parsed.per) == (3, {"batch of tags": 6, "batch of images": 3})


def test_a_budget_may_extend_another_method_s():
    parsed = parse_budget("purge", "Budget: as gc, plus 2 statements and 2 per batch of uploads.",
                          resolve=lambda name: parse_budget(name, "Budget: 3 statements, "
                                                            "1 per batch of tags."))
    assert (parsed.statements, parsed.per) == (5, {"batch of tags": 1, "batch of uploads": 2})


@pytest.mark.parametrize("doc", ["No budget here.", "Budget: some statements.",
                                 "Budget: 1 statement, 2 statements.", "Budget: 1 statement",
                                 "Budget: 1 statement, whatever the size."])
def test_an_unreadable_budget_raises(doc):
    with pytest.raises(BudgetFormatError):
        parse_budget("m", doc)


def test_an_unknown_method_variant_or_unit_raises():
    with pytest.raises(KeyError):
        budget("no_such_method")
    with pytest.raises(KeyError):
        budget("get_legacy_image", "with children")
    with pytest.raises(KeyError):
        budget_per("garbage_collect_repository", "batch of teapots")
    assert budget("get_legacy_image", "with parents") == 2
