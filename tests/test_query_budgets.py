"""Every interface method stays within its DESIGN.md statement budget, whatever the data size.

Each method runs on a repository of one tag and on a large one (200 tag rows, some ended,
some hidden, the alive ones spread over a 50-deep image chain, 30 labels on the manifest
under test), with the lookup-table cache warm. A test asserts both the statement count and
the result, so a method cannot meet its budget by answering nothing.
``benchmarks/budget_table.py`` prints the measured counts from the same cases.
"""
import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from registry_model.database import Label, RepositoryTag, TagManifest, TagManifestLabel
from registry_model.datatypes import Label as LabelValue
from registry_model.datatypes import LegacyImage, Manifest, RepositoryReference, Tag
from registry_model.model import lookup
from registry_model.testing.factories import (
    ImageFactory,
    NamespaceFactory,
    RepositoryFactory,
    RepositoryTagFactory,
    TagManifestFactory,
)
from registry_model.testing.queries import count_statements

NAMESPACE = "budgets"
REPOSITORY = "subject"
TAG = "latest"
LABEL_PREFIX = "com.example.label0"


@dataclass(frozen=True)
class Size:
    """How big the repository under test is."""

    name: str
    tag_rows: int
    chain_depth: int
    labels: int


SIZES = [Size("one-tag", tag_rows=1, chain_depth=1, labels=1),
         Size("200-tags-50-deep", tag_rows=200, chain_depth=50, labels=30)]


@dataclass(frozen=True)
class Scenario:
    """The repository built for one size, and what each method should answer on it."""

    repository: RepositoryReference
    tag: Tag
    manifest: Manifest
    dead_digest: str
    chain: tuple  # docker image ids, root first
    tags_by_image: dict  # docker image id -> sorted alive, non-hidden tag names
    most_recent_tag_id: int
    matching_names: tuple  # asked of find_matching_tag; TAG is the first alive one
    labels: tuple  # (uuid, key, value, source type name), in creation order
    mutable_label_uuid: str


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _tag_plan(size: Size, now: int, chain: list) -> list:
    """Rows besides the alive TAG: TAG's own history, then ended, hidden and alive names."""
    history = min(3, size.tag_rows - 1)
    rows = []
    for k in range(history):
        start = now - 9000 + k * 100
        rows.append({"name": TAG, "image": chain[k % len(chain)].id, "lifetime_start_ts": start,
                     "lifetime_end_ts": start + 100, "hidden": False})
    alive = 0
    for i in range(size.tag_rows - 1 - history):
        row = {"name": "tag%03d" % i, "image": chain[i % len(chain)].id, "hidden": False,
               "lifetime_start_ts": now - 5000 + i, "lifetime_end_ts": None}
        if i % 10 == 3:
            row.update(lifetime_start_ts=now - 7000 + i, lifetime_end_ts=now - 6000)
        elif i % 10 == 7:
            # Hidden tags start last: get_most_recent_tag must still skip them.
            row.update(hidden=True, lifetime_start_ts=now - 10 + i % 10)
        else:
            if i % 10 == 5:
                row.update(lifetime_end_ts=now + 3600)  # alive, with an end scheduled
            row.update(image=chain[alive % len(chain)].id)
            alive += 1
        rows.append(row)
    return rows


def _manifest_json(namespace: str, repository: str, tag_name: str, row_id: int) -> str:
    return json.dumps({"schemaVersion": 1, "name": "%s/%s" % (namespace, repository),
                       "tag": tag_name, "architecture": "amd64", "fsLayers": [],
                       "history": [], "row": row_id})


def _insert_labels(tag_manifest: TagManifest, repository_id: int, count: int) -> tuple:
    sources = {name: lookup.source_type_id(name) for name in ("api", "manifest")}
    planned = []
    for i in range(count):
        if i % 2 == 0:
            value, media_type, source = json.dumps({"index": i}), "application/json", "api"
        else:
            value, media_type, source = "value %d" % i, "text/plain", "manifest"
        planned.append({"uuid": str(uuid.uuid4()), "key": "com.example.label%02d" % i,
                        "value": value, "media_type": lookup.media_type_id(media_type),
                        "source_type": sources[source]})
    # One row per statement keeps ids in creation order on every backend.
    ids = [Label.insert(row).execute() for row in planned]
    TagManifestLabel.insert_many(
        [{"repository": repository_id, "annotated": tag_manifest.id, "label": label_id}
         for label_id in ids]).execute()
    names = {source_id: name for name, source_id in sources.items()}
    return tuple((row["uuid"], row["key"], row["value"], names[row["source_type"]])
                 for row in planned)


def build_scenario(size: Size) -> Scenario:
    """Write the repository of ``size`` (plus a neighbour sharing its names) and describe it."""
    now = int(time.time())
    namespace = NamespaceFactory(name=NAMESPACE)
    repo = RepositoryFactory(namespace=namespace, name=REPOSITORY)
    chain = [ImageFactory(repository=repo)]
    while len(chain) < size.chain_depth:
        chain.append(ImageFactory(parent=chain[-1]))

    # A neighbour with the same tag name and labelled manifest must never leak in.
    neighbour = TagManifestFactory(tag__repository__namespace=namespace, tag__name=TAG)
    _insert_labels(neighbour, neighbour.tag.repository_id, 2)

    plan = _tag_plan(size, now, chain)
    if plan:
        RepositoryTag.insert_many([dict(row, repository=repo.id) for row in plan]).execute()
        bulk = RepositoryTag.select(RepositoryTag.id, RepositoryTag.name).where(
            RepositoryTag.repository == repo.id)
        manifests = []
        for row in bulk:
            json_data = _manifest_json(NAMESPACE, REPOSITORY, row.name, row.id)
            manifests.append({"tag": row.id, "json_data": json_data,
                              "digest": _digest(json_data)})
        TagManifest.insert_many(manifests).execute()
    latest_row = RepositoryTagFactory(repository=repo, name=TAG, image=chain[-1],
                                      lifetime_start_ts=now - 8000)
    latest_manifest = TagManifestFactory(tag=latest_row)
    labels = _insert_labels(latest_manifest, repo.id, size.labels)

    alive = [row for row in plan
             if not row["hidden"] and (row["lifetime_end_ts"] is None
                                       or row["lifetime_end_ts"] > now)]
    alive.append({"name": TAG, "image": chain[-1].id, "lifetime_start_ts": now - 8000})
    ids_by_name = {row.name: row.id for row in RepositoryTag.select().where(
        RepositoryTag.repository == repo.id, RepositoryTag.lifetime_end_ts.is_null(True)
        | (RepositoryTag.lifetime_end_ts > now))}
    most_recent = max(alive, key=lambda row: (row["lifetime_start_ts"],
                                              ids_by_name[row["name"]]))
    docker_ids = {image.id: image.docker_image_id for image in chain}
    tags_by_image = {image.docker_image_id: [] for image in chain}
    for row in alive:
        tags_by_image[docker_ids[row["image"]]].append(row["name"])
    dead = [row for row in plan if row["lifetime_end_ts"] is not None
            and row["lifetime_end_ts"] <= now]
    hidden = [row for row in plan if row["hidden"]]
    other_alive = [row for row in alive if row["name"] != TAG]
    matching = (["missing"] + [row["name"] for row in dead[:1] + hidden[:1]] + [TAG]
                + [row["name"] for row in other_alive[:1]])
    dead_digest = (TagManifest.select(TagManifest.digest).join(RepositoryTag)
                   .where(RepositoryTag.repository == repo.id,
                          RepositoryTag.lifetime_end_ts <= now)
                   .scalar())

    # Built from the rows, not through the interface, so each case tests one method only.
    repository = RepositoryReference.for_repo_obj(repo, NAMESPACE, "image", is_public=False)
    return Scenario(
        repository=repository,
        tag=Tag.for_repository_tag(latest_row, chain[-1].docker_image_id, repository),
        manifest=Manifest.for_tag_manifest(latest_manifest),
        dead_digest=dead_digest, chain=tuple(image.docker_image_id for image in chain),
        tags_by_image={key: sorted(names) for key, names in tags_by_image.items()},
        most_recent_tag_id=ids_by_name[most_recent["name"]],
        matching_names=tuple(matching), labels=labels,
        mutable_label_uuid=next(uuid_ for uuid_, _, _, source in labels if source == "api"))


def _assert_label(label: LabelValue, planned: tuple) -> None:
    assert isinstance(label, LabelValue)
    assert (label.uuid, label.key, label.value, label.source_type_name) == planned


def _check_find_matching_tag(registry_model, s: Scenario, result) -> None:
    assert isinstance(result, Tag)
    assert (result.id, result.name, result.docker_image_id) == (s.tag.id, TAG, s.chain[-1])
    assert result.repository == s.repository


def _check_most_recent(registry_model, s: Scenario, result) -> None:
    assert isinstance(result, Tag)
    assert result.id == s.most_recent_tag_id


def _check_lookup_repository(registry_model, s: Scenario, result) -> None:
    assert result == s.repository
    assert (result.namespace_name, result.name, result.kind) == (NAMESPACE, REPOSITORY, "image")


def _check_manifest(registry_model, s: Scenario, result) -> None:
    assert isinstance(result, Manifest)
    assert result == s.manifest
    assert json.loads(result.manifest_bytes)["tag"] == TAG


def _check_legacy_images(registry_model, s: Scenario, result) -> None:
    assert isinstance(result, list)
    by_id = {image.docker_image_id: image for image in result}
    assert sorted(by_id) == sorted(s.chain)
    for depth, docker_image_id in enumerate(s.chain):
        image = by_id[docker_image_id]
        assert [p.docker_image_id for p in image.parents] == list(reversed(s.chain[:depth]))
        assert sorted(image.tags) == s.tags_by_image[docker_image_id]


def _check_legacy_image(registry_model, s: Scenario, result) -> None:
    assert isinstance(result, LegacyImage)
    assert result.docker_image_id == s.chain[-1]
    assert result.parents is None


def _check_legacy_image_parents(registry_model, s: Scenario, result) -> None:
    assert isinstance(result, LegacyImage)
    assert result.docker_image_id == s.chain[-1]
    assert [p.docker_image_id for p in result.parents] == list(reversed(s.chain[:-1]))
    assert result.aggregate_size == sum(
        p.image_size for p in result.parents) + result.image_size


def _check_created_label(registry_model, s: Scenario, result) -> None:
    assert isinstance(result, LabelValue)
    assert (result.key, result.value, result.source_type_name, result.media_type_name) == (
        "com.example.new", '{"new": true}', "api", "application/json")
    listed = registry_model.list_manifest_labels(s.manifest)
    assert [label.uuid for label in listed] == [u for u, _, _, _ in s.labels] + [result.uuid]


def _check_listed_labels(registry_model, s: Scenario, result) -> None:
    assert len(result) == len(s.labels)
    for label, planned in zip(result, s.labels, strict=True):
        _assert_label(label, planned)


def _check_prefixed_labels(registry_model, s: Scenario, result) -> None:
    expected = [planned for planned in s.labels if planned[1].startswith(LABEL_PREFIX)]
    assert expected, "the scenario must hold labels with the prefix"
    assert len(result) == len(expected)
    for label, planned in zip(result, expected, strict=True):
        _assert_label(label, planned)


def _check_label(registry_model, s: Scenario, result) -> None:
    _assert_label(result, s.labels[len(s.labels) // 2])


def _check_deleted_label(registry_model, s: Scenario, result) -> None:
    planned = next(p for p in s.labels if p[0] == s.mutable_label_uuid)
    _assert_label(result, planned)
    assert registry_model.get_manifest_label(s.manifest, s.mutable_label_uuid) is None
    assert len(registry_model.list_manifest_labels(s.manifest)) == len(s.labels) - 1


@dataclass(frozen=True)
class Case:
    """One interface call under a budget, and the check of what it returned."""

    name: str
    budget: int
    call: Callable[[Any, Scenario], Any]
    check: Callable[[Any, Scenario, Any], None]


CASES = [
    Case("find_matching_tag", 1,
         lambda m, s: m.find_matching_tag(s.repository, list(s.matching_names)),
         _check_find_matching_tag),
    Case("get_most_recent_tag", 1,
         lambda m, s: m.get_most_recent_tag(s.repository), _check_most_recent),
    Case("lookup_repository", 1,
         lambda m, s: m.lookup_repository(NAMESPACE, REPOSITORY), _check_lookup_repository),
    Case("get_manifest_for_tag", 1,
         lambda m, s: m.get_manifest_for_tag(s.tag), _check_manifest),
    Case("lookup_manifest_by_digest", 1,
         lambda m, s: m.lookup_manifest_by_digest(s.repository, s.manifest.digest),
         _check_manifest),
    Case("get_legacy_images", 2,
         lambda m, s: m.get_legacy_images(s.repository), _check_legacy_images),
    Case("get_legacy_image", 1,
         lambda m, s: m.get_legacy_image(s.repository, s.chain[-1]), _check_legacy_image),
    Case("get_legacy_image(include_parents)", 2,
         lambda m, s: m.get_legacy_image(s.repository, s.chain[-1], include_parents=True),
         _check_legacy_image_parents),
    Case("create_manifest_label", 3,
         lambda m, s: m.create_manifest_label(s.manifest, "com.example.new",
                                              '{"new": true}', "api"),
         _check_created_label),
    Case("list_manifest_labels", 1,
         lambda m, s: m.list_manifest_labels(s.manifest), _check_listed_labels),
    Case("list_manifest_labels(key_prefix)", 1,
         lambda m, s: m.list_manifest_labels(s.manifest, key_prefix=LABEL_PREFIX),
         _check_prefixed_labels),
    Case("get_manifest_label", 1,
         lambda m, s: m.get_manifest_label(s.manifest, s.labels[len(s.labels) // 2][0]),
         _check_label),
    Case("delete_manifest_label", 3,
         lambda m, s: m.delete_manifest_label(s.manifest, s.mutable_label_uuid),
         _check_deleted_label),
]


def measure(registry_model: Any, scenario: Scenario, case: Case) -> tuple:
    """Run the case with a warm lookup cache: ``(result, statements sent)``."""
    lookup.tables()
    with count_statements() as counted:
        result = case.call(registry_model, scenario)
    return result, counted.statements


@pytest.mark.parametrize("size", SIZES, ids=[size.name for size in SIZES])
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_interface_method_stays_within_budget(registry_model, case, size):
    scenario = build_scenario(size)
    result, statements = measure(registry_model, scenario, case)
    assert len(statements) <= case.budget, statements
    case.check(registry_model, scenario, result)


def test_large_scenario_has_the_advertised_shape(registry_model):
    """The large case really holds 200 tag rows of every kind, so its counts mean something."""
    size = SIZES[-1]
    scenario = build_scenario(size)
    rows = list(RepositoryTag.select().where(RepositoryTag.repository == scenario.repository.id))
    now = int(time.time())
    assert len(rows) == size.tag_rows
    assert any(row.lifetime_end_ts is not None and row.lifetime_end_ts <= now for row in rows)
    assert any(row.lifetime_end_ts is not None and row.lifetime_end_ts > now for row in rows)
    assert any(row.hidden for row in rows)
    alive = [row for row in rows if not row.hidden
             and (row.lifetime_end_ts is None or row.lifetime_end_ts > now)]
    assert len({row.image_id for row in alive}) == size.chain_depth
    assert all(scenario.tags_by_image[docker_image_id] for docker_image_id in scenario.chain)
    assert len(scenario.chain) == size.chain_depth
    assert len(scenario.labels) == size.labels
    assert scenario.dead_digest is not None
    assert registry_model.lookup_manifest_by_digest(scenario.repository,
                                                    scenario.dead_digest) is None
    assert registry_model.lookup_manifest_by_digest(
        scenario.repository, scenario.dead_digest, allow_dead=True) is not None
