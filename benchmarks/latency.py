"""Time every interface method on a filled database, next to the raw SQL that answers it.

Run it on a database filled by ``benchmarks/fill.py``::

    python benchmarks/latency.py --db postgresql://postgres@127.0.0.1:5432/rm_bench_100 \\
        --json benchmarks/results/postgresql-100.json

Given several ``--db`` (and as many ``--json``), it times each case on each database in turn
(1% then 100%, then the other way round for the next case), so that the load of a shared
machine falls on both alike and the growth between them is the data's, not the neighbours'.
Each database is first read through once (``--no-warm`` skips it), so that a 100% fill is
timed from memory like a 1% one and not from whatever the disk cache still holds.

For each case of :mod:`cases` and each subject repository (``small`` and ``largest``, the
same at every scale), it warms the caches, then times the interface call and its raw
statement(s) alternately, ``--repeat`` times at most (fewer for slow calls, within
``--budget`` seconds a side), and prints median and p99 microseconds, their ratio, the
statements the interface sent (``registry_model.testing.queries.count_statements``) and how
many the raw version sent. Read cases check that both return the same number of rows.
Write cases run in a transaction that is rolled back (raw: n/a); their time includes the
savepoint the method's own transaction becomes, not a commit. Only the public interface is
called, so the harness keeps working whatever the implementation does inside.
"""
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

import click

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cases_oci  # noqa: E402
from cases import GLOBAL_WRITES, READS, WRITES, Context  # noqa: E402
from shape import DEAD_TAG, SUBJECT_TAG, SUBJECTS  # noqa: E402

from registry_model import oci_model, registry_model  # noqa: E402
from registry_model.blobstore import InMemoryBlobStore  # noqa: E402
from registry_model.database import backend_name, configure, db  # noqa: E402
from registry_model.manifests import parse_manifest_from_bytes  # noqa: E402
from registry_model.testing.queries import count_statements  # noqa: E402

WARMUP = 5


class RawConnection:
    """The driver's own connection to the database of ``uri``, in autocommit like peewee's."""

    def __init__(self, uri: str) -> None:
        parsed = urlparse(uri)
        self.backend = {"sqlite": "sqlite", "postgresql": "postgresql", "postgres": "postgresql",
                        "mysql": "mysql"}[parsed.scheme.split("+")[0]]
        if self.backend == "sqlite":
            import sqlite3
            self.connection = sqlite3.connect(uri[len("sqlite:///"):], isolation_level=None)
        elif self.backend == "postgresql":
            import psycopg2
            self.connection = psycopg2.connect(
                host=parsed.hostname, port=parsed.port or 5432, user=parsed.username,
                password=unquote(parsed.password) if parsed.password else None,
                dbname=parsed.path.lstrip("/"))
            self.connection.autocommit = True
        else:
            import pymysql
            self.connection = pymysql.connect(
                host=parsed.hostname, port=parsed.port or 3306, user=parsed.username,
                password=unquote(parsed.password or ""), database=parsed.path.lstrip("/"),
                autocommit=True, charset="utf8mb4")
        self.cursor = _Cursor(self.connection.cursor(), self.backend)

    def query(self, sql: str, *params) -> list:
        """Rows of one statement (``%s`` placeholders on every backend)."""
        self.cursor.execute(sql, params)
        return self.cursor.fetchall()


class _Cursor:
    """A DB-API cursor that takes ``%s`` placeholders on SQLite too; ``backend`` names it."""

    def __init__(self, cursor, backend: str) -> None:
        self.cursor, self.backend = cursor, backend
        self.qmark = backend == "sqlite"
        self.statements = 0

    def execute(self, sql: str, params: tuple) -> None:
        self.statements += 1
        self.cursor.execute(sql.replace("%s", "?") if self.qmark else sql, params)

    def fetchall(self) -> list:
        return self.cursor.fetchall()


def build_context(raw: RawConnection, subject, now: int) -> Context:
    """Find, through the interface (and a few raw look-ups), what the cases need."""
    m = registry_model
    repository = m.lookup_repository(subject.namespace, subject.name)
    if repository is None:
        raise click.ClickException("no %s/%s: fill the database with benchmarks/fill.py"
                                   % (subject.namespace, subject.name))
    tag = m.get_repo_tag(repository, SUBJECT_TAG)
    manifest = m.get_manifest_for_tag(tag)
    leaf = m.get_legacy_image(repository, tag.docker_image_id, include_parents=True)
    other = next(t for t in m.lookup_active_repository_tags(repository, limit=5)
                 if t.name != SUBJECT_TAG)
    labels = m.list_manifest_labels(manifest)
    dead_digest = raw.query("SELECT m.digest FROM tag_manifest m JOIN repository_tag t ON "
                            "t.id = m.tag_id WHERE t.repository_id = %s AND t.name = %s",
                            repository.id, DEAD_TAG)[0][0]
    upload_id = raw.query("SELECT uuid FROM blob_upload WHERE repository_id = %s ORDER BY id",
                          repository.id)[0][0]
    foreign_ns, foreign_name, foreign_digest = raw.query(
        "SELECT n.name, r.name, s.content_checksum FROM image i JOIN repository r ON "
        "r.id = i.repository_id JOIN namespace n ON n.id = r.namespace_id JOIN image_storage s "
        "ON s.id = i.storage_id WHERE n.name NOT LIKE %s AND r.state = 0 "
        "ORDER BY i.id DESC LIMIT 1", "bench-%")[0]
    foreign = m.get_repo_blob_by_digest(m.lookup_repository(foreign_ns, foreign_name),
                                        foreign_digest)
    links = [row[0] for row in raw.query(
        "SELECT s.content_checksum FROM uploaded_blob u JOIN image_storage s ON "
        "s.id = u.blob_id WHERE u.repository_id = %s", repository.id)]
    orphan_store = InMemoryBlobStore()
    for index in range(100):
        orphan_store.put(b"orphan file %d" % index)
    last_id = raw.query("SELECT MAX(id) FROM repository")[0][0]
    root = leaf.parents[-1] if leaf.parents else leaf
    return Context(
        size_class=subject.size_class, model=m, repository=repository, tag=tag,
        manifest=manifest, leaf=leaf, other_manifest=m.get_manifest_for_tag(other),
        label_uuid=labels[len(labels) // 2].uuid, dead_tag=DEAD_TAG, dead_digest=dead_digest,
        upload_id=upload_id, foreign_blob=foreign, link_digests=links, now=now,
        extra={"top_digest": leaf.blob_digest, "base_digest": root.blob_digest,
               "expiry": datetime.now(UTC) + timedelta(days=1), "store": InMemoryBlobStore(),
               "orphan_store": orphan_store, "last_repositories_after": max(0, last_id - 100)})


def build_oci_context(raw: RawConnection, subject, now: int) -> Context:
    """The same, for the OCI model: ``latest``'s manifest, an index child, a referrer."""
    m = oci_model
    repository = m.lookup_repository(subject.namespace, subject.name)
    tag = m.get_repo_tag(repository, SUBJECT_TAG)
    manifest = m.get_manifest_for_tag(tag)
    if manifest is None:
        raise click.ClickException("no OCI rows in %s/%s: fill the database again with "
                                   "benchmarks/fill.py" % (subject.namespace, subject.name))
    leaf = m.get_legacy_image(repository, tag.docker_image_id, include_parents=True)
    other = next(t for t in m.lookup_active_repository_tags(repository, limit=20)
                 if t.manifest_digest != manifest.digest and t.docker_image_id is not None)
    labels = m.list_manifest_labels(manifest)
    dead_digest = raw.query("SELECT m.digest FROM oci_manifest m JOIN oci_tag t ON "
                            "t.manifest_id = m.id WHERE t.repository_id = %s AND t.name = %s",
                            repository.id, DEAD_TAG)[0][0]
    # A child no tag points at when there is one (found through its list alone).
    child_digest = raw.query(
        "SELECT c.digest FROM oci_manifest_child mc JOIN oci_manifest c ON "
        "c.id = mc.child_manifest_id WHERE mc.repository_id = %s ORDER BY CASE WHEN EXISTS "
        "(SELECT 1 FROM oci_tag t WHERE t.manifest_id = c.id) THEN 1 ELSE 0 END, c.id LIMIT 1",
        repository.id)[0][0]
    referrer_digest = raw.query("SELECT digest FROM oci_manifest WHERE repository_id = %s AND "
                                "subject = %s ORDER BY id LIMIT 1",
                                repository.id, manifest.digest)[0][0]
    return Context(
        size_class=subject.size_class, model=m, repository=repository, tag=tag,
        manifest=manifest, leaf=leaf, other_manifest=m.get_manifest_for_tag(other),
        label_uuid=labels[len(labels) // 2].uuid, dead_tag=DEAD_TAG, dead_digest=dead_digest,
        upload_id=None, foreign_blob=None, link_digests=[], now=now,
        extra={"manifest_digest": manifest.digest, "child_digest": child_digest,
               "referrer_digest": referrer_digest, "dead_digest": dead_digest,
               "artifact_type": "application/spdx+json",
               "latest_parsed": parse_manifest_from_bytes(manifest.manifest_bytes,
                                                          manifest.media_type)})


# Per model: its cases (reads, writes, database-wide writes) and how to find their values.
MODELS = {"pre-oci": (READS, WRITES, GLOBAL_WRITES, build_context),
          "oci": (cases_oci.READS, cases_oci.WRITES, [], build_oci_context)}


def _p99(samples: list) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


def _invoke(case, ctx: Context, prepared=None):
    if case.prepare is None:
        return case.call(ctx, ctx.model)
    return case.call(ctx, ctx.model, prepared)


def _repeats(seconds_each: float, repeat: int, budget: float) -> int:
    return max(5, min(repeat, int(budget / max(seconds_each, 1e-6))))


def time_read(case, ctx: Context, raw: RawConnection, repeat: int, budget: float) -> dict:
    """Interface and raw, alternately; medians, p99s, statements and the row check."""
    started = time.perf_counter()
    for _ in range(WARMUP):
        _invoke(case, ctx)
        case.raw(raw.cursor, ctx)
    count = _repeats((time.perf_counter() - started) / WARMUP / 2, repeat, budget)
    ours, theirs = [], []
    for index in range(count):
        for side in ((0, 1) if index % 2 == 0 else (1, 0)):
            begin = time.perf_counter_ns()
            if side == 0:
                result = _invoke(case, ctx)
                ours.append(time.perf_counter_ns() - begin)
            else:
                rows = case.raw(raw.cursor, ctx)
                theirs.append(time.perf_counter_ns() - begin)
    with count_statements() as counted:
        result = _invoke(case, ctx)
    raw.cursor.statements = 0
    rows = case.raw(raw.cursor, ctx)
    got, expected = case.count(result), case.raw_count(rows)
    if got != expected:
        raise click.ClickException("%s on %s: the interface returned %d rows, raw SQL %d"
                                   % (case.name, ctx.size_class, got, expected))
    return _summary(ours, theirs, counted.count, raw.cursor.statements, got)


def time_write(case, ctx: Context, repeat: int, budget: float) -> dict:
    """The call inside a transaction rolled back each time (after an untimed ``prepare``)."""
    def once(counting: bool = False) -> tuple:
        with db.atomic() as transaction:
            prepared = case.prepare(ctx) if case.prepare is not None else None
            begin = time.perf_counter_ns()
            if counting:
                with count_statements() as counted:
                    _invoke(case, ctx, prepared)
                statements = counted.count
            else:
                _invoke(case, ctx, prepared)
                statements = None
            elapsed = time.perf_counter_ns() - begin
            transaction.rollback()
        return elapsed, statements

    warm = [once()[0] for _ in range(2)]
    count = _repeats(min(warm) / 1e9, min(repeat, 100), budget)
    samples = [once()[0] for _ in range(count)]
    return _summary(samples, None, once(counting=True)[1], None, None)


def _summary(ours: list, theirs, statements, raw_statements, rows) -> dict:
    median = statistics.median(ours) / 1000.0
    result = {"median_us": round(median, 1), "p99_us": round(_p99(ours) / 1000.0, 1),
              "raw_median_us": None, "raw_p99_us": None, "ratio": None,
              "statements": statements, "raw_statements": raw_statements, "rows": rows,
              "repeats": len(ours)}
    if theirs:
        raw_median = statistics.median(theirs) / 1000.0
        result.update(raw_median_us=round(raw_median, 1),
                      raw_p99_us=round(_p99(theirs) / 1000.0, 1),
                      ratio=round(median / raw_median, 2))
    return result


def machine() -> dict:
    """What the numbers were measured on (the machine is shared: the load average says so)."""
    checkout = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=checkout,
                                capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {"host": socket.gethostname(), "cpus": os.cpu_count(),
            "load_average": [round(v, 2) for v in os.getloadavg()],
            "python": platform.python_version(), "commit": commit,
            "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def format_table(records: list) -> str:
    """The records as an aligned text table."""
    headers = ["method", "repo", "rows", "stmts", "raw", "median us", "p99 us", "raw median",
               "raw p99", "ratio"]
    lines = []
    for r in records:
        lines.append([r["method"], r["size_class"], _cell(r["rows"]), _cell(r["statements"]),
                      _cell(r["raw_statements"]), _cell(r["median_us"]), _cell(r["p99_us"]),
                      _cell(r["raw_median_us"]), _cell(r["raw_p99_us"]), _cell(r["ratio"])])
    widths = [max(len(row[i]) for row in [headers] + lines) for i in range(len(headers))]
    text = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                      for i, (c, w) in enumerate(zip(row, widths, strict=True)))
            for row in [headers] + lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)


def _cell(value) -> str:
    return "n/a" if value is None else str(value)


# Tables the write cases touch: their rolled-back rows leave dead tuples on PostgreSQL.
WRITTEN_TABLES = ("repository", "repository_tag", "tag_manifest", "label", "tag_manifest_label",
                  "image", "image_storage", "image_storage_placement", "blob_upload",
                  "uploaded_blob", "oci_manifest", "oci_manifest_blob", "oci_tag",
                  "oci_manifest_label")


class Target:
    """One database under test: its peewee binding, raw connection, fill record and results."""

    def __init__(self, uri: str, model: str = "pre-oci") -> None:
        self.uri, self.model = uri, model
        self.database = configure(uri)
        self.raw = RawConnection(uri)
        self.fill = {name: json.loads(value) for name, value in
                     self.raw.query("SELECT name, value FROM benchmark_fill")}
        self.backend = backend_name(self.database)
        self.contexts: dict = {}
        self.records: list = []
        self.machine = machine()

    def bind(self) -> None:
        """Point the library at this database (each target keeps its own connection).

        The library's caches (lookup tables) are per database object, and every case warms
        up before it is timed, so nothing needs reloading here.
        """
        db.initialize(self.database)

    def warm(self) -> None:
        """Read the whole database once, so that the operating system's cache holds it.

        A write with random keys (a new blob's digest and uuid) lands on index pages no
        warm-up call touched; on a fill larger than the machine keeps cached, each such
        page is a disk read, which is the machine's memory and not the method's growth.
        SQLite: the database file and its WAL, read through. PostgreSQL: ``pg_prewarm``
        in ``read`` mode over the tables and indexes (the extension is created in the
        benchmark database when missing). MySQL: not warmed.
        """
        started = time.perf_counter()
        if self.backend == "sqlite":
            path = Path(self.uri[len("sqlite:///"):])
            warmed = 0
            for name in (path, path.with_name(path.name + "-wal")):
                if name.exists():
                    with open(name, "rb") as handle:
                        while chunk := handle.read(1 << 20):
                            warmed += len(chunk)
            unit = "bytes"
        elif self.backend == "postgresql":
            import psycopg2
            try:
                self.raw.cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm", ())
            except psycopg2.Error as exc:  # not allowed to: time it as it is, and say so
                click.echo("not warmed (pg_prewarm: %s)" % str(exc).strip(), err=True)
                return
            warmed = self.raw.query(
                "SELECT COALESCE(SUM(pg_prewarm(c.oid, 'read')), 0) FROM pg_class c "
                "WHERE c.relkind IN ('r', 'i', 't') "
                "AND c.relnamespace = 'public'::regnamespace")[0][0]
            unit = "blocks"
        else:
            return
        self.machine["warmed"] = {unit: int(warmed),
                                  "seconds": round(time.perf_counter() - started, 1)}
        click.echo("warmed %s: %d %s in %.1fs" % (self.backend, warmed, unit,
                                                   time.perf_counter() - started), err=True)

    def vacuum(self) -> None:
        """Clear the dead rows earlier rolled-back writes left (PostgreSQL; a no-op elsewhere)."""
        if self.backend == "postgresql":
            self.raw.cursor.execute("VACUUM " + ", ".join(WRITTEN_TABLES), ())

    def add(self, case, size_class: str, measured: dict) -> None:
        """Keep one measurement and show progress on stderr."""
        self.records.append(dict({"method": case.name, "size_class": size_class,
                                  "scope": case.scope, "scale": self.fill["scale"],
                                  "backend": self.backend, "model": self.model}, **measured))
        click.echo("%-8s %-6g %-48s %-8s %10s us  raw %s us"
                   % (self.backend, self.fill["scale"], case.name, size_class,
                      measured["median_us"], measured["raw_median_us"]), err=True)

    def report(self, json_path) -> None:
        """Print the table and write the JSON file."""
        self.machine["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
        fill = self.fill
        click.echo("\nbackend %s, scale %g (%s), fill %ss, %.0f MiB; load %s -> %s"
                   % (self.backend, fill["scale"], fill["counts"], fill["fill_seconds"],
                      fill["database_bytes"] / 1048576.0, self.machine["load_average"],
                      self.machine["load_average_after"]))
        click.echo(format_table(self.records))
        if json_path:
            Path(json_path).parent.mkdir(parents=True, exist_ok=True)
            Path(json_path).write_text(json.dumps(
                {"backend": self.backend, "model": self.model, "scale": fill["scale"],
                 "fill": fill,
                 "machine": self.machine, "results": self.records}, indent=1) + "\n")


@click.command()
@click.option("--db", "uris", required=True, multiple=True, metavar="URI",
              help="A database filled by fill.py; give several to time them case by case in "
                   "turn, so they see the same load (compare 1%% and 100%% that way).")
@click.option("--json", "json_paths", multiple=True, type=click.Path(dir_okay=False),
              help="Where to write each database's results, in the order of --db.")
@click.option("--repeat", type=int, default=200, show_default=True,
              help="Timed calls per case and side, at most.")
@click.option("--budget", type=float, default=2.0, show_default=True,
              help="Seconds a side may take per case; slow calls get fewer repeats.")
@click.option("--only", default=None, help="Only the cases whose name contains this.")
@click.option("--model", "model_name", type=click.Choice(sorted(MODELS)), default="pre-oci",
              show_default=True, help="Time registry_model (pre-OCI) or oci_model.")
@click.option("--warm/--no-warm", default=True, show_default=True,
              help="Read each database through once before timing (see Target.warm).")
def main(uris, json_paths, repeat: int, budget: float, only, model_name: str,
         warm: bool) -> None:
    """Print (and optionally save) the latency table of every interface method."""
    if json_paths and len(json_paths) != len(uris):
        raise click.UsageError("give one --json per --db, or none")
    reads, writes, global_writes, context_of = MODELS[model_name]
    targets = [Target(uri, model_name) for uri in uris]
    now = int(time.time())
    # Databases filled before the subjects were recorded hold all of them.
    subjects = [subject for subject in SUBJECTS if all(
        subject.size_class in t.fill.get("subjects", [s.size_class for s in SUBJECTS])
        for t in targets)]
    for target in targets:
        target.bind()
        target.vacuum()
        if warm:
            target.warm()
        for subject in subjects:
            target.contexts[subject.size_class] = context_of(target.raw, subject, now)
    flip = False

    def each_target(measure) -> None:
        nonlocal flip
        flip = not flip
        for target in (targets if flip else list(reversed(targets))):
            target.bind()
            measure(target)

    for subject in subjects:
        for case in reads + writes:
            if only and only not in case.name:
                continue
            each_target(lambda t, case=case, subject=subject: t.add(
                case, subject.size_class,
                time_read(case, t.contexts[subject.size_class], t.raw, repeat, budget)
                if case.raw is not None else
                time_write(case, t.contexts[subject.size_class], repeat, budget)))
    for case in global_writes:
        if not only or only in case.name:
            each_target(lambda t, case=case: t.add(
                case, "database", time_write(case, t.contexts[subjects[-1].size_class],
                                             min(repeat, 10), budget)))
    for index, target in enumerate(targets):
        target.vacuum()
        target.report(json_paths[index] if json_paths else None)
        target.database.close()
        target.raw.connection.close()


if __name__ == "__main__":
    main()
