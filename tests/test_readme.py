"""The README's first command, run as written (minus creating the virtualenv we run in)."""
import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _first_command() -> str:
    block = re.search(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), re.S).group(1)
    lines = [line for line in block.splitlines() if line and not line.startswith("#")]
    return lines[0]


def test_readme_first_command_installs_imports_the_sample_and_shows_its_images(tmp_path):
    steps = [step.strip() for step in _first_command().split("&&")]
    assert steps[0].startswith("python3 -m venv .venv")
    assert steps[1] == ".venv/bin/pip install ."
    bin_dir = Path(sys.executable).parent
    runnable = [step.replace(".venv/bin/", "%s/" % bin_dir) for step in steps[2:]]
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("REGISTRY_MODEL_")}
    done = subprocess.run(" && ".join(runnable), shell=True, cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "registry.db").exists() and (tmp_path / "blobs").is_dir()
    tree = done.stdout.splitlines()[-3:]
    assert len(tree) == 3, done.stdout
    assert "latest" in tree[-1] and "latest" not in "".join(tree[:-1]), done.stdout
