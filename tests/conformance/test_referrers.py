"""Referrers: manifests whose subject is a digest, on models that store subjects."""
from registry_model.datatypes import Referrer
from registry_model.testing.budgets import budget
from registry_model.testing.builders import layer_bytes

from . import measure

SIGNATURE = "application/vnd.example.signature+json"
SBOM = "application/vnd.example.sbom+json"


def test_a_digest_nobody_refers_to_has_no_referrers(registry_model, builder):
    ref = builder.repository("devtable", "simple")
    subject = builder.push_image(ref, "latest", layer_bytes(1, "lonely")).manifest
    referrers, counted = measure(lambda: registry_model.lookup_referrers(ref, subject.digest))
    assert referrers == []
    assert counted.count <= budget("lookup_referrers")
    assert registry_model.lookup_referrers(ref, "sha256:nothex") == []


def test_referrers_are_listed_with_their_descriptors_oldest_first(registry_model, builder):
    ref = builder.repository("devtable", "signed")
    subject = builder.image_manifest(ref, "latest", layer_bytes(1, "signed"))
    if not builder.supports_referrers:  # a model without subjects answers for free
        referrers, counted = measure(lambda: registry_model.lookup_referrers(ref,
                                                                             subject.digest))
        assert (referrers, counted.count) == ([], 0)
        return
    # A referrer may arrive before its subject (pushed by digest, no tag).
    _, no_tag, signature = builder.push_referrer(ref, subject, SIGNATURE,
                                                 {"org.example.signed-by": "me"})
    assert no_tag is None
    builder.push_image(ref, "latest", layer_bytes(1, "signed"))
    _, _, sbom = builder.push_referrer(ref, subject, SBOM, tag_name="sbom")
    referrers, counted = measure(lambda: registry_model.lookup_referrers(ref, subject.digest))
    assert referrers == [
        Referrer(signature.digest, signature.media_type, len(signature.bytes), SIGNATURE,
                 {"org.example.signed-by": "me"}),
        Referrer(sbom.digest, sbom.media_type, len(sbom.bytes), SBOM, {})]
    assert counted.count <= budget("lookup_referrers")
    only_sboms = registry_model.lookup_referrers(ref, subject.digest, SBOM)
    assert [referrer.digest for referrer in only_sboms] == [sbom.digest]
    assert registry_model.lookup_referrers(ref, subject.digest, "application/other") == []
    assert registry_model.lookup_referrers(ref, signature.digest) == []


def test_referrers_stay_in_their_repository(registry_model, builder):
    ref = builder.repository("devtable", "signed")
    other = builder.repository("devtable", "other")
    subject = builder.push_image(ref, "latest", layer_bytes(1, "subject"))
    if builder.supports_referrers:
        builder.push_referrer(ref, builder.image_manifest(ref, "latest",
                                                          layer_bytes(1, "subject")),
                              SIGNATURE, tag_name="sig")
        assert len(registry_model.lookup_referrers(ref, subject.manifest.digest)) == 1
    assert registry_model.lookup_referrers(other, subject.manifest.digest) == []
