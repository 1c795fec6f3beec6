"""Grants: give and take an account's pull or push right on a namespace or a repository."""
import logging
from typing import List, Optional

from registry_model import errors, validation
from registry_model.auth.permissions import GRANTABLE, Grant
from registry_model.auth.tables import Account, AccountGrant
from registry_model.transactions import transaction

logger = logging.getLogger(__name__)


def _check(namespace: str, repository: Optional[str], action: str) -> None:
    if action not in GRANTABLE:
        raise errors.DataModelException("action must be one of %s, not %r"
                                        % (", ".join(GRANTABLE), action))
    if not validation.is_valid_namespace_name(namespace) or not (
            repository is None or validation.is_valid_repository_name(repository)):
        raise errors.InvalidNameException("grants name NS or NS/REPO, each %s"
                                          % validation.NAME_RULE)


def _account_id(name: str) -> int:
    row = Account.select(Account.id).where(Account.name == name).tuples().first()
    if row is None:
        raise errors.NotFoundException("account %s not found" % name)
    return row[0]


def _matching(account_id: int, namespace: str, repository: Optional[str], action: str):
    repository_rule = (AccountGrant.repository.is_null() if repository is None
                       else AccountGrant.repository == repository)
    return ((AccountGrant.account == account_id) & (AccountGrant.namespace == namespace)
            & repository_rule & (AccountGrant.action == action))


def grant(account: str, action: str, namespace: str, repository: Optional[str] = None) -> bool:
    """Give ``account`` the ``action`` right; False when it already had this grant."""
    _check(namespace, repository, action)
    with transaction():
        account_id = _account_id(account)
        if AccountGrant.select().where(_matching(account_id, namespace, repository,
                                                 action)).exists():
            return False
        AccountGrant.create(account=account_id, namespace=namespace, repository=repository,
                            action=action)
    logger.info("granted %s %s on %s/%s", account, action, namespace, repository or "*")
    return True


def revoke(account: str, action: str, namespace: str, repository: Optional[str] = None) -> bool:
    """Take that exact grant away; False when the account did not have it."""
    _check(namespace, repository, action)
    with transaction():
        account_id = _account_id(account)
        removed = AccountGrant.delete().where(
            _matching(account_id, namespace, repository, action)).execute()
    return bool(removed)


def grants_of(account: Optional[str]) -> List[Grant]:
    """The grants of ``account`` in one statement (none for None or an unknown account)."""
    if account is None:
        return []
    query = (AccountGrant.select(AccountGrant.namespace, AccountGrant.repository,
                                 AccountGrant.action)
             .join(Account).where(Account.name == account)
             .order_by(AccountGrant.namespace, AccountGrant.repository, AccountGrant.action))
    return [Grant(*row) for row in query.tuples()]
