"""Every seed method stays within its budget, whatever the size of the repository.

Each method runs on a repository of one tag and on a large one (200 tag rows, some ended,
some hidden, some with an end scheduled, the alive ones spread over a 50-deep image chain,
30 labels on the manifest under test), with the lookup-table cache warm. The repositories
are built through the interface (pushes, retargets, label writes; only hiding a tag is left to
the implementation's builder). A test asserts both the statement count, read from the
method's docstring, and the result, so a method cannot meet its budget by answering nothing.
``benchmarks/budget_table.py`` prints the measured counts from the same cases.
"""
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Callable, Optional

import pytest

from registry_model import clock as registry_clock
from registry_model.connection import db
from registry_model.datatypes import Label as LabelValue
from registry_model.datatypes import LegacyImage, Manifest, RepositoryReference, Tag
from registry_model.model import lookup
from registry_model.testing.budgets import budget
from registry_model.testing.builders import layer_bytes
from registry_model.testing.implementations import IMPLEMENTATIONS
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
    dead_digest: Optional[str]
    chain: tuple  # docker image ids of TAG's image and its parents, root first
    images: dict  # docker image id -> its parents' ids, top first: every image of the repo
    tags_by_image: dict  # docker image id -> sorted alive, non-hidden tag names
    most_recent_tag_id: int
    matching_names: tuple  # asked of find_matching_tag; TAG is the first alive one
    labels: tuple  # (uuid, key, value, source type name), in creation order
    mutable_label_uuid: str
    tag_rows: int  # rows written, alive, ended and hidden
    hidden_names: tuple


class _Clock:
    """Sets the registry's clock while the scenario is built."""

    def __init__(self) -> None:
        self.now: Optional[int] = None
        self._saved = registry_clock.now_ts, registry_clock.now_ms

    def __call__(self) -> int:
        return self.now if self.now is not None else int(time.time())

    def ms(self) -> int:
        """The same instant in milliseconds (the unit of OCI tag lifetimes)."""
        return self.now * 1000 if self.now is not None else int(time.time() * 1000)

    def __enter__(self) -> "_Clock":
        registry_clock.now_ts, registry_clock.now_ms = self, self.ms
        return self

    def __exit__(self, *exc) -> None:
        registry_clock.now_ts, registry_clock.now_ms = self._saved


def _create_labels(model, manifest: Manifest, count: int) -> tuple:
    """``count`` labels, even ones api JSON, odd ones ``manifest`` text, in creation order."""
    created = []
    for i in range(count):
        if i % 2 == 0:
            value, source = json.dumps({"index": i}), "api"
        else:
            value, source = "value %d" % i, "manifest"
        label = model.create_manifest_label(manifest, "com.example.label%02d" % i, value, source)
        created.append((label.uuid, label.key, label.value, source))
    return tuple(created)


def build_scenario(model, builder, size: Size) -> Scenario:
    """Write the repository of ``size`` (plus a neighbour sharing its names) and describe it."""
    now = int(time.time())
    with _Clock() as clock:
        clock.now = now - 10000
        ref = builder.repository(NAMESPACE, REPOSITORY)
        # A neighbour with the same tag name and labelled manifest must never leak in.
        neighbour = builder.repository(NAMESPACE, "neighbour")
        _create_labels(model, builder.push_image(neighbour, TAG, layer_bytes(1, "n")).manifest, 2)

        layers = layer_bytes(size.chain_depth, "chain")
        builder.upload_all(ref, [blob for depth in range(size.chain_depth)
                                 for blob in builder.uploads_for(layers[:depth + 1])])
        rows: list = []  # (Tag as written, alive?, hidden?)
        chain_manifests = []
        for depth in range(size.chain_depth - 1):
            clock.now = now - 9500 + depth
            pushed = builder.push_image(ref, "tag%03d" % depth, layers[:depth + 1], upload=False)
            chain_manifests.append(pushed.manifest)
            rows.append((pushed.tag, True, False))
        if size.tag_rows > 1:
            dead = builder.push_image(ref, "gone", layer_bytes(1, "gone"))
            rows.append((dead.tag, False, False))
            clock.now = now - 9400
            model.delete_tag(ref, "gone")
        # TAG's own history, then TAG on the top of the chain.
        for k in range(min(3, size.tag_rows - 1)):
            clock.now = now - 9000 + k * 100
            moved = model.retarget_tag(ref, TAG, chain_manifests[k % len(chain_manifests)],
                                       None, None)
            rows.append((moved, False, False))
        clock.now = now - 8000
        top = builder.push_image(ref, TAG, layers, upload=False)
        rows.append((top.tag, True, False))
        hidden_names = []
        for i in range(len(chain_manifests), size.tag_rows - len(rows)
                       + len(chain_manifests)):
            name = "tag%03d" % i
            target = chain_manifests[i % len(chain_manifests)]
            if i % 10 == 3:
                clock.now = now - 7000 + i
                model.retarget_tag(ref, name, target, None, None)
                clock.now = now - 6000
                rows.append((model.delete_tag(ref, name), False, False))
            elif i % 10 == 7:
                # Hidden tags start last: get_most_recent_tag must still skip them.
                clock.now = now - 10 + i % 10
                tag = model.retarget_tag(ref, name, target, None, None)
                builder.hide_tag(tag)
                hidden_names.append(name)
                rows.append((tag, True, True))
            else:
                clock.now = now - 5000 + i
                tag = model.retarget_tag(ref, name, target, None, None)
                if i % 10 == 5:  # alive, with an end scheduled
                    model.change_repository_tag_expiration(
                        tag, datetime.fromtimestamp(now + 3600, tz=UTC))
                rows.append((tag, True, False))
        clock.now = None
        tag = model.get_repo_tag(ref, TAG)
        manifest = model.get_manifest_for_tag(tag)
        labels = _create_labels(model, manifest, size.labels)

    chain = tuple(image.docker_image_id for image in reversed(
        (lambda leaf: (leaf,) + leaf.parents)(
            model.get_legacy_image(ref, tag.docker_image_id, include_parents=True))))
    images = {}  # every tag row's image and its parents: every image of the repository
    for docker_image_id in {row.docker_image_id for row, _, _ in rows}:
        leaf = model.get_legacy_image(ref, docker_image_id, include_parents=True)
        line = (leaf,) + leaf.parents
        for place, image in enumerate(line):
            images[image.docker_image_id] = [p.docker_image_id for p in line[place + 1:]]
    visible = [row for row, alive, hidden in rows if alive and not hidden]
    tags_by_image = {docker_image_id: [] for docker_image_id in images}
    for row in visible:
        tags_by_image[row.docker_image_id].append(row.name)
    most_recent = max(visible, key=lambda row: (row.lifetime_start_ts, row.id))
    ended = [row for row, alive, _ in rows if not alive]
    other_alive = [row for row in visible if row.name != TAG]
    matching = (["missing"] + [row.name for row in ended[:1]] + hidden_names[:1] + [TAG]
                + [row.name for row in other_alive[:1]])
    return Scenario(
        repository=ref, tag=tag, manifest=manifest,
        dead_digest=dead.manifest.digest if size.tag_rows > 1 else None, chain=chain,
        images=images,
        tags_by_image={key: sorted(names) for key, names in tags_by_image.items()},
        most_recent_tag_id=most_recent.id, matching_names=tuple(matching), labels=labels,
        mutable_label_uuid=next(uuid_ for uuid_, _, _, source in labels if source == "api"),
        tag_rows=len(rows), hidden_names=tuple(hidden_names))


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
    assert result.digest == s.tag.manifest_digest


def _check_legacy_images(registry_model, s: Scenario, result) -> None:
    assert isinstance(result, list)
    by_id = {image.docker_image_id: image for image in result}
    assert sorted(by_id) == sorted(s.images)
    for docker_image_id, parents in s.images.items():
        image = by_id[docker_image_id]
        assert [p.docker_image_id for p in image.parents] == parents
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
    budget: int  # read from the method's docstring
    call: Callable[[Any, Scenario], Any]
    check: Callable[[Any, Scenario, Any], None]


CASES = [
    Case("find_matching_tag", budget("find_matching_tag"),
         lambda m, s: m.find_matching_tag(s.repository, list(s.matching_names)),
         _check_find_matching_tag),
    Case("get_most_recent_tag", budget("get_most_recent_tag"),
         lambda m, s: m.get_most_recent_tag(s.repository), _check_most_recent),
    Case("lookup_repository", budget("lookup_repository"),
         lambda m, s: m.lookup_repository(NAMESPACE, REPOSITORY), _check_lookup_repository),
    Case("get_manifest_for_tag", budget("get_manifest_for_tag"),
         lambda m, s: m.get_manifest_for_tag(s.tag), _check_manifest),
    Case("lookup_manifest_by_digest", budget("lookup_manifest_by_digest"),
         lambda m, s: m.lookup_manifest_by_digest(s.repository, s.manifest.digest),
         _check_manifest),
    Case("get_legacy_images", budget("get_legacy_images"),
         lambda m, s: m.get_legacy_images(s.repository), _check_legacy_images),
    Case("get_legacy_image", budget("get_legacy_image"),
         lambda m, s: m.get_legacy_image(s.repository, s.chain[-1]), _check_legacy_image),
    Case("get_legacy_image(include_parents)", budget("get_legacy_image", "with parents"),
         lambda m, s: m.get_legacy_image(s.repository, s.chain[-1], include_parents=True),
         _check_legacy_image_parents),
    Case("create_manifest_label", budget("create_manifest_label"),
         lambda m, s: m.create_manifest_label(s.manifest, "com.example.new",
                                              '{"new": true}', "api"),
         _check_created_label),
    Case("list_manifest_labels", budget("list_manifest_labels"),
         lambda m, s: m.list_manifest_labels(s.manifest), _check_listed_labels),
    Case("list_manifest_labels(key_prefix)", budget("list_manifest_labels"),
         lambda m, s: m.list_manifest_labels(s.manifest, key_prefix=LABEL_PREFIX),
         _check_prefixed_labels),
    Case("get_manifest_label", budget("get_manifest_label"),
         lambda m, s: m.get_manifest_label(s.manifest, s.labels[len(s.labels) // 2][0]),
         _check_label),
    Case("delete_manifest_label", budget("delete_manifest_label"),
         lambda m, s: m.delete_manifest_label(s.manifest, s.mutable_label_uuid),
         _check_deleted_label),
]


def measure(registry_model: Any, scenario: Scenario, case: Case) -> tuple:
    """Run the case with a warm lookup cache: ``(result, statements sent)``."""
    lookup.tables()
    with count_statements() as counted:
        result = case.call(registry_model, scenario)
    return result, counted.statements


@pytest.fixture(scope="module", params=[(entry, size) for entry in IMPLEMENTATIONS
                                        for size in SIZES],
                ids=["%s-%s" % (entry.name, size.name) for entry in IMPLEMENTATIONS
                     for size in SIZES])
def built(request, registry_model_session_database):
    """``(model, scenario, size)``: each implementation's repository of each size, built once.

    Built in a transaction around the module's tests, each of which rolls back its own
    writes (``initialized_db`` nests a savepoint), so the 13 cases share one build.
    """
    implementation, size = request.param
    database = registry_model_session_database
    db.initialize(database)
    model = implementation.model_class()
    with database.atomic() as outer:
        yield model, build_scenario(model, implementation.builder_class(model), size), size
        outer.rollback()


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_interface_method_stays_within_budget(built, initialized_db, case):
    model, scenario, _ = built
    result, statements = measure(model, scenario, case)
    assert len(statements) <= case.budget, statements
    case.check(model, scenario, result)


def test_find_matching_tag_of_no_names_sends_nothing(built, initialized_db):
    model, scenario, _ = built
    lookup.tables()
    with count_statements() as counted:
        assert model.find_matching_tag(scenario.repository, []) is None
    assert counted.count <= budget("find_matching_tag", "for an empty list"), counted.statements


def test_the_scenario_has_the_advertised_shape(built, initialized_db):
    """The large case really holds 200 tag rows of every kind, so its counts mean something."""
    model, scenario, size = built
    now = int(time.time())
    assert scenario.tag_rows == size.tag_rows
    history, more = model.list_repository_tag_history(scenario.repository, size=1000)
    alive = model.list_all_active_repository_tags(scenario.repository)
    assert len({row.docker_image_id for row in alive}) == size.chain_depth
    assert scenario.tags_by_image[scenario.chain[-1]]
    assert len(scenario.chain) == size.chain_depth
    assert len(scenario.labels) == size.labels
    if size.tag_rows == 1:
        assert (len(history), more, scenario.dead_digest, scenario.hidden_names) == (
            1, False, None, ())
        return
    assert not more
    assert any(row.lifetime_end_ts is not None and row.lifetime_end_ts <= now for row in history)
    assert any(row.lifetime_end_ts is not None and row.lifetime_end_ts > now for row in alive)
    assert scenario.hidden_names
    assert all(model.get_repo_tag(scenario.repository, name) is None
               for name in scenario.hidden_names)
    assert not {tag.name for tag in alive} & set(scenario.hidden_names)
    assert model.lookup_manifest_by_digest(scenario.repository, scenario.dead_digest) is None
    assert model.lookup_manifest_by_digest(
        scenario.repository, scenario.dead_digest, allow_dead=True) is not None
