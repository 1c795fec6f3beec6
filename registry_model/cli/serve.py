"""``registry-model serve``: the registry server (OCI Distribution API) under gunicorn."""
from typing import Optional

import click

from registry_model.cli import open_database
from registry_model.cli.storage import open_store


@click.command()
@click.option("--db", "database_uri", metavar="URI", default=None,
              help="Database to serve (default: the group's --db).")
@click.option("--storage", required=True, metavar="PATH|URI",
              help="The blob store: a folder (created if missing) or "
                   "s3://BUCKET/PREFIX?endpoint=URL.")
@click.option("--bind", default="127.0.0.1:5000", show_default=True,
              help="host:port to listen on; loopback only until accounts exist.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1),
              help="Worker processes.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), default=None,
              help="PEM certificate: serve HTTPS (with --tls-key).")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), default=None,
              help="PEM private key of --tls-cert.")
@click.pass_obj
def serve(group_uri: str, database_uri: Optional[str], storage: str, bind: str, workers: int,
          tls_cert: Optional[str], tls_key: Optional[str]) -> None:
    """Serve the OCI Distribution API v1.1 on the database and blob store.

    A new database is migrated first. Plain HTTP unless --tls-cert and --tls-key are given.
    """
    try:
        from registry_model.server import serve as server
    except ImportError as exc:
        raise click.ClickException("the server needs its extra: pip install "
                                   "'registry_model[server]' (%s)" % exc) from exc
    if (tls_cert is None) != (tls_key is None):
        raise click.ClickException("--tls-cert and --tls-key go together")
    try:
        server.check_bind(bind)
    except server.NonLoopbackBindException as exc:
        raise click.ClickException(str(exc)) from exc
    open_store(storage)  # a bucket that is missing or refused fails here, not in a worker
    uri = database_uri or group_uri
    with open_database(uri, migrate_if_empty=True):
        pass  # reachable and migrated: the workers bind it themselves
    server.run(uri, storage, bind, workers, tls_cert, tls_key)
