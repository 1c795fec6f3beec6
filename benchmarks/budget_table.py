"""Print the SQL statement count of every interface method next to its budget.

The cases and the repositories they run on are those of
``tests/conformance/test_query_budgets.py`` (one tag; 200 tag rows over a 50-deep image chain
with 30 labels, built through the interface), in a scratch
database on the server named by ``--db`` (a temporary SQLite file without it) that is
dropped afterwards::

    python benchmarks/budget_table.py
    python benchmarks/budget_table.py --db postgresql://postgres@127.0.0.1:5432/rm_budget
    python benchmarks/budget_table.py --db mysql://root@127.0.0.1:3306/rm_budget

Each call's result is checked as the test checks it; the exit status is 1 when a count
is over its budget or a result is wrong.
"""
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Optional

import click

from registry_model import registry_model
from registry_model.database import backend_name, configure
from registry_model.migration import upgrade
from registry_model.testing.databases import scratch_database
from registry_model.testing.implementations import IMPLEMENTATIONS

BUDGET_TESTS = (Path(__file__).resolve().parent.parent / "tests" / "conformance"
                / "test_query_budgets.py")


def load_budget_cases() -> ModuleType:
    """The budget test module, loaded from its file (``tests`` is not an importable package)."""
    spec = importlib.util.spec_from_file_location("test_query_budgets", BUDGET_TESTS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure_all(budgets: ModuleType, database) -> dict:
    """``{(case name, size name): (statement count, result right?)}``, all writes rolled back."""
    measured = {}
    for size in budgets.SIZES:
        with database.atomic() as outer:
            builder = IMPLEMENTATIONS[0].builder_class(registry_model)
            scenario = budgets.build_scenario(registry_model, builder, size)
            for case in budgets.CASES:
                with database.atomic() as savepoint:
                    result, statements = budgets.measure(registry_model, scenario, case)
                    try:
                        case.check(registry_model, scenario, result)
                        right = True
                    except AssertionError:
                        right = False
                    savepoint.rollback()
                measured[case.name, size.name] = (len(statements), right)
            outer.rollback()
    return measured


def format_table(budgets: ModuleType, measured: dict, backend: str) -> tuple:
    """The table's lines and whether every count kept its budget with a right result."""
    sizes = budgets.SIZES
    headers = ["method", "budget"] + [size.name for size in sizes]
    rows, ok = [], True
    for case in budgets.CASES:
        cells = [case.name, str(case.budget)]
        for size in sizes:
            count, right = measured[case.name, size.name]
            flag = "" if right else " WRONG RESULT"
            flag += " OVER BUDGET" if count > case.budget else ""
            ok = ok and not flag
            cells.append("%d%s" % (count, flag))
        rows.append(cells)
    widths = [max(len(row[i]) for row in [headers] + rows) for i in range(len(headers))]

    def line(cells):
        return "  ".join(cell.ljust(width) if i == 0 else cell.rjust(width)
                         for i, (cell, width) in enumerate(zip(cells, widths, strict=True)))

    lines = ["backend: %s" % backend, line(headers), "  ".join("-" * w for w in widths)]
    return lines + [line(row) for row in rows], ok


@click.command()
@click.option("--db", "base_uri", default=None, metavar="URI",
              help="A database on the server to measure (a scratch database is created "
                   "beside it); a temporary SQLite file when omitted.")
def main(base_uri: Optional[str]) -> None:
    """Print method, budget and statements sent on each repository size."""
    budgets = load_budget_cases()
    with scratch_database(base_uri) as uri:
        database = configure(uri)
        try:
            upgrade(database)
            measured = measure_all(budgets, database)
            backend = backend_name(database)
        finally:
            database.close()
    lines, ok = format_table(budgets, measured, backend)
    click.echo("\n".join(lines))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
