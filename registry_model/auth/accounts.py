"""Accounts: add, remove, change a password, list, and check a login.

An account's name follows the namespace grammar because it is the namespace the account
owns. Each write is one transaction; a bad name or password raises before any statement.
"""
import logging
from typing import List, NamedTuple, Optional

from registry_model import clock, errors, validation
from registry_model.auth import passwords
from registry_model.auth.tables import Account, AccountGrant
from registry_model.transactions import transaction

logger = logging.getLogger(__name__)


class AccountInfo(NamedTuple):
    """An account as callers see it: its name and when it was created (Unix seconds)."""

    name: str
    created: int


def _check_name(name: object) -> str:
    if not validation.is_valid_namespace_name(name):
        raise errors.InvalidNameException("account names are namespace names: %s"
                                          % validation.NAME_RULE)
    return name


def _hashed(password: object) -> str:
    if not isinstance(password, str) or not password:
        raise errors.InvalidPasswordException("the password is empty")
    if len(password.encode("utf-8")) > passwords.MAX_PASSWORD_BYTES:
        raise errors.InvalidPasswordException(
            "passwords are at most %d UTF-8 bytes (bcrypt reads no more)"
            % passwords.MAX_PASSWORD_BYTES)
    return passwords.hash_password(password)


def add_account(name: str, password: str) -> AccountInfo:
    """Create account ``name``; DuplicateException when it exists."""
    password_hash = _hashed(password)
    _check_name(name)
    created = clock.now_ts()
    with transaction():
        if Account.select().where(Account.name == name).exists():
            raise errors.DuplicateException("account %s exists" % name)
        Account.create(name=name, password_hash=password_hash, created=created)
    logger.info("account %s added", name)
    return AccountInfo(name, created)


def remove_account(name: str) -> None:
    """Delete account ``name`` and its grants (its namespace and images stay);
    NotFoundException when there is none."""
    _check_name(name)
    with transaction():
        account = Account.get_or_none(Account.name == name)
        if account is None:
            raise errors.NotFoundException("account %s not found" % name)
        AccountGrant.delete().where(AccountGrant.account == account.id).execute()
        account.delete_instance()
    logger.info("account %s removed", name)


def set_password(name: str, password: str) -> None:
    """Give account ``name`` a new password; NotFoundException when there is none."""
    password_hash = _hashed(password)
    _check_name(name)
    with transaction():
        changed = (Account.update(password_hash=password_hash)
                   .where(Account.name == name).execute())
    if not changed:
        raise errors.NotFoundException("account %s not found" % name)


def list_accounts() -> List[AccountInfo]:
    """Every account, by name."""
    return [AccountInfo(row.name, row.created)
            for row in Account.select(Account.name, Account.created).order_by(Account.name)]


def authenticate(name: str, password: str) -> Optional[str]:
    """The account's name when ``password`` is its password, else None.

    One statement, and one bcrypt check whether or not the account exists, so a wrong
    password and an unknown name take the same time and give the same answer.
    """
    row = None
    if validation.is_valid_namespace_name(name):
        row = (Account.select(Account.password_hash).where(Account.name == name)
               .tuples().first())
    if row is None:
        passwords.burn_check(password)
        return None
    return name if passwords.check_password(password, row[0]) else None
