"""Specification of the conversions between an image config and per-layer legacy V1 JSON.

Synthetic configs pin each rule; the real configs and schema 1 manifests of tests/data/manifests
check that nothing a registry relies on is lost on the way.
"""
import hashlib
import json
from pathlib import Path

import pytest

from registry_model.archive import ArchiveException, config_from_v1_layers, v1_layers_from_config
from registry_model.errors import DataModelException

DATA = Path(__file__).resolve().parent.parent / "data" / "manifests" / "valid"
BASE, MIDDLE, TOP = ("sha256:" + c * 64 for c in "abc")
DIFF_IDS = [BASE, MIDDLE, TOP]


def make_config(**overrides):
    """A Docker-built-looking config of three layers, with one empty_layer history entry."""
    config = {
        "architecture": "amd64",
        "os": "linux",
        "author": "Jane <jane@example.com>",
        "created": "2024-05-06T07:08:09Z",
        "docker_version": "24.0.7",
        "config": {"Env": ["PATH=/usr/bin"], "Cmd": ["/bin/app"],
                   "Labels": {"com.example.team": "storage", "version": "1.2"}},
        "container_config": {"Cmd": ["/bin/sh", "-c", "#(nop) COPY app /bin/app"]},
        "rootfs": {"type": "layers", "diff_ids": DIFF_IDS},
        "history": [
            {"created": "2024-05-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD rootfs /",
             "comment": "base", "author": "distro"},
            {"created": "2024-05-02T00:00:00Z", "created_by": "/bin/sh -c #(nop) LABEL version=1.2",
             "empty_layer": True},
            {"created": "2024-05-03T00:00:00Z", "created_by": "/bin/sh -c apt-get install -y x"},
            {"created": "2024-05-06T07:08:09Z",
             "created_by": "/bin/sh -c #(nop) COPY app /bin/app"},
        ],
    }
    config.update(overrides)
    return config


def encode(config):
    return json.dumps(config).encode()


def test_layer_ids_chain_base_first_from_the_diff_id_and_parent():
    layers = [json.loads(raw) for raw in v1_layers_from_config(encode(make_config()), DIFF_IDS)]

    assert len(layers) == 3
    assert "parent" not in layers[0]
    assert layers[1]["parent"] == layers[0]["id"]
    assert layers[2]["parent"] == layers[1]["id"]
    assert layers[0]["id"] == hashlib.sha256(f"{'a' * 64} ".encode()).hexdigest()
    assert layers[1]["id"] == hashlib.sha256(f"{'b' * 64} {layers[0]['id']}".encode()).hexdigest()


def test_top_layer_id_depends_on_the_config_but_lower_ids_do_not():
    first = [json.loads(r) for r in v1_layers_from_config(encode(make_config()), DIFF_IDS)]
    relabelled = make_config(config={"Labels": {"version": "2.0"}})
    second = [json.loads(r) for r in v1_layers_from_config(encode(relabelled), DIFF_IDS)]

    assert [layer["id"] for layer in first[:2]] == [layer["id"] for layer in second[:2]]
    assert first[2]["id"] != second[2]["id"]


def test_conversion_is_deterministic_compact_sorted_json():
    config_bytes = encode(make_config())
    once = v1_layers_from_config(config_bytes, DIFF_IDS)

    assert once == v1_layers_from_config(config_bytes, DIFF_IDS)
    for raw in once:
        assert raw == json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"),
                                 ensure_ascii=False)


def test_lower_layers_carry_their_history_entry_and_skip_empty_layers():
    base, middle, _ = (json.loads(r) for r in v1_layers_from_config(encode(make_config()),
                                                                     DIFF_IDS))

    assert base["created"] == "2024-05-01T00:00:00Z"
    assert base["container_config"] == {"Cmd": ["/bin/sh -c #(nop) ADD rootfs /"]}
    assert base["comment"] == "base"
    assert base["author"] == "distro"
    assert base["os"] == "linux"
    # The LABEL entry is empty_layer: it is dropped, the next real layer keeps its own metadata.
    assert middle["container_config"] == {"Cmd": ["/bin/sh -c apt-get install -y x"]}
    assert middle["created"] == "2024-05-03T00:00:00Z"
    assert "LABEL" not in json.dumps([base, middle])
    assert not any("throwaway" in layer for layer in (base, middle))


def test_top_layer_is_the_image_config_without_rootfs_and_history():
    config = make_config()
    top = json.loads(v1_layers_from_config(encode(config), DIFF_IDS)[-1])

    for key in ("architecture", "os", "author", "created", "docker_version", "config",
                "container_config"):
        assert top[key] == config[key]
    assert top["config"]["Labels"] == {"com.example.team": "storage", "version": "1.2"}
    assert "rootfs" not in top and "history" not in top


@pytest.mark.parametrize("container_config", [None, "absent"])
def test_top_layer_without_container_config_takes_its_command_from_history(container_config):
    config = make_config(container_config=container_config)
    if container_config == "absent":
        del config["container_config"]
    top = json.loads(v1_layers_from_config(encode(config), DIFF_IDS)[-1])

    assert top["container_config"] == {"Cmd": ["/bin/sh -c #(nop) COPY app /bin/app"]}


def test_history_that_does_not_line_up_with_layers_is_ignored():
    config = make_config(history=[{"created_by": "only one entry"}])
    layers = [json.loads(r) for r in v1_layers_from_config(encode(config), DIFF_IDS)]

    assert len(layers) == 3
    assert "container_config" not in layers[0]
    assert layers[0]["created"] == config["created"]


@pytest.mark.parametrize("config_bytes, diff_ids, message", [
    (b"not json", DIFF_IDS, "not valid JSON"),
    (b"[1, 2]", DIFF_IDS, "not a JSON object"),
    (encode(make_config()), [BASE, MIDDLE], "do not match"),
    (encode(make_config()), [BASE, MIDDLE, "sha256:short"], "not a sha256 digest"),
    (encode(make_config(rootfs={"type": "layers", "diff_ids": "x"})), DIFF_IDS, "rootfs"),
])
def test_bad_config_or_diff_ids_raise_archive_exception(config_bytes, diff_ids, message):
    with pytest.raises(ArchiveException, match=message) as caught:
        v1_layers_from_config(config_bytes, diff_ids)
    assert isinstance(caught.value, DataModelException)
    assert "\n" not in str(caught.value)


def test_round_trip_keeps_diff_ids_labels_architecture_os_and_runtime_config():
    config = make_config()
    rebuilt = json.loads(config_from_v1_layers(
        v1_layers_from_config(encode(config), DIFF_IDS), DIFF_IDS))

    assert rebuilt["rootfs"] == {"type": "layers", "diff_ids": DIFF_IDS}
    for key in ("architecture", "os", "config", "created", "author", "docker_version",
                "container_config"):
        assert rebuilt[key] == config[key]
    assert [h["created_by"] for h in rebuilt["history"]] == [
        "/bin/sh -c #(nop) ADD rootfs /", "/bin/sh -c apt-get install -y x",
        "/bin/sh -c #(nop) COPY app /bin/app"]
    assert not any(h.get("empty_layer") for h in rebuilt["history"])
    assert not {"id", "parent", "throwaway"} & set(rebuilt)


def test_config_from_v1_layers_drops_v1_only_keys_and_joins_commands():
    top = {"id": "1" * 64, "parent": "2" * 64, "Size": 12, "parent_id": "x", "layer_id": "y",
           "architecture": "arm64", "os": "linux", "created": "2016-01-01T00:00:00Z",
           "container_config": {"Cmd": ["/bin/sh", "-c", "#(nop) CMD [\"sh\"]"]}}
    base = {"id": "2" * 64, "created": "2015-12-31T00:00:00Z",
            "container_config": {"Cmd": "/bin/sh -c echo"}}
    config = json.loads(config_from_v1_layers([json.dumps(base), json.dumps(top).encode()],
                                              [BASE, MIDDLE]))

    assert not {"id", "parent", "Size", "parent_id", "layer_id"} & set(config)
    assert config["architecture"] == "arm64"
    assert config["history"] == [
        {"created": "2015-12-31T00:00:00Z", "created_by": "/bin/sh -c echo"},
        {"created": "2016-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) CMD [\"sh\"]"},
    ]


def test_throwaway_layers_become_empty_layer_history_without_a_diff_id():
    layers = [{"id": "1" * 64}, {"id": "2" * 64, "parent": "1" * 64, "throwaway": True},
              {"id": "3" * 64, "parent": "2" * 64, "os": "linux"}]
    config = json.loads(config_from_v1_layers([json.dumps(x) for x in layers], [BASE, TOP]))

    assert [h.get("empty_layer", False) for h in config["history"]] == [False, True, False]
    assert config["rootfs"]["diff_ids"] == [BASE, TOP]


@pytest.mark.parametrize("v1_jsons, diff_ids, message", [
    ([], [], "at least one"),
    (['{"id": "x"}'], [BASE, MIDDLE], "1 V1 layer JSONs with content for 2 diff_ids"),
    (["{nope"], [BASE], "not valid JSON"),
    (['"a string"'], [BASE], "not a JSON object"),
    (['{"id": "x"}'], ["md5:abc"], "not a sha256 digest"),
])
def test_bad_v1_layers_raise_archive_exception(v1_jsons, diff_ids, message):
    with pytest.raises(ArchiveException, match=message):
        config_from_v1_layers(v1_jsons, diff_ids)


CORPUS_CONFIGS = sorted((DATA / "config").glob("*.json"))


@pytest.mark.parametrize("path", CORPUS_CONFIGS, ids=lambda p: p.name)
def test_real_configs_survive_a_round_trip_through_v1(path):
    config_bytes = path.read_bytes()
    config = json.loads(config_bytes)
    diff_ids = config["rootfs"]["diff_ids"]

    v1_jsons = v1_layers_from_config(config_bytes, diff_ids)
    rebuilt = json.loads(config_from_v1_layers(v1_jsons, diff_ids))

    assert len(v1_jsons) == len(diff_ids)
    assert rebuilt["rootfs"]["diff_ids"] == diff_ids
    for key in ("architecture", "os", "config"):
        assert rebuilt.get(key) == config.get(key)
    real_history = [h for h in config.get("history", []) if not h.get("empty_layer")]
    if len(real_history) == len(diff_ids):
        # Every layer below the top keeps its command; the top keeps the config's own
        # container_config when it has one (Docker's behaviour).
        assert ([h.get("created_by") for h in rebuilt["history"][:-1]]
                == [h.get("created_by") for h in real_history[:-1]])


@pytest.mark.parametrize("name", ["quay-complex.schema1.json", "cimage-schema1.json",
                                  "quay-validated_manifest.json"])
def test_schema1_history_converts_to_a_config(name):
    manifest = json.loads((DATA / "schema1-signed" / name).read_bytes())
    v1_jsons = [entry["v1Compatibility"] for entry in reversed(manifest["history"])]
    parsed = [json.loads(raw) for raw in v1_jsons]
    throwaway = [bool(p.get("throwaway")) for p in parsed]
    diff_ids = ["sha256:%064x" % index for index, gone in enumerate(throwaway) if not gone]

    config = json.loads(config_from_v1_layers(v1_jsons, diff_ids))

    assert [h.get("empty_layer", False) for h in config["history"]] == throwaway
    assert config["rootfs"]["diff_ids"] == diff_ids
    assert config.get("config") == parsed[-1].get("config")
    assert config.get("architecture") == parsed[-1].get("architecture")
    for entry, layer in zip(config["history"], parsed, strict=True):
        command = (layer.get("container_config") or {}).get("Cmd")
        # An empty command (e.g. [""] for an imported base) leaves created_by out, as Docker's
        # omitempty does.
        assert entry.get("created_by") == ((" ".join(command) if command else "") or None)
