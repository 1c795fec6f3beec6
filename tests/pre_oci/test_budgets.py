"""A schema 1 push whose V1 ids clash, and are all rewritten, costs the same for 1 and 50 layers.

The budgets every implementation keeps are checked in tests/conformance/test_budgets.py; the
rewriting of clashing V1 ids is the pre-OCI wing's own.
"""
import uuid

import pytest

from registry_model.model import lookup
from registry_model.testing.budgets import budget
from registry_model.testing.factories import RepositoryFactory
from registry_model.testing.queries import count_statements

from . import build_manifest, chain, link_blobs, push


def _push_count(registry_model, layers_count: int, move: bool, labels) -> int:
    namespace = "push%s" % uuid.uuid4().hex[:8]
    RepositoryFactory(namespace__name=namespace, name="image")
    ref = registry_model.lookup_repository(namespace, "image")
    # Same V1 ids, other blobs: every id of the push below gets rewritten.
    push(registry_model, ref, chain(layers_count, seed="s", blob_seed="other"), tag="x")
    if move:
        push(registry_model, ref, chain(layers_count, seed="previous"))
    manifest = build_manifest(namespace, "image", "latest",
                              chain(layers_count, seed="s", labels=labels))
    link_blobs(registry_model, ref, manifest.blob_digests)
    lookup.tables()
    with count_statements() as counted:
        _, tag = registry_model.create_manifest_and_retarget_tag(ref, manifest, "latest", None)
    assert tag.docker_image_id != manifest.leaf_layer.v1_metadata.image_id
    assert counted.count <= budget("create_manifest_and_retarget_tag"), counted.statements
    return counted.count


@pytest.mark.parametrize("move", [False, True], ids=["new-tag", "moved-tag"])
@pytest.mark.parametrize("labels", [None, {"a": "b", "quay.expires-after": "2h"}],
                         ids=["no-labels", "expires-after"])
def test_a_push_with_rewritten_v1_ids_costs_the_same_for_1_and_50_layers(registry_model, move,
                                                                        labels):
    assert _push_count(registry_model, 1, move, labels) == _push_count(registry_model, 50, move,
                                                                       labels)
