"""Fill a database with a registry of realistic shape, fast, for the latency benchmark.

Migrates the database named by ``--db`` (which must hold no repository yet), then bulk-loads
the rows of :mod:`shape` at ``--scale`` (1 is 10,000 namespaces, 100,000 repositories,
1,000,000 tag rows, 1,000,000 legacy images, 200,000 labels; 0.01 is a hundredth of that),
and in the same repositories the OCI wing's rows of :mod:`shape_oci` (as many tag rows
again, on about 330,000 OCI image manifests with indexes, referrers and labels), as a
registry holds both during the backfill::

    python benchmarks/fill.py --db postgresql://postgres@127.0.0.1:5432/rm_bench_100 --scale 1
    python benchmarks/fill.py --db sqlite:////tmp/bench_1.db --scale 0.01
    python benchmarks/fill.py --db mysql://root@127.0.0.1:3306/rm_bench_1 --scale 0.01

PostgreSQL loads with COPY, SQLite with executemany in one transaction (synchronous off),
MySQL/MariaDB with multi-row INSERTs. Secondary indexes are dropped during the load and
rebuilt after it (PostgreSQL, SQLite), which also re-checks every unique rule, the alive-tag
rule included; foreign keys are checked after the load by one anti-join per key. Then
sequences are moved past the loaded ids and the statistics refreshed (VACUUM ANALYZE on
PostgreSQL, ANALYZE elsewhere). What was loaded is recorded in the ``benchmark_fill`` table,
which the latency benchmark reads. The same seed gives the same rows.
"""
import csv
import io
import json
import logging
import sys
import time
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parent))

from shape import SUBJECTS, TABLES, Generator  # noqa: E402

from registry_model.database import ALL_MODELS, backend_name, configure  # noqa: E402
from registry_model.migration import upgrade  # noqa: E402

logger = logging.getLogger(__name__)

META_TABLE = "benchmark_fill"
BATCH_ROWS = 20_000
BATCH_BYTES = 32 << 20
BYTES_COLUMN = {"tag_manifest": 3, "oci_manifest": 4}  # tables batched by their bytes


class Loader:
    """Writes batches of rows to one backend; subclasses know how to do it fast."""

    def __init__(self, database) -> None:
        self.database = database
        self.connection = database.connection()
        self.saved_indexes: list = []

    def execute(self, sql: str, params: tuple = ()) -> list:
        """Run one statement on the loading connection; its rows, if any."""
        cursor = self.connection.cursor()
        cursor.execute(sql, params)
        rows = cursor.fetchall() if cursor.description else []
        cursor.close()
        return rows

    def begin(self) -> None:
        """Prepare the connection for loading (checks off, indexes dropped)."""

    def write(self, table: str, columns: tuple, rows: list) -> None:
        """Insert ``rows`` (tuples in ``columns`` order) into ``table``."""
        raise NotImplementedError

    def finish(self) -> None:
        """Rebuild what ``begin`` dropped, fix sequences, commit."""

    def analyze(self) -> None:
        """Refresh the planner's statistics."""
        self.execute("ANALYZE")


class PostgresLoader(Loader):
    """COPY ... FROM STDIN (CSV) with foreign-key triggers off, indexes rebuilt after."""

    def begin(self) -> None:
        self.execute("SET session_replication_role = replica")  # no FK triggers while loading
        self.saved_indexes = self.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = ANY(%s) AND indexname NOT LIKE '%%_pkey'", (list(TABLES),))
        for name, _ in self.saved_indexes:
            self.execute('DROP INDEX "%s"' % name)

    def write(self, table: str, columns: tuple, rows: list) -> None:
        buffer = io.StringIO()
        if table == "oci_manifest":  # bytea in COPY's text form
            rows = [row[:4] + ("\\x" + row[4].hex(),) + row[5:] for row in rows]
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        buffer.seek(0)
        cursor = self.connection.cursor()
        cursor.copy_expert("COPY %s (%s) FROM STDIN WITH (FORMAT csv)"
                           % (table, ", ".join(columns)), buffer)
        cursor.close()

    def finish(self) -> None:
        self.execute("SET session_replication_role = DEFAULT")
        self.execute("SET maintenance_work_mem = '512MB'")
        for _, definition in self.saved_indexes:
            self.execute(definition)
        for table in TABLES:
            self.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                         "(SELECT COALESCE(MAX(id), 0) + 1 FROM " + table + "), false)",
                         (table,))

    def analyze(self) -> None:
        self.execute("VACUUM (ANALYZE)")


class SqliteLoader(Loader):
    """executemany in one transaction, no journal, synchronous off, indexes rebuilt after."""

    def begin(self) -> None:
        for pragma in ("foreign_keys = OFF", "journal_mode = OFF", "synchronous = OFF",
                       "cache_size = -1000000", "temp_store = MEMORY"):
            self.execute("PRAGMA " + pragma)
        self.execute("BEGIN")
        self.saved_indexes = self.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            "AND tbl_name IN (%s)" % ", ".join("?" * len(TABLES)), tuple(TABLES))
        for name, _ in self.saved_indexes:
            self.execute('DROP INDEX "%s"' % name)

    def write(self, table: str, columns: tuple, rows: list) -> None:
        self.connection.executemany("INSERT INTO %s (%s) VALUES (%s)"
                                    % (table, ", ".join(columns), ", ".join("?" * len(columns))),
                                    rows)

    def finish(self) -> None:
        for _, definition in self.saved_indexes:
            self.execute(definition)
        self.execute("COMMIT")
        for pragma in ("journal_mode = WAL", "synchronous = FULL", "foreign_keys = ON"):
            self.execute("PRAGMA " + pragma)


class MysqlLoader(Loader):
    """Multi-row INSERTs (PyMySQL's executemany) with foreign-key and unique checks off."""

    def begin(self) -> None:
        self.execute("SET foreign_key_checks = 0")
        self.execute("SET unique_checks = 0")

    def write(self, table: str, columns: tuple, rows: list) -> None:
        cursor = self.connection.cursor()
        cursor.executemany("INSERT INTO %s (%s) VALUES (%s)"
                           % (table, ", ".join("`%s`" % c for c in columns),  # `key` is reserved
                              ", ".join(["%s"] * len(columns))), rows)
        cursor.close()

    def finish(self) -> None:
        self.execute("SET foreign_key_checks = 1")
        self.execute("SET unique_checks = 1")

    def analyze(self) -> None:
        self.execute("ANALYZE TABLE %s" % ", ".join(TABLES))


LOADERS = {"postgresql": PostgresLoader, "sqlite": SqliteLoader, "mysql": MysqlLoader}


class Sink:
    """Buffers emitted rows per table and hands full batches to the loader."""

    def __init__(self, loader: Loader) -> None:
        self.loader = loader
        self.rows: dict = {table: [] for table in TABLES}
        self.bytes = 0

    def emit(self, table: str, row: tuple) -> None:
        """Queue one row; write the table's batch when it is full."""
        rows = self.rows[table]
        rows.append(row)
        if table in BYTES_COLUMN:
            self.bytes += len(row[BYTES_COLUMN[table]])
            if self.bytes >= BATCH_BYTES:
                self.flush(table)
        elif len(rows) >= BATCH_ROWS:
            self.flush(table)

    def flush(self, table: str | None = None) -> None:
        """Write the queued rows of ``table`` (every table when None)."""
        for name in [table] if table else list(TABLES):
            if self.rows[name]:
                self.loader.write(name, TABLES[name], self.rows[name])
                self.rows[name] = []
                if name in BYTES_COLUMN:
                    self.bytes = 0


def lookup_ids(loader: Loader) -> dict:
    """The ids of the lookup rows the generator needs, keyed as :mod:`shape` expects."""
    ids = {}
    for table, prefix in (("repository_kind", "kind:"), ("visibility", ""),
                          ("image_storage_location", ""), ("media_type", "media:"),
                          ("label_source_type", "source:")):
        for row_id, name in loader.execute("SELECT id, name FROM %s" % table):
            ids[prefix + name] = row_id
    return ids


def check_constraints(loader: Loader) -> None:
    """Every foreign key resolves and no (repository, name) has two rows without an end."""
    for model in ALL_MODELS:
        for field in model._meta.refs:
            parent = field.rel_model._meta.table_name
            child = model._meta.table_name
            missing = loader.execute(
                "SELECT COUNT(*) FROM %s c LEFT JOIN %s p ON c.%s = p.id "
                "WHERE c.%s IS NOT NULL AND p.id IS NULL"
                % (child, parent, field.column_name, field.column_name))[0][0]
            if missing:
                raise click.ClickException("%d rows of %s.%s point nowhere"
                                           % (missing, child, field.column_name))
    for table, end in (("repository_tag", "lifetime_end_ts"), ("oci_tag", "lifetime_end_ms")):
        doubled = loader.execute("SELECT COUNT(*) FROM (SELECT repository_id, name FROM %s "
                                 "WHERE %s IS NULL GROUP BY repository_id, name "
                                 "HAVING COUNT(*) > 1) d" % (table, end))[0][0]
        if doubled:
            raise click.ClickException("%d names of %s have two alive rows" % (doubled, table))


def record(loader: Loader, values: dict) -> None:
    """Keep what was loaded in ``benchmark_fill`` (name, value) for the latency benchmark."""
    loader.execute("CREATE TABLE %s (name VARCHAR(64) PRIMARY KEY, value TEXT)" % META_TABLE)
    for name, value in values.items():
        placeholder = "?" if isinstance(loader, SqliteLoader) else "%s"
        loader.execute("INSERT INTO %s (name, value) VALUES (%s, %s)"
                       % (META_TABLE, placeholder, placeholder), (name, json.dumps(value)))


def database_bytes(loader: Loader, backend: str) -> int:
    """The size of the database on disk, indexes included."""
    if backend == "postgresql":
        return loader.execute("SELECT pg_database_size(current_database())")[0][0]
    if backend == "sqlite":
        return (loader.execute("PRAGMA page_count")[0][0]
                * loader.execute("PRAGMA page_size")[0][0])
    return int(loader.execute("SELECT SUM(data_length + index_length) FROM "
                              "information_schema.tables WHERE table_schema = DATABASE()")[0][0])


@click.command()
@click.option("--db", "uri", required=True, metavar="URI", help="An empty database to fill.")
@click.option("--scale", type=float, default=0.01, show_default=True,
              help="1 is 100,000 repositories and 1,000,000 tags; 0.01 is 1% of that.")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--reuse", is_flag=True,
              help="Do nothing when the database was filled at this scale and seed already.")
@click.option("--subjects", default=",".join(s.size_class for s in SUBJECTS), show_default=True,
              help="Which subject repositories to include (the tests fill only the small one).")
def main(uri: str, scale: float, seed: int, reuse: bool, subjects: str) -> None:
    """Migrate the database, bulk-load a registry of the given scale, check and analyze it."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    started = time.monotonic()
    database = configure(uri)
    if reuse and database.table_exists(META_TABLE):
        filled = dict(database.execute_sql("SELECT name, value FROM %s" % META_TABLE).fetchall())
        if json.loads(filled["scale"]) == scale and json.loads(filled["seed"]) == seed:
            click.echo("%s: filled at scale %g (seed %d) already" % (uri, scale, seed))
            return
        raise click.ClickException("%s was filled at scale %s, seed %s: use another database"
                                   % (uri, filled["scale"], filled["seed"]))
    upgrade(database)
    backend = backend_name(database)
    loader = LOADERS[backend](database)
    if loader.execute("SELECT COUNT(*) FROM repository")[0][0]:
        raise click.ClickException("the database holds repositories already: fill an empty one")
    now = int(time.time())
    sink = Sink(loader)
    loader.begin()
    chosen = tuple(s for s in SUBJECTS if s.size_class in subjects.split(","))
    generator = Generator(scale, seed, now, lookup_ids(loader), sink.emit, chosen)
    counts = generator.run()
    sink.flush()
    loaded = time.monotonic()
    click.echo("loaded %s in %.1fs" % (counts, loaded - started))
    loader.finish()
    indexed = time.monotonic()
    click.echo("indexes and sequences in %.1fs" % (indexed - loaded))
    check_constraints(loader)
    checked = time.monotonic()
    click.echo("constraints checked in %.1fs" % (checked - indexed))
    loader.analyze()
    finished = time.monotonic()
    click.echo("statistics in %.1fs" % (finished - checked))
    size = database_bytes(loader, backend)
    record(loader, {"scale": scale, "seed": seed, "now": now, "counts": counts,
                    "subjects": [subject.size_class for subject in chosen],
                    "fill_seconds": round(finished - started, 1), "backend": backend,
                    "database_bytes": size})
    database.close()
    click.echo("filled %s (scale %g) in %.1fs; %.1f MiB on disk"
               % (backend, scale, finished - started, size / 1048576.0))


if __name__ == "__main__":
    main()
