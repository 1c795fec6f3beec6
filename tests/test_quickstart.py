"""examples/quickstart.py, the README's first command, run as a user would run it."""
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

from registry_model import registry_model
from registry_model.database import configure
from registry_model.testing.databases import scratch_database

QUICKSTART = Path(__file__).resolve().parents[1] / "examples" / "quickstart.py"
IMAGE_LINE = re.compile(r"^  image ([0-9a-f]{12})  (\d+) bytes  parents: (.+)  tags: (.+)$")


def run_quickstart(folder, *args):
    result = subprocess.run([sys.executable, str(QUICKSTART), *args], cwd=folder,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout.splitlines()


def stored_manifest(uri):
    """What the interface holds for acme/quickstart:latest, read back apart from the script."""
    database = configure(uri)
    try:
        ref = registry_model.lookup_repository("acme", "quickstart")
        manifest = registry_model.get_manifest_for_tag(
            registry_model.find_matching_tag(ref, ["latest"]))
        return manifest, len(registry_model.get_legacy_images(ref))
    finally:
        database.close()


def test_quickstart_writes_and_reads_back_a_repository_twice(tmp_path):
    with scratch_database() as uri:
        first = run_quickstart(tmp_path, uri)
        second = run_quickstart(tmp_path, uri)
        manifest, image_count = stored_manifest(uri)

    assert first[0].startswith("database ") and "applied 0001_initial" in first[0]
    assert second[0].endswith("schema up to date")
    # The second run reused everything: same output, nothing written twice.
    assert second[1:] == first[1:]
    assert image_count == 3

    output = first[1:]
    assert output[0] == "repository acme/quickstart: kind image, public, NORMAL"
    images = [IMAGE_LINE.match(line).groups() for line in output if IMAGE_LINE.match(line)]
    assert len(images) == 3
    (base, _, base_parents, base_tags), (middle, _, middle_parents, middle_tags), \
        (top, _, top_parents, top_tags) = images
    assert (base_parents, middle_parents, top_parents) == (
        "-", base, "%s, %s" % (middle, base))
    assert (base_tags, middle_tags, top_tags) == ("-", "-", "latest, v1")
    assert "tag latest -> image %s" % top in output
    assert "tag v1 -> image %s" % top in output

    assert manifest.digest == "sha256:" + hashlib.sha256(manifest.manifest_bytes).hexdigest()
    assert "manifest of latest: %s (%s, %d bytes)" % (
        manifest.digest, manifest.media_type, len(manifest.manifest_bytes)) in output
    assert output[-2:] == ["labels of latest:",
                           "  com.example.maintainer = acme team (api, text/plain)"]


def test_quickstart_defaults_to_registry_db_in_the_current_folder(tmp_path):
    assert run_quickstart(tmp_path)[1] == "repository acme/quickstart: kind image, public, NORMAL"
    assert (tmp_path / "registry.db").exists()


def test_quickstart_runs_where_the_readme_first_command_imported_acme_hello(tmp_path):
    """The README's order: `registry-model import ... acme/hello:latest`, then the quickstart."""
    script = Path(sys.executable).parent / "registry-model"
    for args in (["sample", "sample.tar"], ["import", "sample.tar", "acme/hello:latest"]):
        done = subprocess.run([str(script), *args], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120, env=_clean_env())
        assert done.returncode == 0, done.stderr
    output = run_quickstart(tmp_path)
    assert output[1] == "repository acme/quickstart: kind image, public, NORMAL"
    assert "tag v1 -> image " in output[3]


def test_quickstart_says_so_when_its_tags_were_ended(tmp_path):
    run_quickstart(tmp_path)
    script = Path(sys.executable).parent / "registry-model"
    for tag_name in ("latest", "v1"):
        # The quickstart writes through the pre-OCI model layer: the command must use it too.
        done = subprocess.run([str(script), "--model", "pre-oci", "untag",
                               "acme/quickstart:" + tag_name],
                              cwd=tmp_path, capture_output=True, text=True, timeout=120,
                              env=_clean_env())
        assert done.returncode == 0, done.stderr
    output = run_quickstart(tmp_path)
    assert output[2:] == ["tag latest: not found", "tag v1: not found", "no manifest for latest"]


def _clean_env():
    return {key: value for key, value in os.environ.items()
            if not key.startswith("REGISTRY_MODEL_")}
