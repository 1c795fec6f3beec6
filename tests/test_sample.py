"""registry_model.sample and ``registry-model sample``: the README's sample image."""
import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from registry_model.archive import read_docker_archive
from registry_model.cli import main
from registry_model.sample import (
    SAMPLE_LABELS,
    SAMPLE_REPO_TAG,
    sample_config,
    sample_layers,
    write_sample_archive,
)


def test_the_sample_archive_is_the_same_bytes_every_time(tmp_path):
    first, second = tmp_path / "one.tar", tmp_path / "two.tar"
    write_sample_archive(first)
    write_sample_archive(second)
    in_memory = io.BytesIO()
    write_sample_archive(in_memory)
    assert first.read_bytes() == second.read_bytes() == in_memory.getvalue()


def test_the_sample_is_a_three_layer_linux_amd64_image_with_a_json_label(tmp_path):
    path = tmp_path / "sample.tar"
    written = write_sample_archive(path)
    archive = read_docker_archive(path)

    assert archive.repo_tags == (SAMPLE_REPO_TAG,) == ("acme/hello:latest",)
    assert archive.config_digest == written.config_digest
    assert (archive.config["architecture"], archive.config["os"]) == ("amd64", "linux")
    assert archive.config["config"]["Labels"] == SAMPLE_LABELS
    assert isinstance(json.loads(SAMPLE_LABELS["com.example.settings"]), dict)
    layers = sample_layers()
    assert len(layers) == 3 == len(set(layers))
    assert [layer.diff_id for layer in archive.layers] == [
        "sha256:" + hashlib.sha256(data).hexdigest() for data in layers]
    assert [layer.v1_id for layer in archive.layers] == list(written.layer_ids)
    for layer, data in zip(archive.layers, layers, strict=True):
        with layer.open() as stream:
            assert stream.read() == data
    # One history entry per layer plus one empty (LABEL) step, as a Dockerfile build makes.
    history = json.loads(sample_config(["sha256:" + "0" * 64] * 3))["history"]
    assert [entry.get("empty_layer", False) for entry in history] == [False, False, True, False]


def test_the_sample_archive_takes_another_repo_tag(tmp_path):
    write_sample_archive(tmp_path / "other.tar", "example.org/team/app:1.0")
    assert read_docker_archive(tmp_path / "other.tar").repo_tags == ("example.org/team/app:1.0",)


def test_sample_command_writes_the_archive_and_says_so(tmp_path):
    path = tmp_path / "sample.tar"
    result = CliRunner().invoke(main, ["sample", str(path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("wrote sample image acme/hello:latest to %s (3 layers, "
                                    % path)
    expected = io.BytesIO()
    write_sample_archive(expected)
    assert path.read_bytes() == expected.getvalue()


def test_sample_command_with_a_bad_tag_is_one_line(tmp_path):
    result = CliRunner().invoke(main, ["sample", str(tmp_path / "s.tar"), "--tag", "no-tag"],
                                catch_exceptions=False)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "Error: repo tag 'no-tag' is not of the form NAME:TAG"]
    assert list(tmp_path.iterdir()) == []


def test_sample_command_into_a_missing_folder_is_one_line(tmp_path):
    result = CliRunner().invoke(main, ["sample", str(tmp_path / "nowhere" / "s.tar")],
                                catch_exceptions=False)
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr == "Error: cannot write %s: folder %s does not exist\n" % (
        tmp_path / "nowhere" / "s.tar", tmp_path / "nowhere")


def test_the_installed_command_writes_identical_samples_in_separate_processes(tmp_path):
    script = Path(sys.executable).parent / "registry-model"
    for name in ("a.tar", "b.tar"):
        done = subprocess.run([str(script), "sample", name], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()
