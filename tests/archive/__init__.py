"""Tests of registry_model.archive (no database needed), plus the archive builders they share.

The builders write ``docker save`` archives member by member in each layout real tools write
(docker save up to 24, containers/image with symlinked legacy folders, Docker 25 with
blobs/sha256 paths), so the reader is tested apart from the writer; test_skopeo.py proves both
against a real client.
"""
import hashlib
import io
import json
import tarfile

from registry_model.archive import v1_layers_from_config
from registry_model.archive.oci_layout import make_layer_tar


def pseudo_random(seed: str, size: int) -> bytes:
    """Incompressible, reproducible bytes, so layers have some weight without fixtures."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


LAYERS = [
    make_layer_tar({"etc/os-release": "ID=test\n", "bin/sh": pseudo_random("sh", 3000)}),
    make_layer_tar({"usr/lib/libx.so": pseudo_random("lib", 70_000)}),
    make_layer_tar({"app/run": "#!/bin/sh\necho hi\n"}),
]
DIFF_IDS = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in LAYERS]


def sha_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_config(diff_ids=None, **overrides) -> bytes:
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-02T03:04:05Z",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["/app/run"], "Labels": {"team": "storage"}},
        "rootfs": {"type": "layers", "diff_ids": DIFF_IDS if diff_ids is None else diff_ids},
        "history": [{"created_by": f"step {i}"} for i in range(len(LAYERS))],
    }
    config.update(overrides)
    return json.dumps(config, indent=2).encode()


CONFIG = make_config()
V1_JSONS = v1_layers_from_config(CONFIG, DIFF_IDS)
V1_IDS = [json.loads(raw)["id"] for raw in V1_JSONS]


class Symlink(str):
    """A member spec: a symbolic link to this target."""


class Hardlink(str):
    """A member spec: a hard link to this (earlier) member."""


DIRECTORY = object()


def write_tar(path, members: dict) -> str:
    """Write ``members`` (name -> bytes, Symlink, Hardlink or DIRECTORY) in order as a tar."""
    with tarfile.open(path, "w") as tar:
        for name, spec in members.items():
            info = tarfile.TarInfo(name)
            if isinstance(spec, Symlink):
                info.type, info.linkname = tarfile.SYMTYPE, str(spec)
                tar.addfile(info)
            elif isinstance(spec, Hardlink):
                info.type, info.linkname = tarfile.LNKTYPE, str(spec)
                tar.addfile(info)
            elif spec is DIRECTORY:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(spec)
                tar.addfile(info, io.BytesIO(spec))
    return str(path)


def manifest(config_name, layer_names, repo_tags=("ns/repo:tag",)):
    entry = {"Config": config_name, "RepoTags": list(repo_tags) if repo_tags else None,
             "Layers": list(layer_names)}
    return json.dumps([entry]).encode()


def legacy_members(layers=LAYERS, config=CONFIG, v1_jsons=V1_JSONS):
    """The layout of ``docker save`` 1.10 to 24: one folder per layer named by its V1 id."""
    ids = [json.loads(raw)["id"] for raw in v1_jsons]
    members = {}
    for v1_id, raw, layer in zip(ids, v1_jsons, layers, strict=True):
        members[f"{v1_id}/"] = DIRECTORY
        members[f"{v1_id}/VERSION"] = b"1.0"
        members[f"{v1_id}/json"] = raw.encode()
        members[f"{v1_id}/layer.tar"] = layer
    members[f"{sha_hex(config)}.json"] = config
    members["manifest.json"] = manifest(f"{sha_hex(config)}.json",
                                        [f"{v1_id}/layer.tar" for v1_id in ids])
    members["repositories"] = json.dumps({"ns/repo": {"tag": ids[-1]}}).encode()
    return members


def cimage_members(layers=LAYERS, config=CONFIG, v1_jsons=V1_JSONS):
    """The layout skopeo/podman write: layers by diff_id, legacy folders of symlinks."""
    members = {f"{sha_hex(layer)}.tar": layer for layer in layers}
    members[f"{sha_hex(config)}.json"] = config
    for raw, layer in zip(v1_jsons, layers, strict=True):
        v1_id = json.loads(raw)["id"]
        members[f"{v1_id}/layer.tar"] = Symlink(f"../{sha_hex(layer)}.tar")
        members[f"{v1_id}/VERSION"] = b"1.0"
        members[f"{v1_id}/json"] = raw.encode()
    members["manifest.json"] = manifest(f"{sha_hex(config)}.json",
                                        [f"{sha_hex(layer)}.tar" for layer in layers],
                                        repo_tags=["docker.io/ns/repo:tag"])
    return members


def docker25_members(layers=LAYERS, config=CONFIG):
    """The layout of Docker 25 and later: an OCI layout whose blobs manifest.json names."""
    members = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": b"{}"}
    for blob in (*layers, config):
        members[f"blobs/sha256/{sha_hex(blob)}"] = blob
    members["manifest.json"] = manifest(f"blobs/sha256/{sha_hex(config)}",
                                        [f"blobs/sha256/{sha_hex(layer)}" for layer in layers])
    return members


def read_all(layer) -> bytes:
    with layer.open() as stream:
        return stream.read()


CONFIG_NAME = f"{sha_hex(CONFIG)}.json"
