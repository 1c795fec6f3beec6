"""Specification of reading and writing ``docker save`` archives.

The archives are built here member by member in each layout real tools write (docker save up to
24, containers/image with symlinked legacy folders, Docker 25 with blobs/sha256 paths), so the
reader is tested apart from the writer; test_skopeo.py proves both against a real client.
"""
import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from registry_model.archive import (
    ArchiveException,
    docker_archive,
    read_docker_archive,
    v1_layers_from_config,
    write_docker_archive,
)
from registry_model.archive.oci_layout import make_layer_tar
from registry_model.errors import DataModelException


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


# --- reading each layout --------------------------------------------------------------------

@pytest.mark.parametrize("build, tags, has_v1", [
    (legacy_members, ("ns/repo:tag",), True),
    (cimage_members, ("docker.io/ns/repo:tag",), True),
    (docker25_members, ("ns/repo:tag",), False),
], ids=["legacy", "containers-image", "docker25"])
def test_read_returns_tags_exact_config_and_layers_base_first(tmp_path, build, tags, has_v1):
    archive = read_docker_archive(write_tar(tmp_path / "image.tar", build()))

    assert archive.repo_tags == tags
    assert archive.config_bytes == CONFIG
    assert archive.config_digest == "sha256:" + sha_hex(CONFIG)
    assert [layer.diff_id for layer in archive.layers] == DIFF_IDS
    assert [layer.blob_digest for layer in archive.layers] == DIFF_IDS
    assert [layer.size for layer in archive.layers] == [len(layer) for layer in LAYERS]
    assert [read_all(layer) for layer in archive.layers] == LAYERS
    if has_v1:
        assert [layer.v1_id for layer in archive.layers] == V1_IDS
        assert [layer.v1_json for layer in archive.layers] == V1_JSONS
    else:
        assert all(layer.v1_json is None and layer.v1_id is None for layer in archive.layers)


def test_read_accepts_a_seekable_file_object_and_interleaved_streams(tmp_path):
    path = write_tar(tmp_path / "image.tar", cimage_members())
    with open(path, "rb") as fileobj:
        archive = read_docker_archive(fileobj)
        first, second = archive.layers[0].open(), archive.layers[1].open()
        chunks_first, chunks_second = [], []
        while True:
            a, b = first.read(1000), second.read(1000)
            if not a and not b:
                break
            chunks_first.append(a)
            chunks_second.append(b)

    assert b"".join(chunks_first) == LAYERS[0]
    assert b"".join(chunks_second) == LAYERS[1]
    assert first.verified and second.verified


@pytest.mark.parametrize("as_file_object", [False, True], ids=["path", "file-object"])
def test_read_accepts_a_gzip_compressed_archive(tmp_path, as_file_object):
    plain = Path(write_tar(tmp_path / "image.tar", legacy_members())).read_bytes()
    (tmp_path / "image.tar.gz").write_bytes(gzip.compress(plain))

    with open(tmp_path / "image.tar.gz", "rb") as fileobj:
        archive = read_docker_archive(fileobj if as_file_object else tmp_path / "image.tar.gz")
        layers = [read_all(layer) for layer in reversed(archive.layers)]

    assert archive.config_bytes == CONFIG
    assert layers == LAYERS[::-1]


def test_read_normalizes_member_names_and_follows_hard_links(tmp_path):
    config = make_config(diff_ids=[DIFF_IDS[0], DIFF_IDS[1], DIFF_IDS[0]])
    v1_jsons = v1_layers_from_config(config, [DIFF_IDS[0], DIFF_IDS[1], DIFF_IDS[0]])
    members = {f"./{name}": spec for name, spec in legacy_members(
        layers=[LAYERS[0], LAYERS[1], LAYERS[0]], config=config, v1_jsons=v1_jsons).items()}
    ids = [json.loads(raw)["id"] for raw in v1_jsons]
    # docker save stores a layer seen twice once, and links the second folder to the first.
    members[f"./{ids[2]}/layer.tar"] = Hardlink(f"{ids[0]}/layer.tar")

    archive = read_docker_archive(write_tar(tmp_path / "image.tar", members))

    assert [layer.v1_id for layer in archive.layers] == ids
    assert [read_all(layer) for layer in archive.layers] == [LAYERS[0], LAYERS[1], LAYERS[0]]


def test_the_folder_manifest_json_names_wins_over_other_folders_of_the_same_layer(tmp_path):
    # V1 JSON without parents (as some tools write): only manifest.json tells the folders apart.
    layers = [LAYERS[0], LAYERS[1], LAYERS[0]]
    config = make_config(diff_ids=[DIFF_IDS[0], DIFF_IDS[1], DIFF_IDS[0]])
    ids = ["b" * 64, "c" * 64, "a" * 64]
    v1_jsons = [json.dumps({"id": v1_id, "comment": f"layer {i}"}) for i, v1_id in enumerate(ids)]
    members = legacy_members(layers=layers, config=config, v1_jsons=v1_jsons)
    members[f"{ids[2]}/layer.tar"] = Hardlink(f"{ids[0]}/layer.tar")

    archive = read_docker_archive(write_tar(tmp_path / "image.tar", members))

    assert [layer.v1_id for layer in archive.layers] == ids
    assert [layer.v1_json for layer in archive.layers] == v1_jsons


def test_symlinked_folders_sharing_one_layer_file_are_told_apart_by_parent(tmp_path):
    layers = [LAYERS[0], LAYERS[1], LAYERS[0]]
    diff_ids = [DIFF_IDS[0], DIFF_IDS[1], DIFF_IDS[0]]
    config = make_config(diff_ids=diff_ids)
    v1_jsons = v1_layers_from_config(config, diff_ids)
    members = cimage_members(layers=layers, config=config, v1_jsons=v1_jsons)

    archive = read_docker_archive(write_tar(tmp_path / "image.tar", members))

    assert [layer.v1_json for layer in archive.layers] == v1_jsons


def test_untagged_image_has_no_repo_tags(tmp_path):
    members = legacy_members()
    members["manifest.json"] = manifest(f"{sha_hex(CONFIG)}.json",
                                        [f"{v1_id}/layer.tar" for v1_id in V1_IDS], None)

    assert read_docker_archive(write_tar(tmp_path / "image.tar", members)).repo_tags == ()


# --- streaming verification -----------------------------------------------------------------

def tampered_members():
    members = cimage_members()
    name = f"{sha_hex(LAYERS[1])}.tar"
    flipped = bytearray(LAYERS[1])
    flipped[len(flipped) // 2] ^= 0xFF
    members[name] = bytes(flipped)
    return members


def test_a_layer_whose_bytes_do_not_match_its_diff_id_fails_at_the_end_of_its_stream(tmp_path):
    archive = read_docker_archive(write_tar(tmp_path / "image.tar", tampered_members()))
    stream = archive.layers[1].open()

    first = stream.read(4096)
    assert len(first) == 4096 and not stream.verified
    with pytest.raises(ArchiveException, match=f"expected {DIFF_IDS[1]}"):
        while stream.read(4096):
            pass
    assert not stream.verified
    assert read_all(archive.layers[0]) == LAYERS[0]


def test_verify_streams_every_layer_and_reports_the_bad_one(tmp_path):
    good = read_docker_archive(write_tar(tmp_path / "good.tar", cimage_members()))
    bad = read_docker_archive(write_tar(tmp_path / "bad.tar", tampered_members()))

    good.verify()
    with pytest.raises(ArchiveException, match="layer 1"):
        bad.verify()


def test_layer_streams_hand_out_bounded_chunks(tmp_path):
    archive = read_docker_archive(write_tar(tmp_path / "image.tar", legacy_members()))
    with archive.layers[1].open() as stream:
        sizes = []
        while chunk := stream.read(8192):
            sizes.append(len(chunk))

    assert max(sizes) == 8192
    assert sum(sizes) == len(LAYERS[1])


# --- corrupt or unexpected input --------------------------------------------------------------

def drop(members, *names):
    return {name: spec for name, spec in members.items() if name not in names}


CONFIG_NAME = f"{sha_hex(CONFIG)}.json"
CIMAGE = cimage_members()
TWO_IMAGES = json.dumps([json.loads(CIMAGE["manifest.json"])[0]] * 2).encode()
LOOP = dict(CIMAGE, **{f"{sha_hex(LAYERS[0])}.tar": Symlink(f"{V1_IDS[0]}/layer.tar")})

CORRUPT = {
    "no manifest": (drop(CIMAGE, "manifest.json"), "no manifest.json"),
    "pre-1.10 archive": (dict(drop(legacy_members(), "manifest.json")), "pre-1.10"),
    "manifest not json": (dict(CIMAGE, **{"manifest.json": b"{oops"}), "not valid JSON"),
    "manifest not a list": (dict(CIMAGE, **{"manifest.json": b"{}"}), "not a JSON array"),
    "two images": (dict(CIMAGE, **{"manifest.json": TWO_IMAGES}), "lists 2 images"),
    "no images": (dict(CIMAGE, **{"manifest.json": b"[]"}), "lists 0 images"),
    "no config path": (dict(CIMAGE, **{"manifest.json": b'[{"Layers": []}]'}), "no Config"),
    "layers not a list": (dict(CIMAGE, **{"manifest.json": json.dumps(
        [{"Config": CONFIG_NAME, "Layers": "x.tar"}]).encode()}), "Layers is not a list"),
    "missing layer": (drop(CIMAGE, f"{sha_hex(LAYERS[2])}.tar"), "no member"),
    "missing config": (drop(CIMAGE, CONFIG_NAME), "no member"),
    "config bytes differ from their name": (dict(CIMAGE, **{CONFIG_NAME: b"{}"}),
                                            "does not match its digest"),
    "config without rootfs": (
        dict(CIMAGE, **{"c.json": b"{}", "manifest.json": json.dumps(
            [{"Config": "c.json", "Layers": []}]).encode()}), "no rootfs.diff_ids"),
    "garbage config": (
        dict(CIMAGE, **{"c.json": b"[[[", "manifest.json": json.dumps(
            [{"Config": "c.json", "Layers": []}]).encode()}), "not valid JSON"),
    "layer count mismatch": (dict(CIMAGE, **{"manifest.json": manifest(
        CONFIG_NAME, [f"{sha_hex(LAYERS[0])}.tar"])}), "lists 1 layers but the config has 3"),
    "symlink loop": (LOOP, "symlink loop"),
    "layer is a directory": (dict(CIMAGE, **{f"{sha_hex(LAYERS[0])}.tar": DIRECTORY}),
                             "not a file"),
    "bad v1 json": (dict(CIMAGE, **{f"{V1_IDS[1]}/json": b"not json"}),
                     f"V1 JSON {V1_IDS[1]}/json is not valid JSON"),
    "v1 json not utf-8": (dict(CIMAGE, **{f"{V1_IDS[1]}/json": b"\xff{}"}), "not UTF-8"),
}


@pytest.mark.parametrize("members, message", CORRUPT.values(), ids=CORRUPT.keys())
def test_malformed_archives_raise_one_line_archive_exceptions(tmp_path, members, message):
    path = write_tar(tmp_path / "image.tar", members)

    with pytest.raises(ArchiveException, match=message) as caught:
        read_docker_archive(path)
    assert isinstance(caught.value, DataModelException)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("content, message", [
    (b"", "empty file|not a readable tar"),
    (b"this is not a tar archive at all\n" * 64, "not a readable tar"),
    (bytes(range(256)) * 8, "not a readable tar"),
    (b"\x1f\x8b" + b"not really gzip" * 40, "not a readable tar"),
], ids=["empty", "text", "binary", "fake-gzip"])
def test_files_that_are_not_tar_archives_raise_archive_exception(tmp_path, content, message):
    path = tmp_path / "garbage.tar"
    path.write_bytes(content)

    with pytest.raises(ArchiveException, match=message):
        read_docker_archive(path)


def test_a_missing_file_raises_archive_exception(tmp_path):
    with pytest.raises(ArchiveException, match="cannot open archive"):
        read_docker_archive(tmp_path / "nope.tar")


def test_an_archive_cut_inside_a_layer_raises_archive_exception(tmp_path):
    data = Path(write_tar(tmp_path / "image.tar", legacy_members())).read_bytes()
    # The layers come first in legacy_members; cut in the middle of the last one's data.
    end_of_last_layer = data.index(CONFIG) - 512
    (tmp_path / "cut.tar").write_bytes(data[:end_of_last_layer - 100])

    with pytest.raises(ArchiveException):
        read_docker_archive(tmp_path / "cut.tar")


def test_a_plain_archive_truncated_in_its_last_layer_is_refused_before_streaming(tmp_path):
    members = legacy_members()
    last = f"{V1_IDS[2]}/layer.tar"
    members = dict(drop(members, last), **{last: LAYERS[2]})  # move the last layer to the end
    data = Path(write_tar(tmp_path / "image.tar", members)).read_bytes()
    (tmp_path / "cut.tar").write_bytes(data[:data.index(LAYERS[2]) + 300])

    with pytest.raises(ArchiveException, match="truncated|unexpected end of data"):
        read_docker_archive(tmp_path / "cut.tar")


def test_a_truncated_gzip_archive_raises_archive_exception(tmp_path):
    data = Path(write_tar(tmp_path / "image.tar", legacy_members())).read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(gzip.compress(data)[:-5000])

    with pytest.raises(ArchiveException):
        read_docker_archive(tmp_path / "cut.tar.gz").verify()


def test_a_non_seekable_stream_is_refused(tmp_path):
    read_end, write_end = os.pipe()
    os.close(write_end)
    with open(read_end, "rb", buffering=0) as pipe:
        with pytest.raises(ArchiveException, match="not seekable"):
            read_docker_archive(pipe)


def test_oversized_metadata_is_refused_without_reading_it(tmp_path, monkeypatch):
    monkeypatch.setattr(docker_archive, "MAX_METADATA_BYTES", 100)

    with pytest.raises(ArchiveException, match="more than metadata may be"):
        read_docker_archive(write_tar(tmp_path / "image.tar", cimage_members()))


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
