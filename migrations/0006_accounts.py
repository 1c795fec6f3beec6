"""Accounts of the registry server: ``account`` (name, bcrypt hash, created) and
``account_grant`` (an account's pull or push right on a namespace or one repository).

Repository visibility needs no change: ``repository.visibility`` (public, private) exists
since 0001. Both steps are safe to run again, because MariaDB commits each DDL at once.
"""
from peewee import BigIntegerField, CharField, ForeignKeyField, Model, MySQLDatabase


def _models(db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Account(Base):
        name = CharField(unique=True)
        password_hash = CharField()
        created = BigIntegerField()

    class AccountGrant(Base):
        account = ForeignKeyField(Account)
        namespace = CharField()
        repository = CharField(null=True)
        action = CharField()

        class Meta:
            indexes = ((("account", "namespace", "repository"), False),)

    return [Account, AccountGrant]


def up(migrator, db):
    models = _models(db)
    if isinstance(db, MySQLDatabase):
        for model in models:
            # Binary collation: names compare exactly, as on the other backends.
            model._meta.table_settings = ["DEFAULT CHARSET=utf8mb4", "COLLATE=utf8mb4_bin"]
    db.create_tables(models, safe=True)


def down(migrator, db):
    db.drop_tables(list(reversed(_models(db))), safe=True)
