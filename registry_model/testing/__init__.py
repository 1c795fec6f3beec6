"""Test support for projects built on registry_model.

Installing the package registers the pytest plugin :mod:`registry_model.testing.plugin`
(fixtures ``initialized_db`` and ``registry_model``); factories live in
:mod:`registry_model.testing.factories` and statement counting in
:mod:`registry_model.testing.queries`.
"""
