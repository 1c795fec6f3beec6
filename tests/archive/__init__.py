"""Tests of registry_model.archive (no database needed)."""
