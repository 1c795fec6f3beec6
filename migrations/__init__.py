"""Numbered schema migrations, run by :mod:`registry_model.migration`.

Installed as the ``registry_model.migrations`` package. Each ``NNNN_name.py``
defines ``up(migrator, db)`` and ``down(migrator, db)`` for
``playhouse.migrations``; tables are declared as frozen model copies inside the
file, so later changes to ``registry_model.database`` never alter old steps.
"""
