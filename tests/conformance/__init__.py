"""The conformance suite: every promise and budget of the interface, on every implementation.

Helpers shared by its modules: :func:`measure` runs a call with the lookup-table cache warm
and counts its statements, as the budgets count them.
"""
from registry_model.model import lookup
from registry_model.testing.queries import count_statements


def measure(call):
    """``(result, counter)`` of ``call()``; ``counter.count`` statements, ``.statements`` SQL."""
    lookup.tables()
    with count_statements() as counted:
        result = call()
    return result, counted
