"""registry_model.pre_oci.label_handlers: labels that change the tags of their manifest."""
import time

import pytest

from registry_model.database import RepositoryTag
from registry_model.pre_oci import label as label_model
from registry_model.pre_oci import label_handlers
from registry_model.testing.factories import (
    RepositoryFactory,
    RepositoryTagFactory,
    TagManifestFactory,
)

NOW = 1_700_000_000
KEY = label_handlers.EXPIRES_AFTER_KEY


@pytest.mark.parametrize("value,seconds", [
    ("45s", 45), ("90m", 5400), ("12h", 43200), ("2d", 172800), ("3w", 1814400),
    (" 2h ", 7200), ("999999999s", 999999999),
])
def test_parse_duration_reads_a_number_and_a_unit(value, seconds):
    assert label_handlers.parse_duration(value) == seconds


@pytest.mark.parametrize("value", [
    "", "h", "2", "0h", "02h", "-2h", "1.5h", "2H", "2 h", "2hours", "1000000000s", "2h2m",
    None, 7200, ["2h"],
])
def test_parse_duration_of_anything_else_is_none(value):
    assert label_handlers.parse_duration(value) is None


def test_only_expires_after_has_a_handler():
    assert label_handlers.has_handler("quay.expires-after")
    assert not label_handlers.has_handler("quay.expires-after.extra")
    assert not label_handlers.has_handler("com.example.label")


@pytest.fixture
def repo(initialized_db):
    return RepositoryFactory()


def _end(tag) -> int:
    return RepositoryTag.get_by_id(tag.id).lifetime_end_ts


def test_expires_after_ends_every_alive_tag_of_the_digest_after_its_start(repo):
    first = TagManifestFactory(tag__repository=repo, tag__lifetime_start_ts=NOW - 600)
    # A second tag of the same manifest (same digest), started later.
    second_tag = RepositoryTagFactory(repository=repo, lifetime_start_ts=NOW - 60)
    TagManifestFactory(tag=second_tag, json_data=first.json_data, digest=first.digest)
    label_handlers.apply_label(first.id, KEY, "2h", NOW)
    assert _end(first.tag) == NOW - 600 + 7200
    assert _end(second_tag) == NOW - 60 + 7200


def test_expires_after_leaves_other_manifests_dead_tags_and_other_repositories_alone(repo):
    subject = TagManifestFactory(tag__repository=repo, tag__lifetime_start_ts=NOW - 10)
    other_manifest = TagManifestFactory(tag__repository=repo, tag__lifetime_start_ts=NOW - 10)
    dead = RepositoryTagFactory(repository=repo, lifetime_start_ts=NOW - 100,
                                lifetime_end_ts=NOW - 50)
    TagManifestFactory(tag=dead, json_data=subject.json_data, digest=subject.digest)
    hidden = RepositoryTagFactory(repository=repo, hidden=True, lifetime_start_ts=NOW - 10)
    TagManifestFactory(tag=hidden, json_data=subject.json_data, digest=subject.digest)
    elsewhere = RepositoryTagFactory(lifetime_start_ts=NOW - 10)
    TagManifestFactory(tag=elsewhere, json_data=subject.json_data, digest=subject.digest)
    label_handlers.apply_label(subject.id, KEY, "1d", NOW)
    assert _end(subject.tag) == NOW - 10 + 86400
    # A dead tag must not come back to life with a later end.
    assert _end(dead) == NOW - 50
    assert _end(other_manifest.tag) is None
    assert _end(hidden) is None
    assert _end(elsewhere) is None


def test_expires_after_shortens_a_later_end_and_can_end_an_old_tag_at_once(repo):
    old = TagManifestFactory(tag__repository=repo, tag__lifetime_start_ts=NOW - 3 * 3600,
                             tag__lifetime_end_ts=NOW + 86400)
    label_handlers.apply_label(old.id, KEY, "1h", NOW)
    assert _end(old.tag) == NOW - 2 * 3600


@pytest.mark.parametrize("value", ["soon", "0s", ""])
def test_an_unparsable_expires_after_changes_nothing(repo, value):
    manifest = TagManifestFactory(tag__repository=repo, tag__lifetime_start_ts=NOW - 10,
                                  tag__lifetime_end_ts=NOW + 50)
    label_handlers.apply_label(manifest.id, KEY, value, NOW)
    assert _end(manifest.tag) == NOW + 50


def test_a_key_without_handler_changes_nothing(repo):
    manifest = TagManifestFactory(tag__repository=repo, tag__lifetime_start_ts=NOW - 10)
    label_handlers.apply_label(manifest.id, "com.example.expires-after", "1h", NOW)
    assert _end(manifest.tag) is None


def test_create_manifest_label_runs_the_handler_and_keeps_the_label(repo):
    manifest = TagManifestFactory(tag__repository=repo)
    start = manifest.tag.lifetime_start_ts
    label = label_model.create_manifest_label(manifest.id, KEY, "3d", "api")
    assert _end(manifest.tag) == start + 3 * 86400
    assert [(row.id, row.key, row.value) for row in label_model.list_manifest_labels(
        manifest.id)] == [(label.id, KEY, "3d")]


def test_create_manifest_label_with_an_unparsable_duration_only_stores_it(repo):
    manifest = TagManifestFactory(tag__repository=repo)
    label_model.create_manifest_label(manifest.id, KEY, "next week", "api")
    assert _end(manifest.tag) is None
    assert [row.value for row in label_model.list_manifest_labels(manifest.id)] == ["next week"]


def test_expires_after_through_the_interface_sets_the_tags_end(registry_model):
    repo = RepositoryFactory(namespace__name="devtable", name="labelled")
    row = TagManifestFactory(tag__repository=repo, tag__lifetime_start_ts=int(time.time()) - 5)
    ref = registry_model.lookup_repository("devtable", "labelled")
    tag = registry_model.get_repo_tag(ref, row.tag.name)
    manifest = registry_model.get_manifest_for_tag(tag)
    registry_model.create_manifest_label(manifest, KEY, "90m", "internal")
    assert registry_model.get_repo_tag(ref, tag.name).lifetime_end_ts == (
        tag.lifetime_start_ts + 5400)
