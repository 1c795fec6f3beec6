"""Moving a registry from the pre-OCI tables to the OCI tables (``registry-model migrate-to-oci``).

It sits above both wings, the one package that reads one wing and writes the other:
:mod:`~registry_model.backfill.source` reads the pre-OCI rows,
:mod:`~registry_model.backfill.target` writes the OCI rows in bulk (multi-row INSERTs of
:mod:`~registry_model.backfill.bulk`),
:mod:`~registry_model.backfill.pairing` decides which tag rows are carried already, and
:mod:`~registry_model.backfill.run` drives the batches (:func:`backfill_to_oci`).
"""
from registry_model.backfill.report import BackfillReport, RejectedRow
from registry_model.backfill.run import DEFAULT_BATCH_SIZE, backfill_to_oci

__all__ = ["BackfillReport", "DEFAULT_BATCH_SIZE", "RejectedRow", "backfill_to_oci"]
