"""The bad-input corpus: hostile manifests, names and label values through the full write path.

Every file of ``tests/data/manifests/invalid`` and ``tampered``, and mutations
generated from the valid schema 1 manifests (truncations, broken signatures,
missing or mismatched layers and history, fields of the wrong type, blob digest
claims the repository cannot back, non-UTF-8 bytes, deep nesting, ten thousand
layers) go through ``parse_manifest_from_bytes`` and, whenever that parses them
(with or without signature validation), ``create_manifest_and_retarget_tag``.
Each is either refused with a :mod:`registry_model.errors` exception, leaving
every row of every table as it was, or stored cleanly (the exact bytes, under
the tag, found by digest). Names and label values at each length limit are
stored; one past it they are refused through the interface, the model and a push.

The number of bad inputs tried is printed at the end of the module.
"""
import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from registry_model import clock, errors, validation
from registry_model.database import transaction
from registry_model.manifests import (
    DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE,
    DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE,
    DockerSchema1ManifestBuilder,
    ManifestException,
    parse_manifest_from_bytes,
)
from registry_model.model import blob as blob_model
from registry_model.model import lookup
from registry_model.model import namespace as namespace_model
from registry_model.model import repository as repository_model
from registry_model.model import storage as storage_model
from registry_model.pre_oci import image as image_model
from registry_model.pre_oci import label as label_model
from registry_model.pre_oci import manifest as manifest_model
from registry_model.pre_oci import tag as tag_model
from registry_model.testing.databases import snapshot_rows as snapshot
from registry_model.testing.factories import (
    NamespaceFactory,
    RepositoryFactory,
    TagManifestFactory,
)

SIGNED, UNSIGNED = DOCKER_SCHEMA1_SIGNED_MANIFEST_CONTENT_TYPE, DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE
MEDIA_TYPES = (SIGNED, UNSIGNED, "application/json",
               "application/vnd.docker.distribution.manifest.v2+json")
CORPUS = Path(__file__).resolve().parent / "data" / "manifests"
VALID = sorted((CORPUS / "valid").glob("schema1-*/*.json"))
INVALID = sorted((CORPUS / "invalid").iterdir())
TAMPERED = sorted((CORPUS / "tampered" / "schema1").iterdir())
TRUNCATIONS_PER_FILE = 48
HUGE_LAYER_COUNT = 10_000
MAX_LABEL_VALUE_BYTES = validation.MAX_LABEL_VALUE_BYTES
LIMITS_BLOB = "sha256:" + hashlib.sha256(b"limits").hexdigest()

TRIED = Counter()
OUTCOMES = Counter()


@pytest.fixture(scope="module", autouse=True)
def report_bad_inputs(request):
    """Print how many bad inputs the module tried, by kind."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None and TRIED:
        with capture.global_and_fixture_disabled():
            reporter.ensure_newline()
            reporter.write_line("test_bad_input_corpus: %d bad inputs tried (%s); manifest "
                                "attempts: %s" % (
                                    sum(TRIED.values()),
                                    ", ".join("%s %d" % item for item in sorted(TRIED.items())),
                                    ", ".join("%s %d" % item
                                              for item in sorted(OUTCOMES.items()))))


def media_type_of(path: Path) -> str:
    return UNSIGNED if "unsigned" in path.parts[-2] else SIGNED


def _id(path: Path) -> str:
    return "%s/%s" % (path.parts[-2], path.name)


def link_blobs(ref, digests) -> None:
    """Link each digest to the repository, as committed uploads would."""
    location = lookup.location_id("local")
    with transaction():
        for digest in sorted(set(digests)):
            blob = blob_model.get_or_create_blob(digest, 1234, None, location)
            blob_model.link_blob(ref.id, blob.id, 3600, clock.now_ts())


@pytest.fixture
def ref(registry_model):
    """devtable/corpus with every blob of the valid and tampered corpus linked to it."""
    RepositoryFactory(namespace__name="devtable", name="corpus")
    ref = registry_model.lookup_repository("devtable", "corpus")
    digests = set()
    for path in VALID + TAMPERED:
        parsed = parse_manifest_from_bytes(path.read_bytes(), media_type_of(path), validate=False)
        digests.update(parsed.blob_digests)
    link_blobs(ref, digests)
    return ref


def push_through(registry_model, ref, data: bytes, media_type: str, kind: str,
                 validate_modes=(True, False), tag_name: str = "latest") -> Counter:
    """Parse ``data`` (validating and not) and push what parses; how each attempt ended.

    A refusal must be a registry_model.errors exception that left every row as
    it was; an accepted push must store the exact bytes under the tag.
    """
    TRIED[kind] += 1
    outcomes = Counter()
    for validate in validate_modes:
        try:
            parsed = parse_manifest_from_bytes(data, media_type, validate=validate)
        except ManifestException:
            outcomes["refused by the parser"] += 1
            continue
        before = snapshot()
        try:
            manifest, tag = registry_model.create_manifest_and_retarget_tag(ref, parsed,
                                                                            tag_name, None)
        except errors.DataModelException:
            assert snapshot() == before, "a refused push changed rows"
            outcomes["refused by the push"] += 1
            continue
        assert manifest.manifest_bytes == bytes(data)
        assert manifest.digest == parsed.digest
        assert registry_model.get_repo_tag(ref, tag_name) == tag
        assert registry_model.lookup_manifest_by_digest(ref, parsed.digest) == manifest
        outcomes["stored cleanly"] += 1
    OUTCOMES.update(outcomes)
    return outcomes


# The corpus files.

@pytest.mark.parametrize("path", INVALID, ids=_id)
def test_invalid_corpus_files_are_refused_by_the_parser_whatever_the_media_type(
        registry_model, ref, path):
    data = path.read_bytes()
    for media_type in MEDIA_TYPES:
        outcomes = push_through(registry_model, ref, data, media_type, "invalid files")
        assert outcomes == {"refused by the parser": 2}, media_type


@pytest.mark.parametrize("path", TAMPERED, ids=_id)
def test_tampered_manifests_fail_verification_and_push_cleanly_unverified(
        registry_model, ref, path):
    outcomes = push_through(registry_model, ref, path.read_bytes(), SIGNED, "tampered files")
    assert outcomes["refused by the parser"] == 1  # the validating parse
    assert outcomes["refused by the parser"] + outcomes["stored cleanly"] == 2


# Mutations of the valid manifests, a loop per kind over every valid file.

def truncations(data: bytes) -> list:
    step = max(1, len(data) // TRUNCATIONS_PER_FILE)
    offsets = set(range(0, len(data), step)) | set(range(max(0, len(data) - 8), len(data)))
    return [data[:offset] for offset in sorted(offsets)]


def test_truncated_manifests_are_refused_before_any_write(registry_model, ref):
    before = snapshot()
    for path in VALID:
        data = path.read_bytes()
        for truncated in truncations(data):
            outcomes = push_through(registry_model, ref, truncated, media_type_of(path),
                                    "truncations")
            if outcomes != {"refused by the parser": 2}:
                # Only whitespace after the closing brace can go.
                assert truncated.rstrip() == data.rstrip(), (path.name, len(truncated))
                before = snapshot()
    assert snapshot() == before


def _not_utf8(data: bytes) -> list:
    text = data.decode("utf-8")
    name = re.search(rb'"name":\s*"', data).end()
    variants = [
        data[:name] + b"\xff" + data[name:],  # a byte no UTF-8 text holds
        data[:name] + b"\xc3" + data[name:],  # a truncated two-byte sequence
        data[:name] + b"\xed\xa0\x80" + data[name:],  # an encoded surrogate
        b"\xef\xbb\xbf" + data,  # a byte-order mark
        text.encode("utf-16"),
        text.encode("utf-32-le"),
        data.replace(b"{", b"{\x00", 1),
    ]
    latin1 = text.encode("latin-1", errors="replace")
    try:
        latin1.decode("utf-8")
    except UnicodeDecodeError:
        variants.append(latin1)
    return variants


def test_manifests_that_are_not_utf8_json_are_refused_before_any_write(registry_model, ref):
    before = snapshot()
    for path in VALID:
        for variant in _not_utf8(path.read_bytes()):
            outcomes = push_through(registry_model, ref, variant, media_type_of(path),
                                    "non-UTF-8")
            assert outcomes == {"refused by the parser": 2}, path.name
    assert snapshot() == before


def _signature_breakages(data: bytes) -> list:
    document = json.loads(data)
    signature = document["signatures"][0]
    variants = []

    def with_signature(**changes) -> bytes:
        changed = json.loads(data)
        changed["signatures"][0] = dict(signature, **changes)
        return json.dumps(changed, indent=3).encode()

    flipped = signature["signature"][:-2] + ("A" if signature["signature"][-2] != "A" else "B")
    variants.append(with_signature(signature=flipped + signature["signature"][-1]))
    variants.append(with_signature(signature=signature["signature"][:-4]))
    variants.append(with_signature(signature="!" + signature["signature"]))
    variants.append(with_signature(protected=signature["protected"][:-3]))
    variants.append(with_signature(protected="e30"))  # {}
    variants.append(with_signature(header={"alg": "none"}))
    variants.append(with_signature(header={"jwk": {"kty": "oct", "k": "c2VjcmV0"},
                                           "alg": "HS256"}))
    variants.append(with_signature(header=dict(signature["header"], alg="RS256")))
    for value in ("x", [1], [{}], {}, 1):
        changed = json.loads(data)
        changed["signatures"] = value
        variants.append(json.dumps(changed).encode())
    # The payload edited after signing: the signature no longer covers it.
    tag = re.search(rb'"tag":\s*"', data).end()
    variants.append(data[:tag] + b"x" + data[tag:])
    return variants


def test_broken_signatures_are_refused_verified_and_push_cleanly_or_not_at_all_unverified(
        registry_model, ref):
    outcomes = Counter()
    for path in VALID:
        if media_type_of(path) != SIGNED:
            continue
        for variant in _signature_breakages(path.read_bytes()):
            result = push_through(registry_model, ref, variant, SIGNED, "broken signatures")
            assert result["refused by the parser"] >= 1, path.name  # the validating parse
            outcomes.update(result)
    # Unverified, an edit after signing still parses: the push path must cope with it.
    assert outcomes["stored cleanly"] > 0


DELETE = object()


def _content_mutations(content: dict) -> list:
    """``(what, mutated content)`` for one manifest's content (no signatures)."""
    history, layers = content["history"], content["fsLayers"]
    top = json.loads(history[0]["v1Compatibility"])
    base_digest = layers[-1]["blobSum"]
    hex_part = base_digest.split(":", 1)[1]
    changes = [("schemaVersion", value) for value in (DELETE, 2, "1", 1.0, True, None, 0)]
    changes += [("name", value) for value in (DELETE, "", 5, None, ["a/b"])]
    changes += [("tag", value) for value in (DELETE, "", 5, {})]
    changes += [("architecture", value) for value in (5, ["amd64"])]
    changes += [("fsLayers", value) for value in (DELETE, [], {}, "x", None, [1], [None],
                                                  [{}] * len(layers), layers[:-1],
                                                  layers + layers[:1])]
    changes += [("history", value) for value in (DELETE, [], {}, "x", [1] * len(history),
                                                 history[:-1], history + history[:1],
                                                 [{"v1Compatibility": {}}] * len(history),
                                                 [{"v1Compatibility": "[]"}] * len(history),
                                                 [{"v1Compatibility": "{}"}] * len(history),
                                                 [{"v1Compatibility": "{"}] * len(history))]
    # Blob digests the repository cannot back.
    claims = (5, "", "sha256:", "sha256:" + hex_part[:-1], "sha256:" + hex_part + "0",
              "sha256:" + hex_part.upper(), "SHA256:" + hex_part, "md5:" + hex_part[:32],
              "sha512:" + hex_part, "sha256:" + "0" * 64, "sha256:" + "g" * 64)
    changes += [("fsLayers", [dict(layer) for layer in layers[:-1]] + [{"blobSum": claim}])
                for claim in claims]
    # The top layer's V1 metadata.
    v1_changes = [("id", DELETE), ("id", 5), ("id", ""), ("id", "not-hex"),
                  ("id", "A" * 64), ("parent", "0" * 64), ("parent", 5),
                  ("created", 5), ("created", "yesterday"), ("comment", 5),
                  ("comment", "c" * 100_000), ("container_config", "x"),
                  ("container_config", {"Cmd": 5}), ("container_config", {"Cmd": [1]}),
                  ("config", "x"), ("config", {"Labels": {"k": 1}}),
                  ("config", {"Labels": {"K" * 256: "v"}}), ("config", {"Labels": {"": "v"}}),
                  ("config", {"Labels": {"k": "a\u0000b"}}),
                  ("config", {"Labels": {"k\u0000": "v"}}),
                  ("config", {"Labels": {"quay.expires-after": "soon"}}),
                  ("config", {"Labels": {"K" * 255: "v" * 100_000}})]
    for key, value in v1_changes:
        metadata = dict(top)
        if value is DELETE:
            metadata.pop(key, None)
        else:
            metadata[key] = value
        changed_history = [{"v1Compatibility": json.dumps(metadata)}] + history[1:]
        changes.append(("history", changed_history))
    mutated = []
    for key, value in changes:
        changed = dict(content)
        if value is DELETE:
            changed.pop(key, None)
        else:
            changed[key] = value
        mutated.append(changed)
    return mutated


@pytest.mark.parametrize("path", VALID, ids=_id)
def test_structural_mutations_are_refused_or_stored_cleanly(registry_model, ref, path):
    data = path.read_bytes()
    signed = media_type_of(path) == SIGNED
    content = json.loads(parse_manifest_from_bytes(data, media_type_of(path)).payload)
    outcomes = Counter()
    for mutated in _content_mutations(content):
        unsigned = json.dumps(mutated, indent=3).encode()
        outcomes.update(push_through(registry_model, ref, unsigned, UNSIGNED, "mutations",
                                     validate_modes=(True,)))
        if signed:
            # The same edit under the original signatures, which no longer cover it.
            stale = json.dumps(dict(mutated, signatures=json.loads(data)["signatures"]),
                               indent=3).encode()
            result = push_through(registry_model, ref, stale, SIGNED, "mutations")
            assert result["refused by the parser"] >= 1
            outcomes.update(result)
    assert outcomes["refused by the parser"] > 0 and outcomes["refused by the push"] > 0


@pytest.mark.parametrize("document", [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    json.dumps({"schemaVersion": 1, "name": "a/b", "tag": "t", "fsLayers": [
        {"blobSum": "sha256:" + "0" * 64}], "history": [
        {"v1Compatibility": "[" * 100_000 + "]" * 100_000}]}).encode(),
    b'{"schemaVersion": 1, "name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
], ids=["arrays", "objects", "in-v1Compatibility", "in-a-field"])
def test_deeply_nested_json_is_refused_before_any_write(registry_model, ref, document):
    before = snapshot()
    for media_type in (SIGNED, UNSIGNED):
        outcomes = push_through(registry_model, ref, document, media_type, "deep nesting")
        assert outcomes == {"refused by the parser": 2}
    assert snapshot() == before


def test_a_manifest_of_ten_thousand_layers_is_refused_without_a_row_written(registry_model,
                                                                           ref):
    digest = "sha256:" + hashlib.sha256(b"one layer").hexdigest()
    link_blobs(ref, [digest])
    ids = [hashlib.sha256(b"layer %d" % index).hexdigest() for index in range(HUGE_LAYER_COUNT)]
    builder = DockerSchema1ManifestBuilder("devtable", "corpus", "latest")
    for index in reversed(range(HUGE_LAYER_COUNT)):
        metadata = {"id": ids[index]}
        if index:
            metadata["parent"] = ids[index - 1]
        builder.add_layer(digest, json.dumps(metadata))
    outcomes = push_through(registry_model, ref, builder.build().bytes, UNSIGNED, "huge layers",
                            validate_modes=(True,))
    assert outcomes == {"refused by the push": 1}


# Names and label values at and past every length limit.

@pytest.fixture
def world(registry_model):
    """A repository with one tagged manifest, and what the limit cases write on top of it."""
    tag_manifest = TagManifestFactory(tag__repository__namespace__name="limits",
                                      tag__repository__name="repo", tag__name="latest")
    row = tag_manifest.tag.repository
    ref = registry_model.lookup_repository("limits", "repo")
    link_blobs(ref, [LIMITS_BLOB])
    tag = registry_model.get_repo_tag(ref, "latest")
    NamespaceFactory(name="m" * 255)
    return {"ref": ref, "row": row, "image": tag_manifest.tag.image, "tag": tag,
            "manifest": registry_model.get_manifest_for_tag(tag), "namespace": "limits",
            "storage": storage_model.create_storage(),
            "bare_tag": tag_model.create_or_update_tag(row, "bare", tag_manifest.tag.image),
            "longest_tag": tag_model.create_or_update_tag(row, "d" * 128, tag_manifest.tag.image)}


def _schema1(name: str = "limits/repo", tag: str = "latest", labels=None) -> bytes:
    builder = DockerSchema1ManifestBuilder(*name.split("/", 1), tag)
    metadata = {"id": hashlib.sha256(tag.encode()).hexdigest()}
    if labels is not None:
        metadata["config"] = {"Labels": labels}
    builder.add_layer(LIMITS_BLOB, json.dumps(metadata))
    return builder.build().bytes


def _push(registry_model, world, tag_name: str = "latest", labels=None):
    data = _schema1(tag=tag_name if len(tag_name) <= 128 else "latest", labels=labels)
    parsed = parse_manifest_from_bytes(data, UNSIGNED)
    return registry_model.create_manifest_and_retarget_tag(world["ref"], parsed, tag_name, None)


def _label(registry_model, world, key: str, value: str, source: str = "api"):
    return registry_model.create_manifest_label(world["manifest"], key, value, source)


def _model_label(registry_model, world, key: str, value: str, source: str = "api"):
    return label_model.create_manifest_label(world["manifest"].id, key, value, source)


def _storage_digest(length: int) -> str:
    return "x" * (length - 64 - 1) + ":" + "a" * 64


LIMIT_CASES = [
    # (what, the write, the value at the limit, the value one past it, exception)
    ("namespace", lambda m, w, v: namespace_model.create_namespace(v),
     "n" * 255, "n" * 256, errors.InvalidNameException),
    ("repository", lambda m, w, v: repository_model.create_repository(w["namespace"], v),
     "r" * 255, "r" * 256, errors.InvalidNameException),
    ("repository-namespace", lambda m, w, v: repository_model.create_repository(v, "repo"),
     "m" * 255, "m" * 256, errors.InvalidNameException),
    ("tag-push", lambda m, w, v: _push(m, w, v), "t" * 128, "t" * 129,
     errors.InvalidNameException),
    ("tag-retarget", lambda m, w, v: m.retarget_tag(w["ref"], v, w["manifest"], None, None),
     "t" * 128, "t" * 129, errors.InvalidNameException),
    ("tag-model", lambda m, w, v: tag_model.create_or_update_tag(w["row"], v, w["image"]),
     "t" * 128, "t" * 129, errors.InvalidNameException),
    ("tag-delete", lambda m, w, v: m.delete_tag(w["ref"], v), "d" * 128, "d" * 129,
     errors.InvalidNameException),
    ("label-key-api", lambda m, w, v: _label(m, w, v, "value"), "k" * 255, "k" * 256,
     errors.InvalidLabelKeyException),
    ("label-key-internal", lambda m, w, v: _label(m, w, v, "value", "internal"),
     "k" * 255, "k" * 256, errors.InvalidLabelKeyException),
    ("label-key-manifest", lambda m, w, v: _label(m, w, v, "value", "manifest"),
     "\U0001f433" * 255, "\U0001f433" * 256, errors.InvalidLabelKeyException),
    ("label-key-model", lambda m, w, v: _model_label(m, w, v, "value"), "k" * 255, "k" * 256,
     errors.InvalidLabelKeyException),
    ("label-key-pushed", lambda m, w, v: _push(m, w, labels={v: "value"}),
     "K" * 255, "K" * 256, errors.InvalidLabelKeyException),
    # Values count bytes of UTF-8 (tests/test_size_limits.py has the multi-byte cases).
    ("label-value-api", lambda m, w, v: _label(m, w, "com.example.key", v),
     "v" * MAX_LABEL_VALUE_BYTES, "v" * (MAX_LABEL_VALUE_BYTES + 1),
     errors.LabelValueTooLargeException),
    ("label-value-model", lambda m, w, v: _model_label(m, w, "com.example.key", v),
     "\u00e9" * (MAX_LABEL_VALUE_BYTES // 2), "\u00e9" * (MAX_LABEL_VALUE_BYTES // 2) + "v",
     errors.LabelValueTooLargeException),
    ("label-value-pushed", lambda m, w, v: _push(m, w, labels={"k": v}),
     "v" * MAX_LABEL_VALUE_BYTES, "v" * (MAX_LABEL_VALUE_BYTES + 1),
     errors.LabelValueTooLargeException),
    ("docker-image-id", lambda m, w, v: image_model.create_image(w["row"], v, w["storage"]),
     "a" * 64, "a" * 65, errors.InvalidNameException),
    ("storage-digest", lambda m, w, v: storage_model.create_storage(v),
     _storage_digest(255), _storage_digest(256), errors.InvalidDigestException),
    ("tag-manifest-digest", lambda m, w, v: manifest_model.store_tag_manifest(
        w["bare_tag"], v, b"{}"), _storage_digest(255), _storage_digest(256),
     errors.InvalidDigestException),
]


@pytest.mark.parametrize("case", LIMIT_CASES, ids=[case[0] for case in LIMIT_CASES])
def test_values_at_a_length_limit_are_stored_and_one_past_it_refused(registry_model, world,
                                                                      case):
    _, write, at_limit, past_limit, exception = case
    before = snapshot()
    TRIED["past a length limit"] += 1
    with pytest.raises(exception):
        write(registry_model, world, past_limit)
    assert snapshot() == before
    write(registry_model, world, at_limit)
    assert snapshot() != before


@pytest.mark.parametrize("value", ["a\x00b", "a\ud800b", None, 5, b"bytes", ["list"]],
                         ids=["nul", "lone-surrogate", "None", "int", "bytes", "list"])
@pytest.mark.parametrize("create", [_label, _model_label], ids=["interface", "model"])
def test_label_values_no_backend_can_store_are_refused(registry_model, world, create, value):
    before = snapshot()
    TRIED["label values"] += 1
    with pytest.raises(errors.InvalidLabelValueException):
        create(registry_model, world, "com.example.key", value)
    assert snapshot() == before


def test_namespaces_of_unicode_or_uppercase_are_refused_at_any_length(registry_model):
    NamespaceFactory(name="taken")
    before = snapshot()
    for name in ("N" * 10, "\u00e9" * 255, "n" * 254 + "\u00e9", "n" * 254 + "\n", " " * 255,
                 "n" * 254 + "-", "taken"):
        TRIED["names"] += 1
        with pytest.raises((errors.InvalidNameException, errors.DuplicateException)):
            namespace_model.create_namespace(name)
    assert snapshot() == before

