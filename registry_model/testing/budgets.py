"""The statement budgets of the interface, read from the docstrings that state them.

Each abstract method of :class:`registry_model.interface.RegistryDataInterface` ends its
docstring's promise with one budget sentence; tests read it here, so code, documentation
and tests cannot drift apart::

    assert counted.count <= budget("get_legacy_image", "with parents")

The sentence starts with ``Budget:`` and ends at the first period outside parentheses;
parenthesised remarks are for the reader and ignored. Between them, clauses separated
by ``,``, ``;`` or ``and``, each one of:

- ``N statement(s)``: the statements of a plain call (the first clause, or ``plus N
  statements`` added to what ``as`` gave);
- ``N statement(s) per UNIT`` or ``[plus] N per UNIT``: N more per UNIT (``batch of tags``,
  ``100 files in the store``); a budget may be only that;
- ``N with ...`` or ``N for ...``: a variant, the statements of the call so described
  (``2 with parents``, ``0 for an empty list``), named by that phrase;
- ``as METHOD``: everything METHOD's budget says, then the clauses that follow add to it.

Anything else raises :class:`BudgetFormatError`; an unknown method, variant or unit
raises KeyError.
"""
import re
from typing import NamedTuple, Optional

_SENTENCE = re.compile(r"Budget:\s*(.*)")
_REMARK = re.compile(r"\([^()]*\)")
_CLAUSE_SPLIT = re.compile(r"\s*(?:,|;|\band\b)\s*")
_INHERIT = re.compile(r"^as (\w+)$")
_PER_STATEMENTS = re.compile(r"^(\d+) statements? per (.+)$")
_STATEMENTS = re.compile(r"^(\d+) statements?$")
_PER = re.compile(r"^(\d+) per (.+)$")
_VARIANT = re.compile(r"^(\d+) ((?:with|for) .+)$")


class BudgetFormatError(ValueError):
    """A docstring has no budget sentence, or one this module cannot read."""


class Budget(NamedTuple):
    """A method's budget: ``statements`` of a plain call, ``variants`` and ``per`` unit costs.

    ``variants`` maps a phrase (``"with parents"``) to the statements of that kind of call;
    ``per`` maps a unit (``"batch of tags"``) to the statements each one adds.
    """

    method: str
    statements: int
    variants: dict
    per: dict


def _sentence(method: str, doc: Optional[str]) -> str:
    """The budget sentence of a docstring, remarks removed, without ``Budget:``."""
    match = _SENTENCE.search(" ".join((doc or "").split()))
    if match is None:
        raise BudgetFormatError("%s: no 'Budget:' sentence in its docstring" % method)
    text, depth = match.group(1), 0
    for index, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "." and depth == 0:
            text = text[:index]
            break
    else:
        raise BudgetFormatError("%s: the budget sentence has no final period" % method)
    while _REMARK.search(text):
        text = _REMARK.sub("", text)
    return " ".join(text.split())


def parse_budget(method: str, doc: Optional[str], resolve=None) -> Budget:
    """Read the budget sentence of ``doc`` (the docstring of ``method``).

    ``resolve(name)`` gives another method's Budget for an ``as`` clause (default:
    :func:`documented_budget`).
    """
    resolve = resolve or documented_budget
    statements: Optional[int] = None
    variants: dict = {}
    per: dict = {}
    for clause in filter(None, _CLAUSE_SPLIT.split(_sentence(method, doc))):
        added = clause.startswith("plus ")
        clause = clause[len("plus "):] if added else clause
        if match := _INHERIT.match(clause):
            base = resolve(match.group(1))
            statements, variants, per = base.statements, dict(base.variants), dict(base.per)
        elif match := _PER_STATEMENTS.match(clause) or _PER.match(clause):
            per[match.group(2)] = per.get(match.group(2), 0) + int(match.group(1))
        elif match := _STATEMENTS.match(clause):
            if statements is not None and not added:
                raise BudgetFormatError("%s: two plain budgets in %r" % (method, clause))
            statements = (statements or 0) + int(match.group(1))
        elif match := _VARIANT.match(clause):
            variants[match.group(2)] = int(match.group(1))
        else:
            raise BudgetFormatError("%s: cannot read the budget clause %r" % (method, clause))
    if statements is None and not per:
        raise BudgetFormatError("%s: the budget names no statements" % method)
    return Budget(method, statements or 0, variants, per)


def budgeted_methods() -> list:
    """The names of every abstract method of RegistryDataInterface, sorted."""
    from registry_model.interface import RegistryDataInterface

    return sorted(RegistryDataInterface.__abstractmethods__)


def documented_budget(method: str) -> Budget:
    """The Budget stated in the docstring of that abstract method; KeyError if none such."""
    from registry_model.interface import RegistryDataInterface

    if method not in RegistryDataInterface.__abstractmethods__:
        raise KeyError("RegistryDataInterface has no abstract method %r" % method)
    return parse_budget(method, getattr(RegistryDataInterface, method).__doc__)


def budget(method: str, variant: Optional[str] = None) -> int:
    """The statements ``method`` may send, or those of the call ``variant`` describes."""
    stated = documented_budget(method)
    if variant is None:
        return stated.statements
    if variant not in stated.variants:
        raise KeyError("%s states no budget %r (it states %s)"
                       % (method, variant, sorted(stated.variants) or "none"))
    return stated.variants[variant]


def budget_per(method: str, unit: str) -> int:
    """The statements each ``unit`` adds to ``method``'s budget (``"batch of tags"``)."""
    stated = documented_budget(method)
    if unit not in stated.per:
        raise KeyError("%s states no cost per %r (it states %s)"
                       % (method, unit, sorted(stated.per) or "none"))
    return stated.per[unit]
