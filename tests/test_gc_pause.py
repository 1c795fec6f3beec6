"""registry_model.gc_pause: the collector off while a listing is built, then as it was."""
import gc

import pytest

from registry_model import oci_model as oci
from registry_model import registry_model as pre_oci
from registry_model.datatypes import RepositoryReference
from registry_model.gc_pause import collector_paused
from registry_model.oci import legacy
from registry_model.oci import model as oci_model
from registry_model.pre_oci import model as pre_oci_model


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_the_collector_is_off_inside_and_on_again_after(collector_on):
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_error_inside_still_turns_it_back_on(collector_on):
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("listing failed")
    assert gc.isenabled()


def test_nested_pauses_end_with_the_outer_one(collector_on):
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner pause found it off and left it so
    assert gc.isenabled()


def test_a_collector_the_process_turned_off_stays_off(collector_on):
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_the_legacy_listings_run_with_the_collector_paused(collector_on, monkeypatch):
    seen = []
    monkeypatch.setattr(legacy, "repository_images",
                        lambda rows, tags: seen.append(gc.isenabled()) or [])
    monkeypatch.setattr(pre_oci_model, "_legacy_images",
                        lambda columns, images, tags: seen.append(gc.isenabled()) or {})
    monkeypatch.setattr(oci_model.manifest_model, "image_manifests", lambda repo_id: [])
    monkeypatch.setattr(oci_model.tag_model, "alive_tag_names_by_manifest", lambda *a: {})
    monkeypatch.setattr(pre_oci_model.image_model, "get_repository_image_tuples",
                        lambda repo_id: ((), []))
    monkeypatch.setattr(pre_oci_model.tag_model, "alive_tag_names_by_image", lambda *a: {})
    ref = RepositoryReference.for_id(1, "ns", "repo")
    assert oci.get_legacy_images(ref) == [] and pre_oci.get_legacy_images(ref) == []
    assert seen == [False, False] and gc.isenabled()
