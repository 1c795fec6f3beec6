"""Random operation sequences through OCIModel, checked against a plain-Python model.

A hypothesis state machine pushes images, indexes of stored children (indexes among
them), referrers (their subject stored or not yet, referrers of referrers too), by tag
or by digest (a hidden temporary tag), moves, deletes and expires tags, makes them
immutable and mutable again, moves a fake millisecond clock and collects garbage, in one
repository of a real, committing database (a scratch one of the current backend). Layers
come from a small pool and images repeat, so blobs and manifests are shared and pushed
again.
After every step the rows equal :class:`tests.oci.registry_state.RepositoryState`
(manifests with their ids, children, blob rows and labels; tag rows to the
millisecond; links; blob records) and the reads agree with it (tags by name,
manifests by digest, alive or dead, and referrers). A write refused because a tag is
immutable changes no row at all. Each example starts from empty tables.

CI runs a fixed set of examples (``CI_SEED``); ``REGISTRY_MODEL_HYPOTHESIS_EXAMPLES``
and ``REGISTRY_MODEL_HYPOTHESIS_STEPS`` ask for a longer, random run, as in
tests/pre_oci/test_state_machine.py.
"""
import json
import os
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from unittest import mock

import pytest
from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from registry_model import OCIModel, clock, errors
from registry_model.blobstore import InMemoryBlobStore
from registry_model.database import (
    ALL_MODELS,
    LOOKUP_MODELS,
    ImageStorage,
    Label,
    Manifest,
    ManifestBlob,
    ManifestChild,
    ManifestLabel,
    Tag,
    UploadedBlob,
)
from registry_model.testing.databases import migrated_scratch_database, snapshot_rows
from registry_model.testing.factories import NamespaceFactory, RepositoryFactory

from . import config_bytes, image_manifest, index_manifest, layer_bytes, parse, sha256_digest
from .registry_state import Link, ManifestRow, RepositoryState, TagRow

EXAMPLES_VARIABLE = "REGISTRY_MODEL_HYPOTHESIS_EXAMPLES"
STEPS_VARIABLE = "REGISTRY_MODEL_HYPOTHESIS_STEPS"
CI_EXAMPLES = 25
CI_STEPS = 25
CI_SEED = 7

START_MS = 1_800_000_000_123  # mid-second: milliseconds and the collector's seconds differ
WINDOW = 120  # the namespace's time machine, seconds
LINK_S = 600  # how long an upload links its blob
TEMPORARY_MS = OCIModel.temporary_tag_s * 1000
NAMES = ("a", "b", "c")
LAYERS = [layer_bytes(index, "pool") for index in range(4)]
LABELS = (None, "30s", "5m", "soon")  # a config's quay.expires-after ("soon" is no duration)
SIGNATURE = "application/example.signature"
TABLES = [model for model in reversed(ALL_MODELS) if model not in LOOKUP_MODELS]
EVENTS: Counter = Counter()
REQUIRED_EVENTS = (
    "push image", "push by digest", "re-push", "push refused", "push index",
    "index refused", "push referrer", "referrer before subject", "referrer of referrer",
    "retag", "retag refused", "delete", "expire", "expire refused", "immutable",
    "immutable refused", "mutable", "collected manifests", "collected tags",
    "collected blobs", "visible by chain", "re-push with expiry",
    "hidden tag let go within the window", "push nested index", "visible below a nested index",
)

names = st.sampled_from(NAMES)
maybe_names = st.one_of(st.none(), names)
# Few distinct images, so pushes repeat: (seed, layers, the config's expires-after).
IMAGE_SPECS = [(image_seed, layers, LABELS[image_seed]) for image_seed in range(len(LABELS))
               for layers in ((0,), (1,), (0, 1), (2, 3))]
# (hypothesis draws the first items of a short list far more often than the others)
image_specs = st.integers(0, 1023).map(lambda index: IMAGE_SPECS[index % len(IMAGE_SPECS)])
OPERATIONS = st.one_of(
    st.tuples(st.just("push image"), maybe_names, image_specs,
              st.sampled_from((True, True, True, False))),
    st.tuples(st.just("push index"), maybe_names, st.lists(st.integers(0, 50), min_size=1,
                                                           max_size=3)),
    st.tuples(st.just("push referrer"), maybe_names, st.integers(0, 2),
              st.one_of(image_specs, st.integers(0, 50))),
    st.tuples(st.just("retag"), names, st.integers(0, 50)),
    st.tuples(st.just("delete"), names),
    st.tuples(st.just("expire"), names, st.one_of(st.none(), st.integers(-300_000, 90_000))),
    st.tuples(st.just("immutable"), names, st.booleans()),
    # Advances around the time machine and the temporary tags' hour.
    st.tuples(st.just("collect"), st.sampled_from((0, 1, 60, 121, 3500, 3601, 3725)),
              st.integers(1, 3)),
    st.tuples(st.just("clock"), st.integers(1, 200_000)),
)


def image_bytes(spec) -> tuple:
    """``(manifest bytes, config bytes, layers)`` of an image spec (seed, layers, label)."""
    image_seed, layers, label = spec
    labels = {"com.example.seed": str(image_seed)}
    if label is not None:
        labels["quay.expires-after"] = label
    config = config_bytes(len(layers), labels=labels, seed="image%d" % image_seed)
    blobs = [LAYERS[index] for index in layers]
    return image_manifest(config, blobs), config, blobs


class OCIRegistryMachine(RuleBasedStateMachine):
    """Operations through OCIModel, each mirrored on RepositoryState and checked."""

    def __init__(self) -> None:
        super().__init__()
        for model in TABLES:
            model.delete().execute()
        self.state = RepositoryState(START_MS, WINDOW)
        self.patches = [mock.patch.object(clock, "now_ms", lambda: self.state.now),
                        mock.patch.object(clock, "now_ts", lambda: self.state.now // 1000)]
        for patch in self.patches:
            patch.start()
        self.store = InMemoryBlobStore(clock=lambda: self.state.now // 1000)
        self.model = OCIModel()
        RepositoryFactory(namespace=NamespaceFactory(name="oci", removed_tag_expiration_s=WINDOW),
                          name="repo")
        self.ref = self.model.lookup_repository("oci", "repo")
        self.bytes: dict = {}  # digest -> manifest bytes of everything ever built
        self.handles: dict = {}  # digest -> the last Manifest a push returned

    def teardown(self) -> None:
        for patch in self.patches:
            patch.stop()

    @staticmethod
    def _pick(pick: int, items: list):
        return items[pick % len(items)] if items else None

    # --- pushes ----------------------------------------------------------------------

    def _upload(self, data: bytes) -> None:
        digest = self.store.put(data).digest
        upload = self.model.create_blob_upload(self.ref, str(uuid.uuid4()), "local", {})
        upload = self.model.update_blob_upload(upload, None, None, len(data), 1, None)
        assert self.model.commit_blob_upload(upload, digest, LINK_S).digest == digest
        self.state.links.append(Link(digest, self.state.now // 1000 + LINK_S))
        self.state.records.add(digest)

    def _push(self, name, manifest_bytes: bytes, blobs: list, children=(), labels=()) -> None:
        """Push and mirror it; refusals (missing blob or child, immutable tag) change nothing."""
        parsed = parse(manifest_bytes)
        digest = parsed.digest
        self.bytes[digest] = manifest_bytes
        state = self.state
        existing = digest in state.manifests
        missing_blob = not existing and not all(self.state.linked(sha256_digest(b)) for b in blobs)
        missing_child = not existing and any(child not in state.manifests for child in children)
        alive = state.alive(name) if name is not None else None
        immutable = alive is not None and alive.immutable
        if missing_blob or missing_child or immutable:
            error = (errors.ManifestBlobUnknownException if missing_blob
                     else errors.ManifestChildUnknownException if missing_child
                     else errors.ImmutableTagException)
            before = snapshot_rows()
            with pytest.raises(error):
                self.model.create_manifest_and_retarget_tag(self.ref, parsed, name, self.store)
            assert snapshot_rows() == before
            EVENTS["index refused" if children else "push refused"] += 1
            EVENTS["immutable refused"] += immutable
            return
        manifest, tag = self.model.create_manifest_and_retarget_tag(self.ref, parsed, name,
                                                                    self.store)
        assert manifest.digest == digest
        self.handles[digest] = manifest
        if existing:
            assert state.manifests[digest].id == manifest.id
            EVENTS["re-push"] += 1
            EVENTS["re-push with expiry"] += name is not None and bool(
                state.expires_after(digest))
        else:
            state.manifests[digest] = ManifestRow(
                manifest.id, frozenset(sha256_digest(b) for b in blobs), tuple(children),
                parsed.subject.digest if parsed.subject is not None else None, list(labels))
        if name is None:
            assert tag is None
            state.tags.append(TagRow(uuid.uuid4().hex, digest, state.now,
                                     state.now + TEMPORARY_MS, hidden=True))
            EVENTS["push by digest"] += 1
            return
        row = state.move(name, digest, state.expires_after(digest))
        assert (tag.name, tag.manifest_digest, tag.lifetime_start_ts, tag.lifetime_end_ts) == (
            name, digest, row.start // 1000, row.end // 1000 if row.end is not None else None)

    def push_image(self, name, spec, upload) -> None:
        manifest_bytes, config, blobs = image_bytes(spec)
        if upload:
            for data in [config] + blobs:
                if not self.state.linked(sha256_digest(data)):
                    self._upload(data)
        _, _, label = spec
        labels = [("com.example.seed", str(spec[0]))]
        labels += [("quay.expires-after", label)] if label is not None else []
        self._push(name, manifest_bytes, [config] + blobs, labels=labels)
        EVENTS["push image"] += 1

    def push_index(self, name, picks) -> None:
        # Images and indexes (an index may list indexes), not referrers.
        candidates = [digest for digest, data in self.bytes.items()
                      if parse(data).subject is None]
        if not candidates:
            return
        children = list(dict.fromkeys(self._pick(pick, candidates) for pick in picks))
        types = [json.loads(self.bytes[child])["mediaType"] for child in children]
        manifest_bytes = index_manifest([self.bytes[child] for child in children],
                                        child_types=types)
        self._push(name, manifest_bytes, [], children=children)
        EVENTS["push index"] += 1
        EVENTS["push nested index"] += any(parse(self.bytes[child]).is_manifest_list
                                           for child in children)

    def push_referrer(self, name, number, subject) -> None:
        if isinstance(subject, int):
            subject_bytes = self._pick(subject, list(self.bytes.values()))
            if subject_bytes is None:
                return
        else:
            subject_bytes = image_bytes(subject)[0]
        subject_digest = sha256_digest(subject_bytes)
        EVENTS["referrer before subject"] += subject_digest not in self.state.manifests
        EVENTS["referrer of referrer"] += bool(json.loads(subject_bytes).get("subject"))
        config = config_bytes(1, seed="referrer%d" % number)
        for data in (config, LAYERS[0]):
            if not self.state.linked(sha256_digest(data)):
                self._upload(data)
        manifest_bytes = image_manifest(config, [LAYERS[0]], subject=subject_bytes,
                                        artifact_type=SIGNATURE)
        self._push(name, manifest_bytes, [config, LAYERS[0]])
        EVENTS["push referrer"] += 1

    # --- tags ------------------------------------------------------------------------

    def retag(self, name, pick) -> None:
        handle = self._pick(pick, list(self.handles.values()))
        if handle is None:
            return
        state = self.state
        stored = state.manifests.get(handle.digest)
        alive = state.alive(name)
        if alive is not None and alive.immutable and stored is not None \
                and stored.id == handle.id:
            self._refused_by_immutability(
                lambda: self.model.retarget_tag(self.ref, name, handle, None))
            return
        tag = self.model.retarget_tag(self.ref, name, handle, None)
        if stored is None or stored.id != handle.id:  # collected since: a stale handle
            assert tag is None
            EVENTS["retag refused"] += 1
            return
        row = state.move(name, handle.digest)
        assert (tag.manifest_digest, tag.lifetime_start_ts) == (handle.digest, row.start // 1000)
        EVENTS["retag"] += 1

    def _refused_by_immutability(self, call) -> None:
        before = snapshot_rows()
        with pytest.raises(errors.ImmutableTagException):
            call()
        assert snapshot_rows() == before
        EVENTS["immutable refused"] += 1

    def delete(self, name) -> None:
        alive = self.state.alive(name)
        if alive is not None and alive.immutable:
            self._refused_by_immutability(lambda: self.model.delete_tag(self.ref, name))
            return
        ended = self.model.delete_tag(self.ref, name)
        assert (ended is None) == (alive is None)
        self.state.end_alive(name)
        EVENTS["delete"] += ended is not None

    def expire(self, name, delta) -> None:
        alive = self.state.alive(name)
        if alive is None:
            return
        tag = self.model.get_repo_tag(self.ref, name)
        end = None if delta is None else self.state.now + delta
        when = None if end is None else datetime.fromtimestamp(end / 1000, tz=UTC)
        if end is not None and end <= alive.start:
            assert self.model.change_repository_tag_expiration(tag, when) == (None, False)
            EVENTS["expire refused"] += 1
            return
        if end is not None and alive.immutable:
            self._refused_by_immutability(
                lambda: self.model.change_repository_tag_expiration(tag, when))
            return
        _, changed = self.model.change_repository_tag_expiration(tag, when)
        assert changed
        alive.end = end
        EVENTS["expire"] += 1

    def immutable(self, name, immutable) -> None:
        alive = self.state.alive(name)
        if alive is None:
            return
        tag = self.model.get_repo_tag(self.ref, name)
        if immutable and alive.end is not None:
            with pytest.raises(errors.DataModelException):
                self.model.change_tag_immutability(tag, True)
            return
        assert self.model.change_tag_immutability(tag, immutable).immutable == immutable
        alive.immutable = immutable
        EVENTS["immutable" if immutable else "mutable"] += 1

    # --- time and collection ---------------------------------------------------------

    def collect(self, advance_s, batch_size) -> None:
        self.state.now += advance_s * 1000
        now_s = self.state.now // 1000
        EVENTS["hidden tag let go within the window"] += sum(
            row.hidden and row.end is not None and (now_s - WINDOW) * 1000 < row.end <= now_s * 1000
            for row in self.state.tags)
        expected = self.state.collect()
        summary = self.model.garbage_collect_repository(
            self.ref, self.store, now=self.state.now // 1000, batch_size=batch_size, grace_s=0)
        assert {kind: getattr(summary, kind) for kind in expected} == expected
        for kind in ("manifests", "tags", "blobs"):
            EVENTS["collected " + kind] += expected[kind]

    @rule(operation=OPERATIONS)
    def step(self, operation):
        kind, *arguments = operation
        if kind == "clock":
            self.state.now += arguments[0]
            return
        getattr(self, kind.replace(" ", "_"))(*arguments)

    # --- the invariant ---------------------------------------------------------------

    @invariant()
    def database_equals_model(self):
        EVENTS["steps"] += 1
        state = self.state
        digests = dict(Manifest.select(Manifest.id, Manifest.digest).tuples())
        assert {digest: row_id for row_id, digest in digests.items()} == {
            digest: row.id for digest, row in state.manifests.items()}
        assert {(digests[m], digests[c]) for m, c in ManifestChild.select(
            ManifestChild.manifest, ManifestChild.child_manifest).tuples()} == {
            (digest, child) for digest, row in state.manifests.items() for child in row.children}
        assert {(digests[m], blob) for m, blob in ManifestBlob.select(
            ManifestBlob.manifest, ImageStorage.content_checksum).join(ImageStorage).tuples()} \
            == {(digest, blob) for digest, row in state.manifests.items() for blob in row.blobs}
        assert sorted((digests[m], key, value) for m, key, value in ManifestLabel.select(
            ManifestLabel.manifest, Label.key, Label.value).join(Label).tuples()) == sorted(
            (digest, key, value) for digest, row in state.manifests.items()
            for key, value in row.labels)
        assert Counter((name if not hidden else "", digests[m], start, end, hidden, immutable)
                       for name, m, start, end, hidden, immutable in Tag.select(
                           Tag.name, Tag.manifest, Tag.lifetime_start_ms, Tag.lifetime_end_ms,
                           Tag.hidden, Tag.immutable).tuples()) == Counter(
            (row.name if not row.hidden else "", row.digest, row.start, row.end, row.hidden,
             row.immutable) for row in state.tags)
        assert sorted(UploadedBlob.select(ImageStorage.content_checksum, UploadedBlob.expires_at)
                      .join(ImageStorage).tuples()) == sorted(
            (link.digest, link.expires) for link in state.links)
        assert {row[0] for row in ImageStorage.select(ImageStorage.content_checksum)
                .tuples()} == state.records
        # The reads agree.
        for name in NAMES:
            tag, alive = self.model.get_repo_tag(self.ref, name), state.alive(name)
            assert (tag.manifest_digest if tag else None) == (alive.digest if alive else None)
            assert (tag.immutable if tag else None) == (alive.immutable if alive else None)
        for digest in self.bytes:
            for any_tag in (False, True):
                found = self.model.lookup_manifest_by_digest(self.ref, digest,
                                                             allow_dead=any_tag)
                assert (found is not None) == state.visible(digest, any_tag), (digest, any_tag)
            referrers = self.model.lookup_referrers(self.ref, digest)
            assert [referrer.digest for referrer in referrers] == state.referrers(digest)
            row = state.manifests.get(digest)
            EVENTS["visible by chain"] += bool(row and row.subject and state.visible(digest))
            EVENTS["visible below a nested index"] += bool(
                row and state.visible(digest) and self._below_a_nested_index(digest))

    def _below_a_nested_index(self, digest: str) -> bool:
        """The manifest is a child of an index that is a child itself."""
        manifests = self.state.manifests
        return any(digest in parent.children
                   and any(parent_digest in other.children for other in manifests.values())
                   for parent_digest, parent in manifests.items())


@pytest.fixture(scope="module")
def committing_database():
    """A scratch database of the current backend where writes commit."""
    with migrated_scratch_database() as database:
        yield database


def machine_settings() -> settings:
    examples = os.environ.get(EXAMPLES_VARIABLE)
    return settings(max_examples=int(examples or CI_EXAMPLES),
                    stateful_step_count=int(os.environ.get(STEPS_VARIABLE) or CI_STEPS),
                    database=None, deadline=None, print_blob=True,
                    phases=tuple(Phase) if examples else (Phase.explicit, Phase.generate),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


def test_random_oci_operations_keep_the_database_equal_to_the_model(committing_database,
                                                                     no_local_constants):
    EVENTS.clear()
    started = time.monotonic()
    machine = OCIRegistryMachine
    if os.environ.get(EXAMPLES_VARIABLE) is None:
        machine = seed(CI_SEED)(type("OCIRegistryMachineCI", (OCIRegistryMachine,), {}))
    run_state_machine_as_test(machine, settings=machine_settings())
    print("oci state machine: %d steps checked in %.1f s; %s" % (
        EVENTS["steps"], time.monotonic() - started, dict(sorted(EVENTS.items()))))
    never = [name for name in REQUIRED_EVENTS if not EVENTS[name]]
    assert never == [], "these steps never happened with CI_SEED %d: %s" % (CI_SEED, never)
