"""Specification of reading ``docker save`` archives: every layout, streaming, corrupt input.

The archives are built member by member with the builders of this package (tests/archive), so
the reader is tested apart from the writer (test_writer.py).
"""
import gzip
import json
import os
from pathlib import Path

import pytest

from registry_model.archive import (
    ArchiveException,
    read_docker_archive,
    reader,
    v1_layers_from_config,
)
from registry_model.errors import DataModelException

from . import (
    CONFIG,
    CONFIG_NAME,
    DIFF_IDS,
    DIRECTORY,
    LAYERS,
    V1_IDS,
    V1_JSONS,
    Hardlink,
    Symlink,
    cimage_members,
    docker25_members,
    legacy_members,
    make_config,
    manifest,
    read_all,
    sha_hex,
    write_tar,
)

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
    monkeypatch.setattr(reader, "MAX_METADATA_BYTES", 100)

    with pytest.raises(ArchiveException, match="more than metadata may be"):
        read_docker_archive(write_tar(tmp_path / "image.tar", cimage_members()))

