"""Test support for projects built on registry_model.

Installing the package registers the pytest plugin :mod:`registry_model.testing.plugin`
(fixtures ``initialized_db`` and ``registry_model``); factories live in
:mod:`registry_model.testing.factories` and statement counting in
:mod:`registry_model.testing.queries`. The conformance suite's support: the interface's
budgets read from its docstrings (:mod:`~registry_model.testing.budgets`), the list of
implementations (:mod:`~registry_model.testing.implementations`) and the builders that
write test data through the interface (:mod:`~registry_model.testing.builders`). Real
clients get a running ``registry-model serve`` from :mod:`~registry_model.testing.served`.
"""
