"""Tests of registry_model.manifests (no database needed)."""
