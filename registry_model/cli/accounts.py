"""Accounts of the registry server: ``user add|rm|passwd|list``, ``grant``, ``revoke``,
``visibility``.

A password is read from standard input (``--password-stdin``, as ``docker login`` reads
it; one line, its line break dropped) or asked for at the terminal, never taken as an
argument where ``ps`` would show it. An account owns the namespace of its name; ``grant``
gives pull or push elsewhere, on a whole namespace (``NS``) or one repository
(``NS/REPO``). Repositories are private until ``visibility NS/REPO public``.
"""
import sys

import click

from registry_model.cli import open_database
from registry_model.cli.argument_types import NamespaceNameType, RepositoryNameType
from registry_model.cli.output import echo_json, echo_table, rfc3339


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


class GrantTargetType(click.ParamType):
    """``NS`` (the whole namespace) or ``NS/REPO``, as ``(namespace, repository or None)``."""

    name = "NS[/REPO]"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        if "/" in value:
            return RepositoryNameType().convert(value, param, ctx)
        return NamespaceNameType().convert(value, param, ctx), None


@click.group()
def user() -> None:
    """Add, remove and list the accounts of `registry-model serve`."""


@user.command(name="add")
@click.argument("name", type=NamespaceNameType(), metavar="NAME")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.pass_obj
def add(uri: str, name: str, password_stdin: bool) -> None:
    """Add account NAME, which owns namespace NAME."""
    from registry_model.auth.accounts import add_account
    password = _read_password(password_stdin)
    with open_database(uri, migrate_if_empty=True):
        add_account(name, password)
    click.echo("account %s added" % name)


@user.command(name="rm")
@click.argument("name", type=NamespaceNameType(), metavar="NAME")
@click.pass_obj
def remove(uri: str, name: str) -> None:
    """Remove account NAME and its grants (its namespace and images stay)."""
    from registry_model.auth.accounts import remove_account
    with open_database(uri):
        remove_account(name)
    click.echo("account %s removed" % name)


@user.command(name="passwd")
@click.argument("name", type=NamespaceNameType(), metavar="NAME")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.pass_obj
def passwd(uri: str, name: str, password_stdin: bool) -> None:
    """Set a new password for account NAME."""
    from registry_model.auth.accounts import set_password
    password = _read_password(password_stdin)
    with open_database(uri):
        set_password(name, password)
    click.echo("password of %s changed" % name)


@user.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def list_users(uri: str, as_json: bool) -> None:
    """List the accounts with their grants."""
    from registry_model.auth.accounts import list_accounts
    from registry_model.auth.grants import grants_of
    with open_database(uri):
        rows = [{"name": account.name, "created": rfc3339(account.created),
                 "grants": ["%s %s%s" % (grant.action, grant.namespace,
                                         "/" + grant.repository if grant.repository else "")
                            for grant in grants_of(account.name)]}
                for account in list_accounts()]
    if as_json:
        echo_json(rows)
        return
    echo_table(["NAME", "CREATED", "GRANTS"],
               [[row["name"], row["created"], ", ".join(row["grants"]) or None]
                for row in rows], "no accounts")


@click.command()
@click.argument("account", type=NamespaceNameType(), metavar="ACCOUNT")
@click.argument("action", type=click.Choice(["pull", "push"]))
@click.argument("target", type=GrantTargetType())
@click.pass_obj
def grant(uri: str, account: str, action: str, target: tuple) -> None:
    """Give ACCOUNT pull or push (which includes pull and delete) on NS or NS/REPO."""
    from registry_model.auth import grants
    with open_database(uri):
        added = grants.grant(account, action, *target)
    click.echo("%s %s %s" % ("granted" if added else "already granted", action,
                             "/".join(part for part in target if part)))


@click.command()
@click.argument("account", type=NamespaceNameType(), metavar="ACCOUNT")
@click.argument("action", type=click.Choice(["pull", "push"]))
@click.argument("target", type=GrantTargetType())
@click.pass_obj
def revoke(uri: str, account: str, action: str, target: tuple) -> None:
    """Take away a grant given by `grant ACCOUNT ACTION TARGET`."""
    from registry_model.auth import grants
    with open_database(uri):
        removed = grants.revoke(account, action, *target)
    if not removed:
        raise click.ClickException("%s has no %s grant on %s" % (
            account, action, "/".join(part for part in target if part)))
    click.echo("revoked %s %s" % (action, "/".join(part for part in target if part)))


@click.command()
@click.argument("repository", type=RepositoryNameType())
@click.argument("visibility", type=click.Choice(["public", "private"]))
@click.pass_obj
def visibility(uri: str, repository: tuple, visibility: str) -> None:
    """Make NS/REPO public (anyone pulls it, anonymously too) or private."""
    from registry_model.auth.visibility import set_visibility
    with open_database(uri):
        set_visibility(*repository, public=visibility == "public")
    click.echo("%s/%s is %s" % (repository + (visibility,)))
