"""Image configs: required fields, Docker's nulls, labels, history and diff ids by layer."""
import hashlib
import json

import pytest

from registry_model.manifests import InvalidDigestException, ManifestFieldException
from registry_model.manifests.config import ConfigHistoryEntry, ImageConfig

DIFF_A = "sha256:" + "a" * 64
DIFF_B = "sha256:" + "b" * 64


def config_document(**changes):
    document = {
        "architecture": "arm64",
        "os": "linux",
        "variant": "v8",
        "created": "2026-12-05T15:00:00Z",
        "author": "Sômé guy",
        "config": {"Cmd": ["/bin/sh"], "Labels": {"com.example.tier": "web"}},
        "rootfs": {"type": "layers", "diff_ids": [DIFF_A, DIFF_B]},
        "history": [
            {"created": "2026-12-05T14:00:00Z", "created_by": "ADD base.tar /",
             "comment": "base"},
            {"created_by": "ENV A=1", "empty_layer": True},
            {"created_by": "RUN make", "author": "builder"},
        ],
    }
    document.update(changes)
    return document


def parse(document) -> ImageConfig:
    return ImageConfig(json.dumps(document, ensure_ascii=False).encode("utf-8"))


def test_every_field_is_read():
    data = json.dumps(config_document(), ensure_ascii=False).encode("utf-8")
    config = ImageConfig(data)

    assert config.bytes == data
    assert config.digest == "sha256:" + hashlib.sha256(data).hexdigest()
    assert ImageConfig(data, "sha512").digest == "sha512:" + hashlib.sha512(data).hexdigest()
    assert (config.architecture, config.os, config.variant) == ("arm64", "linux", "v8")
    assert (config.created, config.author, config.os_version) == (
        "2026-12-05T15:00:00Z", "Sômé guy", None)
    assert dict(config.labels) == {"com.example.tier": "web"}
    assert config.diff_ids == (DIFF_A, DIFF_B)
    assert len(config.history) == 3 and config.history[1].empty_layer


def test_layer_history_pairs_non_empty_steps_with_layers():
    config = parse(config_document())

    assert config.layer_history == (
        ConfigHistoryEntry(created="2026-12-05T14:00:00Z", created_by="ADD base.tar /",
                           comment="base"),
        ConfigHistoryEntry(created_by="RUN make", author="builder"),
    )


def test_layers_without_history_get_none():
    assert parse(config_document(history=None)).layer_history == (None, None)
    short = config_document(history=[{"created_by": "ADD base.tar /"}])
    assert parse(short).layer_history[1] is None


@pytest.mark.parametrize("key", ["history", "created", "author", "variant"])
def test_docker_nulls_read_as_absent(key):
    assert getattr(parse(config_document(**{key: None})), key) in (None, ())


def test_null_or_absent_labels_are_empty():
    assert dict(parse(config_document(config=None)).labels) == {}
    assert dict(parse(config_document(config={"Labels": None})).labels) == {}
    document = config_document()
    del document["config"]
    assert dict(parse(document).labels) == {}


@pytest.mark.parametrize("key", ["architecture", "os", "rootfs"])
def test_required_fields(key):
    document = config_document()
    del document[key]
    with pytest.raises(ManifestFieldException, match=f"^{key}: is required"):
        parse(document)


@pytest.mark.parametrize("changes, field", [
    ({"architecture": 1}, "architecture"),
    ({"rootfs": {"type": "layers"}}, "rootfs.diff_ids"),
    ({"rootfs": {"type": "tarball", "diff_ids": []}}, "rootfs.type"),
    ({"rootfs": {"diff_ids": []}}, "rootfs.type"),
    ({"config": {"Labels": {"a": 1}}}, "config.Labels['a']"),
    ({"config": {"Labels": ["a"]}}, "config.Labels"),
    ({"config": "x"}, "config"),
    ({"history": [{"empty_layer": "true"}]}, "history[0].empty_layer"),
    ({"history": [{"created_by": 5}]}, "history[0].created_by"),
    ({"history": ["step"]}, "history[0]"),
    ({"history": {}}, "history"),
    ({"created": 5}, "created"),
])
def test_wrong_types_are_named(changes, field):
    with pytest.raises(ManifestFieldException) as raised:
        parse(config_document(**changes))
    assert raised.value.field == field


def test_diff_ids_must_be_digests():
    document = config_document(rootfs={"type": "layers", "diff_ids": [DIFF_A, "sha256:xyz"]})
    with pytest.raises(InvalidDigestException, match=r"^rootfs\.diff_ids\[1\]: "):
        parse(document)


def test_configs_are_immutable():
    config = parse(config_document())
    with pytest.raises(AttributeError):
        config.labels = {}
    with pytest.raises(TypeError):
        config.labels["x"] = "y"
