"""Print the SQL statement count of every interface method next to its budget, per model.

Two tables, every count measured here (nothing copied from a docstring but the budget):

- the seed methods on each implementation of the conformance suite (PreOCIModel and
  OCIModel), with the cases and repositories of ``tests/conformance/test_query_budgets.py``
  (one tag; 200 tag rows over a 50-deep image chain with 30 labels, built through the
  interface);
- every method of OCIModel but collection, with the cases and worlds of
  ``tests/oci/test_budgets.py`` (1 layer, tag and child; 50 layers, tags and history rows
  and a 10-child index), pushes of an image and of an index included, and the repository,
  blob and upload methods both models share (collection: see "Garbage collection" and
  ``benchmarks/gc_throughput.py``).

It runs in a scratch database on the server named by ``--db`` (a temporary SQLite file
without it) that is dropped afterwards::

    python benchmarks/budget_table.py
    python benchmarks/budget_table.py --db postgresql://postgres@127.0.0.1:5432/rm_budget
    python benchmarks/budget_table.py --db mysql://root@127.0.0.1:3306/rm_budget

Each call's result is checked as the test checks it; the exit status is 1 when a count
is over its budget or a result is wrong.
"""
import importlib.util
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Optional

import click

from registry_model.database import backend_name, configure
from registry_model.migration import upgrade
from registry_model.testing.budgets import budget
from registry_model.testing.databases import scratch_database
from registry_model.testing.implementations import IMPLEMENTATIONS

CHECKOUT = Path(__file__).resolve().parent.parent
BUDGET_TESTS = CHECKOUT / "tests" / "conformance" / "test_query_budgets.py"
sys.path.insert(0, str(CHECKOUT))  # tests.oci.test_budgets imports its package

def load_budget_cases() -> ModuleType:
    """The budget test module, loaded from its file (``tests`` is not an importable package)."""
    spec = importlib.util.spec_from_file_location("test_query_budgets", BUDGET_TESTS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure_all(budgets: ModuleType, database) -> dict:
    """``{(case, implementation, size): (statements, right?)}``, all writes rolled back."""
    measured = {}
    for implementation in IMPLEMENTATIONS:
        model = implementation.model_class()
        for size in budgets.SIZES:
            with database.atomic() as outer:
                builder = implementation.builder_class(model)
                scenario = budgets.build_scenario(model, builder, size)
                for case in budgets.CASES:
                    with database.atomic() as savepoint:
                        result, statements = budgets.measure(model, scenario, case)
                        try:
                            case.check(model, scenario, result)
                            right = True
                        except AssertionError:
                            right = False
                        savepoint.rollback()
                    measured[case.name, implementation.name, size.name] = (len(statements),
                                                                           right)
                outer.rollback()
    return measured


def measure_oci(database) -> tuple:
    """``(cases, {(case, world size): (statements, right?)})`` of the OCI wing's methods.

    The reads and writes of ``tests/oci/test_budgets.py`` on its 1- and 50-sized worlds,
    then a push of an image of that many layers and of an index over the world's children
    (1, and 10); each call rolled back.
    """
    from tests.oci import test_budgets as oci

    # name -> (prepare(world), call(world, prepared)); prepared outside the count.
    calls = {name: (None, lambda w, _, call=call: call(w))
             for name, call in dict(oci.READS, **oci.WRITES).items()}
    calls["get_legacy_images_owned_by_tag"] = (
        lambda w: w.model.get_repo_tag(w.ref, "solo"),
        lambda w, tag: w.model.get_legacy_images_owned_by_tag(tag))
    # Repositories, blobs and uploads: written once for both models, counted on this one.
    calls.update(_shared_calls())
    pushes = {
        "create_manifest_and_retarget_tag (image of 1 or 50 layers)": (
            lambda w: oci.image(w.repository, w.store, w.size, "new"),
            lambda w, parsed: w.model.create_manifest_and_retarget_tag(w.ref, parsed, "new",
                                                                       w.store)),
        "create_manifest_and_retarget_tag (index of 1 or 10 children)": (
            lambda w: oci.parse(oci.index_manifest([child.bytes for child in w.children])),
            lambda w, parsed: w.model.create_manifest_and_retarget_tag(w.ref, parsed, "multi",
                                                                       w.store)),
    }
    measured: dict = {}
    for size in (1, 50):
        with database.atomic() as outer:
            world = oci.build_world(size)
            for name, (prepare, call) in dict(calls, **pushes).items():
                with database.atomic() as savepoint:
                    prepared = prepare(world) if prepare is not None else None
                    result, count = oci.measure(
                        lambda w=world, call=call, prepared=prepared: call(w, prepared))
                    measured[name, size] = (count, bool(result))
                    savepoint.rollback()
            outer.rollback()
    return sorted(calls) + sorted(pushes), measured


def _new_upload(w):
    return w.model.create_blob_upload(w.ref, str(uuid.uuid4()), "local", {})


def _shared_calls() -> dict:
    """``name -> (prepare, call)`` of the repository, blob and upload methods."""
    def blob_digest(w):
        return w.parsed.blob_digests[-1]

    return {
        "lookup_repository": (None, lambda w, _: w.model.lookup_repository("budgets", "subject")),
        "get_repository": (None, lambda w, _: w.model.get_repository("budgets", "subject")),
        "list_repositories": (None, lambda w, _: w.model.list_repositories("budgets")),
        "get_namespace": (None, lambda w, _: w.model.get_namespace("budgets")),
        "create_namespace": (None, lambda w, _: w.model.create_namespace("budgets-new")),
        "create_repository": (None, lambda w, _: w.model.create_repository("budgets", "new")),
        "set_namespace_tag_expiration": (
            None, lambda w, _: w.model.set_namespace_tag_expiration("budgets", 3600)),
        "get_repo_blob_by_digest": (
            blob_digest, lambda w, digest: w.model.get_repo_blob_by_digest(w.ref, digest)),
        "create_blob_upload": (None, lambda w, _: _new_upload(w)),
        "lookup_blob_upload": (_new_upload, lambda w, upload: w.model.lookup_blob_upload(
            w.ref, upload.upload_id)),
        "update_blob_upload": (_new_upload, lambda w, upload: w.model.update_blob_upload(
            upload, 10, {"n": 1}, 10, 1, "state")),
        "delete_blob_upload": (_new_upload,
                               lambda w, upload: w.model.delete_blob_upload(upload) or True),
        "commit_blob_upload": (_new_upload, lambda w, upload: w.model.commit_blob_upload(
            upload, "sha256:" + uuid.uuid4().hex * 2, 3600)),
        "mount_blob_into_repository": (
            lambda w: (w.model.get_repo_blob_by_digest(w.ref, blob_digest(w)),
                       w.model.create_repository("budgets", "target")),
            lambda w, prepared: w.model.mount_blob_into_repository(*prepared, 3600)),
        "release_blob_links": (blob_digest, lambda w, digest: w.model.release_blob_links(
            w.ref, [digest]) + 1),
    }


def _budget_of(name: str) -> int:
    if name.startswith("create_manifest_and_retarget_tag ("):
        return budget("create_manifest_and_retarget_tag")
    return budget(name)


def _lines(headers: list, rows: list) -> list:
    widths = [max(len(row[i]) for row in [headers] + rows) for i in range(len(headers))]

    def line(cells):
        return "  ".join(cell.ljust(width) if i == 0 else cell.rjust(width)
                         for i, (cell, width) in enumerate(zip(cells, widths, strict=True)))

    return [line(headers), "  ".join("-" * w for w in widths)] + [line(row) for row in rows]


def _cell(count: int, right: bool, limit: int) -> tuple:
    flag = ("" if right else " WRONG RESULT") + (" OVER BUDGET" if count > limit else "")
    return "%d%s" % (count, flag), not flag


def format_table(budgets: ModuleType, measured: dict, backend: str) -> tuple:
    """The seed table's lines and whether every count kept its budget with a right result."""
    columns = [(entry.name, size.name) for entry in IMPLEMENTATIONS for size in budgets.SIZES]
    headers = ["method", "budget"] + ["%s %s" % column for column in columns]
    rows, ok = [], True
    for case in budgets.CASES:
        cells = [case.name, str(case.budget)]
        for implementation, size in columns:
            cell, fine = _cell(*measured[case.name, implementation, size], case.budget)
            ok = ok and fine
            cells.append(cell)
        rows.append(cells)
    return ["backend: %s; seed methods" % backend] + _lines(headers, rows), ok


def format_oci_table(names: list, measured: dict) -> tuple:
    """The OCI wing's table: method, budget, statements on the 1- and 50-sized worlds."""
    rows, ok = [], True
    for name in names:
        limit = _budget_of(name)
        cells = [name, str(limit)]
        for size in (1, 50):
            cell, fine = _cell(*measured[name, size], limit)
            ok = ok and fine
            cells.append(cell)
        rows.append(cells)
    return ["OCIModel, every method but collection"] + _lines(
        ["method", "budget", "size 1", "size 50"], rows), ok


@click.command()
@click.option("--db", "base_uri", default=None, metavar="URI",
              help="A database on the server to measure (a scratch database is created "
                   "beside it); a temporary SQLite file when omitted.")
def main(base_uri: Optional[str]) -> None:
    """Print method, budget and statements sent on each repository size, per model."""
    budgets = load_budget_cases()
    with scratch_database(base_uri) as uri:
        database = configure(uri)
        try:
            upgrade(database)
            measured = measure_all(budgets, database)
            oci_names, oci_measured = measure_oci(database)
            backend = backend_name(database)
        finally:
            database.close()
    lines, ok = format_table(budgets, measured, backend)
    oci_lines, oci_ok = format_oci_table(oci_names, oci_measured)
    click.echo("\n".join(lines + [""] + oci_lines))
    sys.exit(0 if ok and oci_ok else 1)


if __name__ == "__main__":
    main()
