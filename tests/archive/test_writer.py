"""Specification of writing ``docker save`` archives: the legacy layout, streaming, bad input.

What is written is read back with read_docker_archive, whose own specification (test_reader.py)
builds archives member by member instead.
"""
import io
import json
import os
import tarfile

import pytest

from registry_model.archive import ArchiveException, read_docker_archive, write_docker_archive
from registry_model.archive.oci_layout import make_layer_tar

from . import (
    CONFIG,
    CONFIG_NAME,
    DIFF_IDS,
    LAYERS,
    V1_IDS,
    V1_JSONS,
    cimage_members,
    make_config,
    pseudo_random,
    read_all,
    sha_hex,
    write_tar,
)

# --- writing ----------------------------------------------------------------------------------


def layer_triples(layers=LAYERS, digests=DIFF_IDS):
    return [(digest, len(layer), io.BytesIO(layer)) for digest, layer in zip(digests, layers,
                                                                             strict=True)]


def test_write_produces_the_legacy_layout_docker_load_reads(tmp_path):
    path = tmp_path / "out.tar"
    written = write_docker_archive(path, "ns/repo:tag", CONFIG, layer_triples())

    with tarfile.open(path) as tar:
        names = tar.getnames()
        manifest_entry = json.load(tar.extractfile("manifest.json"))
        repositories = json.load(tar.extractfile("repositories"))
        contents = {name: tar.extractfile(name).read() for name in names
                    if tar.getmember(name).isfile()}
        owners = {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in tar.getmembers()}

    assert written.config_digest == "sha256:" + sha_hex(CONFIG)
    assert list(written.layer_ids) == V1_IDS
    assert manifest_entry == [{"Config": CONFIG_NAME, "RepoTags": ["ns/repo:tag"],
                               "Layers": [f"{v1_id}/layer.tar" for v1_id in V1_IDS]}]
    assert repositories == {"ns/repo": {"tag": V1_IDS[-1]}}
    assert contents[CONFIG_NAME] == CONFIG
    for v1_id, raw, layer in zip(V1_IDS, V1_JSONS, LAYERS, strict=True):
        assert contents[f"{v1_id}/VERSION"] == b"1.0"
        assert contents[f"{v1_id}/json"] == raw.encode()
        assert contents[f"{v1_id}/layer.tar"] == layer
    assert names[:3] == ["manifest.json", "repositories", CONFIG_NAME]
    assert owners == {(0, 0, 0, "", "")}


def test_write_then_read_round_trips(tmp_path):
    write_docker_archive(tmp_path / "out.tar", "registry.example:5000/ns/repo:v1", CONFIG,
                         layer_triples())
    archive = read_docker_archive(tmp_path / "out.tar")

    assert archive.repo_tags == ("registry.example:5000/ns/repo:v1",)
    assert archive.config_bytes == CONFIG
    assert [read_all(layer) for layer in archive.layers] == LAYERS
    assert [layer.v1_json for layer in archive.layers] == V1_JSONS


def test_write_is_deterministic(tmp_path):
    write_docker_archive(tmp_path / "a.tar", "ns/repo:tag", CONFIG, layer_triples())
    write_docker_archive(tmp_path / "b.tar", "ns/repo:tag", CONFIG, layer_triples())

    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()


class ChunkOnlyReader(io.RawIOBase):
    """A source that refuses to be read whole, as a blob store stream of 200 MB should be."""

    def __init__(self, data):
        self._data = io.BytesIO(data)
        self.largest_read = 0

    def readable(self):
        return True

    def read(self, size=-1):
        assert size is not None and 0 < size <= 1024 * 1024, f"read({size}) of a whole layer"
        self.largest_read = max(self.largest_read, size)
        return self._data.read(size)


def test_write_streams_layers_in_bounded_reads(tmp_path):
    big = make_layer_tar({"blob.bin": pseudo_random("big", 3 * 1024 * 1024)})
    config = make_config(diff_ids=["sha256:" + sha_hex(big)], history=[])
    source = ChunkOnlyReader(big)

    write_docker_archive(tmp_path / "out.tar", "ns/repo:tag", config,
                         [("sha256:" + sha_hex(big), len(big), source)])

    assert 0 < source.largest_read <= 1024 * 1024
    assert read_all(read_docker_archive(tmp_path / "out.tar").layers[0]) == big


def test_write_accepts_streams_of_an_archive_being_read(tmp_path):
    source = read_docker_archive(write_tar(tmp_path / "in.tar", cimage_members()))

    write_docker_archive(tmp_path / "out.tar", "ns/repo:tag", source.config_bytes,
                         ((layer.diff_id, layer.size, layer.open()) for layer in source.layers))

    assert [read_all(layer) for layer in read_docker_archive(tmp_path / "out.tar").layers] \
        == LAYERS


def test_write_closes_each_layer_source_once_copied(tmp_path):
    sources = [io.BytesIO(layer) for layer in LAYERS]

    write_docker_archive(tmp_path / "out.tar", "ns/repo:tag", CONFIG,
                         [(d, len(layer), source) for d, layer, source
                          in zip(DIFF_IDS, LAYERS, sources, strict=True)])

    assert all(source.closed for source in sources)


def test_write_untagged_image(tmp_path):
    write_docker_archive(tmp_path / "out.tar", None, CONFIG, layer_triples())

    with tarfile.open(tmp_path / "out.tar") as tar:
        assert json.load(tar.extractfile("manifest.json"))[0]["RepoTags"] is None
        assert json.load(tar.extractfile("repositories")) == {}


def test_write_uses_given_v1_jsons_as_folders(tmp_path):
    base = json.dumps({"id": "1" * 64, "created": "2015-01-01T00:00:00Z"})
    middle = json.dumps({"id": "2" * 64, "parent": "1" * 64})
    top = json.dumps({"id": "3" * 64, "parent": "2" * 64, "architecture": "amd64"})

    written = write_docker_archive(tmp_path / "out.tar", "ns/repo:tag", CONFIG, layer_triples(),
                                   v1_jsons=[base, middle, top])
    archive = read_docker_archive(tmp_path / "out.tar")

    assert written.layer_ids == ("1" * 64, "2" * 64, "3" * 64)
    assert [layer.v1_json for layer in archive.layers] == [base, middle, top]


BAD_WRITES = {
    "digest not in config": (
        dict(layers=layer_triples(digests=[DIFF_IDS[0], DIFF_IDS[2], DIFF_IDS[1]])),
        "the config says"),
    "content does not match digest": (
        dict(layers=[(DIFF_IDS[0], len(LAYERS[1]), io.BytesIO(LAYERS[1]))]
             + layer_triples()[1:]), "content has digest"),
    "layer shorter than its size": (
        dict(layers=[(DIFF_IDS[0], len(LAYERS[0]) + 10, io.BytesIO(LAYERS[0]))]
             + layer_triples()[1:]), "ended after"),
    "too few layers": (dict(layers=layer_triples()[:2]), "2 layers given for the config's 3"),
    "too many layers": (dict(layers=layer_triples() + layer_triples()[:1]), "more layers"),
    "not triples": (dict(layers=[b"just bytes"]), "not a .digest, size, fileobj. triple"),
    "repo tag without tag": (dict(repo_tag="ns/repo"), "NAME:TAG"),
    "repo tag with port only": (dict(repo_tag="localhost:5000/ns/repo"), "NAME:TAG"),
    "repo tag digest": (dict(repo_tag="ns/repo@sha256:" + "a" * 64), "NAME:TAG"),
    "config not json": (dict(config=b"nope"), "not valid JSON"),
    "config without layers": (dict(config=make_config(diff_ids=[])), "at least one layer"),
    "v1 jsons not chained": (dict(v1_jsons=[V1_JSONS[0], V1_JSONS[2], V1_JSONS[1]]),
                             "does not chain"),
    "v1 json without id": (dict(v1_jsons=['{"x": 1}', V1_JSONS[1], V1_JSONS[2]]), "64-hex id"),
    "v1 jsons too few": (dict(v1_jsons=V1_JSONS[:2]), "2 V1 JSONs for 3 layers"),
}


@pytest.mark.parametrize("changes, message", BAD_WRITES.values(), ids=BAD_WRITES.keys())
def test_bad_writes_raise_and_leave_the_previous_file_untouched(tmp_path, changes, message):
    path = tmp_path / "out.tar"
    path.write_bytes(b"previous export")
    arguments = dict(repo_tag="ns/repo:tag", config=CONFIG, layers=layer_triples())
    arguments.update(changes)
    v1_jsons = arguments.pop("v1_jsons", None)

    with pytest.raises(ArchiveException, match=message):
        write_docker_archive(path, arguments["repo_tag"], arguments["config"],
                             arguments["layers"], v1_jsons=v1_jsons)
    assert path.read_bytes() == b"previous export"
    assert sorted(os.listdir(tmp_path)) == ["out.tar"]
