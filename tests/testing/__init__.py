"""Tests of registry_model.testing: the pytest plugin and the factories downstream suites use."""
