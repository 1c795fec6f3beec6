"""Accounts, rights and tokens of the registry server.

An account (:mod:`.accounts`) has a name, which is also the namespace it owns, and a
bcrypt password hash (:mod:`.passwords`). Outside its namespace it holds what
:mod:`.grants` gives it (pull or push on a namespace or one repository); a public
repository (:mod:`.visibility`) pulls for anyone. :mod:`.permissions` turns those into
the actions a caller holds on a repository, :mod:`.scopes` reads and writes the Docker
token scopes, and :mod:`.tokens` signs and checks the short-lived JWTs the server's token
endpoint hands out. The tables are in :mod:`.tables` (migration ``0006_accounts``).
"""
