"""registry-model repos, tags, images, labels, history and inspect (registry_model/cli/listing.py).

The read-only listings run against the shared ``registry`` database; history and inspect against
the sample image ``imported`` into a scratch database.
"""
import json
import re

import pytest

from registry_model import registry_model
from registry_model.database import configure
from registry_model.manifests import DockerSchema1Manifest
from registry_model.testing.factories import (
    ImageFactory,
    RepositoryFactory,
    RepositoryTagFactory,
)

from . import START_TS, assert_fails, invoke, iso, succeeds

# --- repos -----------------------------------------------------------------------------


def test_repos_lists_repositories_except_those_marked_for_deletion(registry):
    assert [line.split() for line in succeeds(registry.uri, "repos").splitlines()] == [
        ["REPOSITORY", "KIND", "VISIBILITY", "STATE"],
        ["acme/app", "application", "private", "read_only"],
        ["devtable/empty", "image", "private", "normal"],
        ["devtable/simple", "image", "public", "normal"],
    ]


def test_repos_json_is_an_array_of_objects_with_stable_keys(registry):
    assert json.loads(succeeds(registry.uri, "repos", "--json")) == [
        {"repository": "acme/app", "namespace": "acme", "name": "app",
         "kind": "application", "visibility": "private", "state": "read_only"},
        {"repository": "devtable/empty", "namespace": "devtable", "name": "empty",
         "kind": "image", "visibility": "private", "state": "normal"},
        {"repository": "devtable/simple", "namespace": "devtable", "name": "simple",
         "kind": "image", "visibility": "public", "state": "normal"},
    ]


def test_repos_of_an_empty_database(migrated_uri):
    assert succeeds(migrated_uri, "repos").splitlines() == ["no repositories"]
    assert json.loads(succeeds(migrated_uri, "repos", "--json")) == []


# --- tags ------------------------------------------------------------------------------


def test_tags_lists_alive_visible_tags_with_short_ids_and_iso_lifetimes(registry):
    short_top = registry.top.docker_image_id[:12]
    short_sibling = registry.sibling.docker_image_id[:12]
    assert [line.split() for line in succeeds(registry.uri, "tags", "devtable/simple")
            .splitlines()] == [
        ["TAG", "IMAGE", "START", "END"],
        ["expiring", short_sibling, iso(START_TS), iso(registry.expiring_end)],
        ["latest", short_top, iso(START_TS), "-"],
        ["v1", short_top, iso(START_TS + 60), "-"],
    ]


def test_tags_json_has_full_image_ids_and_null_for_no_end(registry):
    assert json.loads(succeeds(registry.uri, "tags", "devtable/simple", "--json")) == [
        {"name": "expiring", "docker_image_id": registry.sibling.docker_image_id,
         "lifetime_start": iso(START_TS), "lifetime_end": iso(registry.expiring_end)},
        {"name": "latest", "docker_image_id": registry.top.docker_image_id,
         "lifetime_start": iso(START_TS), "lifetime_end": None},
        {"name": "v1", "docker_image_id": registry.top.docker_image_id,
         "lifetime_start": iso(START_TS + 60), "lifetime_end": None},
    ]


def test_tags_of_a_repository_without_tags(registry):
    assert succeeds(registry.uri, "tags", "devtable/empty").splitlines() == ["no tags"]
    assert json.loads(succeeds(registry.uri, "tags", "devtable/empty", "--json")) == []


# --- images ----------------------------------------------------------------------------


def test_images_draws_the_ancestry_tree_root_first(registry):
    def short(image):
        return image.docker_image_id[:12]

    assert succeeds(registry.uri, "images", "devtable/simple").splitlines() == [
        "%s  512 B" % short(registry.base),
        "└── %s  2.0 KiB" % short(registry.middle),
        "    ├── %s  3.0 MiB  latest, v1" % short(registry.top),
        "    └── %s  1.5 KiB  expiring" % short(registry.sibling),
        "%s  10 B" % short(registry.other_root),
    ]


def test_images_json_lists_the_tree_in_order_with_parents(registry):
    rows = json.loads(succeeds(registry.uri, "images", "devtable/simple", "--json"))
    assert [(row["docker_image_id"], row["parent_id"], row["depth"], row["tags"])
            for row in rows] == [
        (registry.base.docker_image_id, None, 0, []),
        (registry.middle.docker_image_id, registry.base.docker_image_id, 1, []),
        (registry.top.docker_image_id, registry.middle.docker_image_id, 2, ["latest", "v1"]),
        (registry.sibling.docker_image_id, registry.middle.docker_image_id, 2, ["expiring"]),
        (registry.other_root.docker_image_id, None, 0, []),
    ]
    assert rows[2]["size"] == 3 * 1024 ** 2
    assert rows[2]["aggregate_size"] == registry.top.aggregate_size
    assert rows[2]["blob_digest"] == registry.top.storage.content_checksum
    assert all(set(row) == {"docker_image_id", "parent_id", "depth", "size", "aggregate_size",
                            "blob_digest", "created", "tags"} for row in rows)


def test_images_of_a_repository_without_images(registry):
    assert succeeds(registry.uri, "images", "devtable/empty").splitlines() == ["no images"]
    assert json.loads(succeeds(registry.uri, "images", "devtable/empty", "--json")) == []


# --- labels ----------------------------------------------------------------------------


def test_labels_lists_the_labels_of_the_tag_manifest_in_creation_order(registry):
    uuids = [row["uuid"] for row in json.loads(
        succeeds(registry.uri, "labels", "devtable/simple:latest", "--json"))]
    assert succeeds(registry.uri, "labels", "devtable/simple:latest").splitlines() == [
        "KEY                     VALUE                  SOURCE    MEDIA TYPE        UUID",
        "com.example.maintainer  devtable               api       text/plain        " + uuids[0],
        'Config                  {\\n  "debug": true\\n}  manifest  application/json  '
        + uuids[1],
    ]


def test_labels_json_keeps_values_exact(registry):
    rows = json.loads(succeeds(registry.uri, "labels", "devtable/simple:latest", "--json"))
    assert [{key: row[key] for key in ("key", "value", "source_type", "media_type")}
            for row in rows] == [
        {"key": "com.example.maintainer", "value": "devtable", "source_type": "api",
         "media_type": "text/plain"},
        {"key": "Config", "value": '{\n  "debug": true\n}', "source_type": "manifest",
         "media_type": "application/json"},
    ]
    assert all(len(row["uuid"]) == 36 for row in rows)


# --- unknown or malformed names ------------------------------------------------------


@pytest.mark.parametrize("args, fragment", [
    (["tags", "devtable/nope"], "repository devtable/nope not found"),
    (["images", "nobody/simple"], "repository nobody/simple not found"),
    (["tags", "devtable/deleted"], "repository devtable/deleted not found"),
    (["labels", "devtable/nope:latest"], "repository devtable/nope not found"),
    (["labels", "devtable/simple:nope"], "tag devtable/simple:nope not found"),
    (["labels", "devtable/simple:gone"], "tag devtable/simple:gone not found"),
    (["labels", "devtable/simple:secret"], "tag devtable/simple:secret not found"),
    (["labels", "devtable/simple:v1"], "tag devtable/simple:v1 has no manifest"),
])
def test_an_unknown_repository_or_tag_is_one_line_and_status_1(registry, args, fragment):
    assert_fails(invoke(registry.uri, *args), fragment)


@pytest.mark.parametrize("args", [
    ["tags", "devtable"], ["tags", "devtable/"], ["tags", "/simple"], ["tags", "a/b/c"],
    ["images", "DevTable/simple"], ["tags", "devtable/simple:latest"],
    ["labels", "devtable/simple"], ["labels", "devtable/simple:"], ["labels", "devtable:latest"],
    ["labels", "devtable/simple:bad:tag"], ["labels", "devtable/simple:-dash"],
])
def test_a_malformed_argument_is_a_usage_error(registry, args):
    assert_fails(invoke(registry.uri, *args), "Invalid value for", args[1], exit_code=2)


def test_a_programming_error_keeps_its_traceback(registry, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(registry_model, "lookup_repository", broken)
    with pytest.raises(RuntimeError, match="bug"):
        invoke(registry.uri, "tags", "devtable/simple")


# --- history, inspect ------------------------------------------------------------------


def test_history_lists_alive_and_ended_rows_newest_first(imported):
    succeeds(imported.uri, "tag", "acme/hello:latest", "v2")
    succeeds(imported.uri, "untag", "acme/hello:latest")
    rows = json.loads(succeeds(imported.uri, "history", "acme/hello", "--json"))
    assert [(row["name"], row["manifest_digest"], row["lifetime_end"] is None, row["reversion"])
            for row in rows] == [("v2", imported.digest, True, False),
                                 ("latest", imported.digest, False, False)]
    assert set(rows[0]) == {"name", "manifest_digest", "docker_image_id", "lifetime_start",
                            "lifetime_end", "reversion"}
    table = [line.split() for line in succeeds(imported.uri, "history", "acme/hello")
             .splitlines()]
    assert table[0] == ["TAG", "MANIFEST", "IMAGE", "START", "END", "REVERSION"]
    assert [row[:3] for row in table[1:]] == [
        ["v2", imported.digest[:19], rows[0]["docker_image_id"][:12]],
        ["latest", imported.digest[:19], rows[1]["docker_image_id"][:12]]]
    only = json.loads(succeeds(imported.uri, "history", "acme/hello", "v2", "--json"))
    assert [row["name"] for row in only] == ["v2"]


def test_history_reads_every_page(migrated_uri):
    database = configure(migrated_uri)
    repository = RepositoryFactory(namespace__name="acme", name="busy")
    image = ImageFactory(repository=repository)
    for index in range(230):
        RepositoryTagFactory(repository=repository, name="t%03d" % index, image=image,
                             lifetime_start_ts=START_TS + index)
    database.close()
    rows = json.loads(succeeds(migrated_uri, "history", "acme/busy", "--json"))
    assert [row["name"] for row in rows] == ["t%03d" % i for i in reversed(range(230))]


def test_history_of_an_unknown_repository_or_without_rows(imported):
    assert_fails(invoke(imported.uri, "history", "acme/nope"), "repository acme/nope not found")
    assert succeeds(imported.uri, "history", "acme/hello", "nope").splitlines() == [
        "no tag history"]


def test_inspect_shows_digest_media_type_and_layers_base_first(imported, sample_archive):
    document = json.loads(succeeds(imported.uri, "inspect", "acme/hello:latest", "--json"))
    layers = imported.result["layers"]
    assert {key: document[key] for key in ("repository", "digest", "media_type", "name", "tag",
                                           "architecture", "signed")} == {
        "repository": "acme/hello", "digest": imported.digest,
        "media_type": "application/vnd.docker.distribution.manifest.v1+prettyjws",
        "name": "acme/hello", "tag": "latest", "architecture": "amd64", "signed": True}
    assert [(row["digest"], row["v1_id"], row["parent_v1_id"]) for row in document["layers"]] == [
        (layer["digest"], layer["v1_id"], previous["v1_id"] if previous else None)
        for previous, layer in zip([None] + layers[:-1], layers, strict=True)]
    assert document["layers"][-1]["command"] == ["COPY app /app"]

    text = succeeds(imported.uri, "inspect", "acme/hello:latest").splitlines()
    assert text[0].split() == ["DIGEST", imported.digest]
    assert text[4].split() == ["SIGNED", "yes"]
    assert text[6].split()[:3] == ["LAYER", "(BASE", "FIRST)"]
    assert [line.split()[:2] for line in text[7:]] == [
        [layer["digest"], layer["v1_id"][:12]] for layer in layers]


def test_inspect_raw_prints_the_exact_stored_bytes_also_by_digest(imported):
    raw = invoke(imported.uri, "inspect", "acme/hello:latest", "--raw").stdout_bytes
    assert DockerSchema1Manifest(raw).digest == imported.digest
    by_digest = invoke(imported.uri, "inspect", "acme/hello@" + imported.digest, "--raw")
    assert by_digest.stdout_bytes == raw
    database = configure(imported.uri)
    try:
        ref = registry_model.lookup_repository("acme", "hello")
        stored = registry_model.lookup_manifest_by_digest(ref, imported.digest)
        assert stored.manifest_bytes == raw
    finally:
        database.close()


def test_inspect_by_digest_finds_manifests_in_the_time_machine(imported):
    succeeds(imported.uri, "untag", "acme/hello:latest")
    assert_fails(invoke(imported.uri, "inspect", "acme/hello:latest"),
                 "tag acme/hello:latest not found")
    document = json.loads(succeeds(imported.uri, "inspect", "acme/hello@" + imported.digest,
                                   "--json"))
    assert document["digest"] == imported.digest


@pytest.mark.parametrize("args, fragment, exit_code", [
    (["acme/hello@sha256:" + "0" * 64], "manifest sha256:%s not found in acme/hello" % ("0" * 64),
     1),
    (["acme/hello@sha256:nothex"], "Invalid value for", 2),
    (["acme/hello"], "Invalid value for", 2),
    (["acme/hello:latest", "--raw", "--json"], "exclude each other", 2),
])
def test_inspect_errors(imported, args, fragment, exit_code):
    assert_fails(invoke(imported.uri, "inspect", *args), fragment, exit_code=exit_code)


# --- times -----------------------------------------------------------------------------

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")


def _times(document, key=None):
    """Every value under a key named like a time, anywhere in a JSON document."""
    if isinstance(document, dict):
        for name, value in document.items():
            yield from _times(value, name)
    elif isinstance(document, list):
        for value in document:
            yield from _times(value, key)
    elif key in ("created", "lifetime_start", "lifetime_end") and document is not None:
        yield document


def test_every_json_time_is_rfc3339_utc(imported):
    succeeds(imported.uri, "tag", "acme/hello:latest", "v1")
    succeeds(imported.uri, "untag", "acme/hello:v1")
    times = []
    for args in (["images", "acme/hello"], ["tags", "acme/hello"], ["history", "acme/hello"],
                 ["inspect", "acme/hello:latest"], ["restore", "acme/hello:v1",
                                                     imported.digest]):
        found = list(_times(json.loads(succeeds(imported.uri, *args, "--json"))))
        assert found, args
        times.extend(found)
    assert all(RFC3339_UTC.match(value) for value in times), times
    images = json.loads(succeeds(imported.uri, "images", "acme/hello", "--json"))
    layers = json.loads(succeeds(imported.uri, "inspect", "acme/hello:latest", "--json"))
    # The same moment, whichever command shows it.
    assert images[-1]["created"] == layers["layers"][-1]["created"]
