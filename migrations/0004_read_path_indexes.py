"""Indexes for the hot reads at scale, measured with benchmarks/latency.py on a million tags.

- ``image (storage_id, repository_id)``: "is this blob used by an image of the
  repository" was a walk over every image of a popular base layer (tens of
  thousands), now one index probe.
- ``repository_tag (repository_id, lifetime_start_ts, id)``: the newest tag and
  the history pages read a repository's rows in that order instead of sorting
  them all.
- no ``repository_tag (repository_id)``: ``(repository_id, name)`` serves the
  foreign key, and PostgreSQL, which cannot estimate one tag name within a
  repository, preferred the narrower index and read every row of the
  repository (3,000 on the largest benchmark repository) to find one tag.
"""

INDEXES = (
    ("image", ("storage_id", "repository_id")),
    ("repository_tag", ("repository_id", "lifetime_start_ts", "id")),
)


def _index_name(table, columns):
    return "%s_%s" % (table, "_".join(columns))


REDUNDANT = ("repository_tag", ("repository_id",))


def up(migrator, db):
    for table, columns in INDEXES:
        existing = {index.name for index in db.get_indexes(table)}
        if _index_name(table, columns) not in existing:  # MariaDB commits DDL: a rerun
            migrator.migrate(migrator.add_index(table, columns))
    table, columns = REDUNDANT
    if _index_name(table, columns) in {index.name for index in db.get_indexes(table)}:
        migrator.migrate(migrator.drop_index(table, _index_name(table, columns)))


def down(migrator, db):
    table, columns = REDUNDANT
    if _index_name(table, columns) not in {index.name for index in db.get_indexes(table)}:
        migrator.migrate(migrator.add_index(table, columns))
    for table, columns in INDEXES:
        existing = {index.name for index in db.get_indexes(table)}
        if _index_name(table, columns) in existing:
            migrator.migrate(migrator.drop_index(table, _index_name(table, columns)))
