"""The accounts' tables: ``account`` and ``account_grant``.

Grants name their namespace and repository by name, not by row: a right can be given
before the namespace exists (the account's first push creates it), and it never keeps a
repository row alive. ``repository`` NULL grants the whole namespace. Created by
migration ``0006_accounts``.
"""
from peewee import BigIntegerField, CharField, ForeignKeyField

from registry_model.model.tables import BaseModel


class Account(BaseModel):
    """A user: its name (also the namespace it owns), a bcrypt hash, when it was made."""

    name = CharField(unique=True)
    password_hash = CharField()
    created = BigIntegerField()


class AccountGrant(BaseModel):
    """A right of an account outside its own namespace: pull or push on NS or NS/REPO."""

    account = ForeignKeyField(Account)
    namespace = CharField()
    repository = CharField(null=True)
    action = CharField()

    class Meta:
        indexes = ((("account", "namespace", "repository"), False),)


AUTH_MODELS = (Account, AccountGrant)
