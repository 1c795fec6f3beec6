"""``registry-model serve``: the registry server (OCI Distribution API) under gunicorn.

Auth (accounts, Docker token auth, scopes) is on when the database holds an account
(``--auth auto``, the default) or with ``--auth on``; the token signing key then lives in
``--token-key`` (default ``./token-key.json``, beside the schema 1 signing key, outside
the blob store), created on the first start. Without auth the server binds only loopback.
"""
import os
from typing import Optional

import click
from click.core import ParameterSource
from peewee import SqliteDatabase

from registry_model.blobstore.base import DEFAULT_REDIRECT_EXPIRY_S, MAX_REDIRECT_EXPIRY_S
from registry_model.blobstore.uri import safe_storage_name
from registry_model.cli import open_database
from registry_model.cli.signing import is_inside
from registry_model.cli.storage import is_folder, open_store
from registry_model.database import configure

TOKEN_KEY_VARIABLE = "REGISTRY_MODEL_TOKEN_KEY"
DEFAULT_TOKEN_KEY = "token-key.json"


def _has_accounts(uri: str) -> bool:
    """True when the database at ``uri`` holds an account; False for a database not there
    yet or without the accounts table (nothing is created to find out)."""
    from registry_model.auth.tables import Account
    database = configure(uri)
    try:
        if isinstance(database, SqliteDatabase) and not os.path.exists(database.database):
            return False
        return Account._meta.table_name in database.get_tables() and Account.select().exists()
    finally:
        database.close()


@click.command()
@click.option("--db", "database_uri", metavar="URI", default=None,
              help="Database to serve (default: the group's --db).")
@click.option("--storage", required=True, metavar="PATH|URI",
              help="The blob store: a folder (created if missing) or "
                   "s3://BUCKET/PREFIX?endpoint=URL.")
@click.option("--bind", default="127.0.0.1:5000", show_default=True,
              help="host:port to listen on; loopback only while auth is off.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1),
              help="Worker processes.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), default=None,
              help="PEM certificate: serve HTTPS (with --tls-key).")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), default=None,
              help="PEM private key of --tls-cert.")
@click.option("--auth", "auth_choice", type=click.Choice(["auto", "on", "off"]),
              default="auto", show_default=True,
              help="Accounts and token auth: auto is on when the database has an account.")
@click.option("--token-key", envvar=TOKEN_KEY_VARIABLE, default=DEFAULT_TOKEN_KEY,
              show_default=True, show_envvar=True, type=click.Path(dir_okay=False),
              help="File of the key signing tokens (created if missing), outside --storage.")
@click.option("--service", default="registry-model", show_default=True,
              help="Service name of the tokens (their issuer and audience).")
@click.option("--storage-redirect", is_flag=True,
              help="Answer blob GETs with a redirect to a presigned URL of the object "
                   "store (s3:// storage only).")
@click.option("--redirect-expiry", "redirect_expiry_s", metavar="SECONDS",
              type=click.IntRange(1, MAX_REDIRECT_EXPIRY_S),
              default=DEFAULT_REDIRECT_EXPIRY_S, show_default=True,
              help="How long a redirect's URL stays valid.")
@click.pass_obj
def serve(group_uri: str, database_uri: Optional[str], storage: str, bind: str, workers: int,
          tls_cert: Optional[str], tls_key: Optional[str], auth_choice: str, token_key: str,
          service: str, storage_redirect: bool, redirect_expiry_s: int) -> None:
    """Serve the OCI Distribution API v1.1 on the database and blob store.

    A new database is migrated first. Plain HTTP unless --tls-cert and --tls-key are given.
    With --storage-redirect the bytes of blob downloads go from the object store straight
    to the client; the registry still checks access and answers HEAD.
    """
    try:
        from registry_model.server import serve as server
    except ImportError as exc:
        raise click.ClickException("the server needs its extra: pip install "
                                   "'registry_model[server]' (%s)" % exc) from exc
    if (tls_cert is None) != (tls_key is None):
        raise click.ClickException("--tls-cert and --tls-key go together")
    given = click.get_current_context().get_parameter_source("redirect_expiry_s")
    if given != ParameterSource.DEFAULT and not storage_redirect:
        raise click.ClickException("--redirect-expiry goes with --storage-redirect")
    uri = database_uri or group_uri
    auth = auth_choice == "on"
    if auth_choice == "auto":
        with open_database(uri, require_migrated=False):  # its errors as one line
            pass
        auth = _has_accounts(uri)
    try:
        server.check_bind(bind, auth=auth)  # before a new database is made
    except server.NonLoopbackBindException as exc:
        raise click.ClickException(str(exc)) from exc
    store = open_store(storage)  # a bucket missing or refused fails here, not in a worker
    if storage_redirect and not store.can_redirect:
        raise click.ClickException("--storage-redirect needs a store that can presign URLs "
                                   "(s3://...), not %s" % safe_storage_name(storage))
    with open_database(uri, migrate_if_empty=True):
        pass  # reachable and migrated: the workers bind it themselves
    key_path = None
    if auth:
        if is_folder(storage) and is_inside(token_key, storage):
            raise click.ClickException("token key %s lies inside the blob store %s: keep it "
                                       "outside" % (token_key, storage))
        from registry_model.auth.tokens import load_or_create_key
        key_path = os.path.abspath(token_key)
        load_or_create_key(key_path)  # before the workers fork: one key for all of them
    click.echo("auth %s" % ("on (token key %s)" % key_path if auth else "off: loopback only"),
               err=True)
    server.run(uri, storage, bind, workers, tls_cert, tls_key, key_path,
               service if auth else None, redirect_expiry_s if storage_redirect else None)
