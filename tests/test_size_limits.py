"""Size limits: a label value or manifest exactly at its limit is stored, anything larger is
refused before any write statement is sent.

The limits (``validation.MAX_LABEL_VALUE_BYTES``, ``validation.MAX_MANIFEST_BYTES``) count
bytes of UTF-8, not characters, and hold on every backend. Without them MariaDB drops the
connection for a statement over its ``max_allowed_packet`` (16 MiB here), which reached the
caller as DatabaseConnectionLostException. Each refusal must leave every row of every
table as it was; each value at a limit, including the worst case for the statement size
(a manifest whose bulk is four-byte characters in the command, which a push writes twice),
must be stored and read back whole.
"""
import hashlib
import json
import re
from contextlib import contextmanager
from typing import Iterator

import pytest

from registry_model import clock, errors, validation
from registry_model.manifests import DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE, parse_manifest_from_bytes
from registry_model.model import blob as blob_model
from registry_model.model import lookup
from registry_model.model import storage as storage_model
from registry_model.pre_oci import image as image_model
from registry_model.pre_oci import label as label_model
from registry_model.pre_oci import manifest as manifest_model
from registry_model.pre_oci import tag as tag_model
from registry_model.testing.databases import snapshot_rows
from registry_model.testing.factories import TagManifestFactory
from registry_model.testing.queries import count_statements

LABEL_LIMIT = validation.MAX_LABEL_VALUE_BYTES
MANIFEST_LIMIT = validation.MAX_MANIFEST_BYTES
PAST_MARIADB_PACKET = 17 << 20  # more than MariaDB's default max_allowed_packet of 16 MiB
BLOB = "sha256:" + hashlib.sha256(b"size limits").hexdigest()
WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


@contextmanager
def refused_before_any_write(exception: type, match: str | None = None) -> Iterator[None]:
    """The block raises ``exception`` without sending a write statement or changing a row."""
    before = snapshot_rows()
    with count_statements() as counted, pytest.raises(exception, match=match):
        yield
    assert [sql for sql in counted.statements if WRITE.match(sql)] == []
    assert snapshot_rows() == before


@pytest.fixture
def world(registry_model):
    """limits/repo with a tagged manifest, and a blob linked for pushes."""
    tag_manifest = TagManifestFactory(tag__repository__namespace__name="limits",
                                      tag__repository__name="repo", tag__name="latest")
    ref = registry_model.lookup_repository("limits", "repo")
    blob = blob_model.get_or_create_blob(BLOB, 1234, None, lookup.location_id("local"))
    blob_model.link_blob(ref.id, blob.id, 3600, clock.now_ts())
    manifest = registry_model.get_manifest_for_tag(registry_model.get_repo_tag(ref, "latest"))
    return {"ref": ref, "row": tag_manifest.tag.repository, "image": tag_manifest.tag.image,
            "manifest": manifest}


def _interface_label(registry_model, world, value):
    return registry_model.create_manifest_label(world["manifest"], "com.example.big", value,
                                                "api")


def _model_label(registry_model, world, value):
    return label_model.create_manifest_label(world["manifest"].id, "com.example.big", value,
                                             "api")


CREATE_LABEL = pytest.mark.parametrize("create", [_interface_label, _model_label],
                                       ids=["interface", "model"])


@CREATE_LABEL
@pytest.mark.parametrize("value", [
    "v" * LABEL_LIMIT,
    "\u00e9" * (LABEL_LIMIT // 2),
    "\U0001f433" * (LABEL_LIMIT // 4),
    "v" * (LABEL_LIMIT - 2) + "\u00e9",
], ids=["ascii", "two-byte", "four-byte", "mixed"])
def test_a_label_value_of_exactly_the_limit_is_stored_whole(registry_model, world, create,
                                                            value):
    assert len(value.encode("utf-8")) == LABEL_LIMIT
    created = create(registry_model, world, value)
    assert registry_model.get_manifest_label(world["manifest"], created.uuid).value == value


@CREATE_LABEL
@pytest.mark.parametrize("value", [
    "v" * (LABEL_LIMIT + 1),
    "\u00e9" * (LABEL_LIMIT // 2) + "v",
    "\U0001f433" * (LABEL_LIMIT // 4 + 1),  # a quarter of the limit in characters
    "v" * (1 << 20),
    "\u00e9" * (PAST_MARIADB_PACKET // 2),
], ids=["one-byte-past", "two-byte-past", "four-byte-past", "1MiB", "17MiB"])
def test_a_label_value_past_the_limit_is_refused_before_any_write(registry_model, world, create,
                                                                 value):
    with refused_before_any_write(errors.LabelValueTooLargeException,
                                  match="at most %d" % LABEL_LIMIT):
        create(registry_model, world, value)


def test_a_label_value_too_large_is_also_an_invalid_label_value():
    assert issubclass(errors.LabelValueTooLargeException, errors.InvalidLabelValueException)


def schema1(world, tag: str = "latest", comment: str = "", command=None, labels=None,
            padding: str = "") -> bytes:
    """Unsigned schema 1 bytes of one layer, UTF-8 written as such (not \\u-escaped)."""
    metadata = {"id": hashlib.sha256(tag.encode()).hexdigest(), "comment": comment,
                "author": padding, "container_config": {"Cmd": command or ["true"]}}
    if labels is not None:
        metadata["config"] = {"Labels": labels}
    content = {"schemaVersion": 1, "name": "limits/repo", "tag": tag, "architecture": "amd64",
               "fsLayers": [{"blobSum": BLOB}],
               "history": [{"v1Compatibility": json.dumps(metadata, ensure_ascii=False)}]}
    return json.dumps(content, indent=3, ensure_ascii=False).encode("utf-8")


def manifest_of_size(world, size: int, filler: str) -> bytes:
    """A manifest of exactly ``size`` bytes, its bulk ``filler`` in the comment or command.

    ``filler`` is "comment" (ASCII) or "command" (four-byte characters).
    """
    unit, build = {
        "comment": ("c", lambda bulk, pad: schema1(world, comment=bulk, padding=pad)),
        "command": ("\U0001f433", lambda bulk, pad: schema1(world, command=["echo", bulk],
                                                           padding=pad)),
    }[filler]
    base = len(build("", ""))
    unit_size = len(unit.encode("utf-8"))
    count, rest = divmod(size - base, unit_size)
    data = build(unit * count, "p" * rest)
    assert len(data) == size
    return data


def push(registry_model, world, data: bytes):
    parsed = parse_manifest_from_bytes(data, DOCKER_SCHEMA1_MANIFEST_CONTENT_TYPE)
    return registry_model.create_manifest_and_retarget_tag(world["ref"], parsed, "latest", None)


@pytest.mark.parametrize("filler", ["comment", "command"])
def test_a_manifest_of_exactly_the_limit_is_pushed_and_read_back_whole(registry_model, world,
                                                                       filler):
    data = manifest_of_size(world, MANIFEST_LIMIT, filler)
    manifest, tag = push(registry_model, world, data)
    assert registry_model.get_manifest_for_tag(tag).manifest_bytes == data
    image = registry_model.get_legacy_image(world["ref"], tag.docker_image_id)
    metadata = json.loads(json.loads(data)["history"][0]["v1Compatibility"])
    assert image.v1_metadata_string == json.loads(data)["history"][0]["v1Compatibility"]
    assert json.loads(image.command) == metadata["container_config"]["Cmd"]
    assert image.comment == metadata["comment"]


@pytest.mark.parametrize("size", [MANIFEST_LIMIT + 1, PAST_MARIADB_PACKET],
                         ids=["one-byte-past", "17MiB"])
@pytest.mark.parametrize("filler", ["comment", "command"])
def test_a_manifest_past_the_limit_is_refused_before_any_write(registry_model, world, size,
                                                              filler):
    data = manifest_of_size(world, size, filler)
    with refused_before_any_write(errors.ManifestTooLargeException,
                                  match="at most %d" % MANIFEST_LIMIT):
        push(registry_model, world, data)


def test_a_pushed_label_past_the_limit_is_refused_before_any_write(registry_model, world):
    data = schema1(world, labels={"com.example.big": "v" * (LABEL_LIMIT + 1)})
    with refused_before_any_write(errors.LabelValueTooLargeException):
        push(registry_model, world, data)
    manifest, _ = push(registry_model, world,
                       schema1(world, labels={"com.example.big": "v" * LABEL_LIMIT}))
    (label,) = registry_model.list_manifest_labels(manifest)
    assert label.value == "v" * LABEL_LIMIT


@pytest.mark.parametrize("as_text", [False, True], ids=["bytes", "text"])
def test_store_tag_manifest_keeps_the_limit_whatever_the_type(registry_model, world, as_text):
    tag = tag_model.create_or_update_tag(world["row"], "bare", world["image"])
    data = manifest_of_size(world, MANIFEST_LIMIT + 1, "command")
    with refused_before_any_write(errors.ManifestTooLargeException):
        manifest_model.store_tag_manifest(tag, BLOB, data.decode() if as_text else data)
    data = manifest_of_size(world, MANIFEST_LIMIT, "command")
    stored = manifest_model.store_tag_manifest(tag, BLOB, data.decode() if as_text else data)
    assert manifest_model.get_tag_manifest(tag.id).json_data == stored.json_data == data.decode()


def test_a_legacy_image_whose_built_manifest_is_too_large_is_not_retargeted(registry_model,
                                                                            world):
    """retarget_tag builds a manifest from the chain's V1 JSON: it is checked before the move."""
    parent = None
    for index in range(2):
        image_id = hashlib.sha256(b"big %d" % index).hexdigest()
        metadata = {"id": image_id, "comment": "c" * (MANIFEST_LIMIT // 2)}
        if parent is not None:
            metadata["parent"] = parent.docker_image_id
        parent = image_model.create_image(world["row"], image_id,
                                          storage_model.create_storage(BLOB, 1234),
                                          parent=parent, v1_json_metadata=json.dumps(metadata))
    leaf = registry_model.get_legacy_image(world["ref"], parent.docker_image_id)
    with refused_before_any_write(errors.ManifestTooLargeException):
        registry_model.retarget_tag(world["ref"], "restored", leaf, None, None)
