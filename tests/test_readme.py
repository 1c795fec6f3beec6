"""Every code block of README.md runs, in the order a reader meets them, in one folder.

The rules, for whoever edits the README:

- Every fenced block names its language. ```` ```sh ```` and ```` ```python ```` blocks run;
  ```` ```text ```` blocks (output, layouts, synopses with placeholders) are only shown. A
  fence without a language, or with another one, fails this test: nothing is skipped
  silently. A command that cannot run here (one that takes minutes, runs this whole suite,
  or needs a server) belongs in prose as inline code, not in a block.
- The folder is a temporary copy of the checkout (the files ``git ls-files`` lists, tracked
  or new), as after a fresh clone; the blocks run in it one after the other, so what one
  leaves (``registry.db``, ``blobs/``, ``signing-key.json``, files it wrote) the next sees.
- A ``sh`` block is one ``bash -e -o pipefail`` script. A ``python`` block is one script run
  by this interpreter: it is complete (its own imports and ``configure()``); state carries
  through the folder's files, not through variables.
- The substitutions, and the only ones: the install steps ``python3 -m venv .venv`` and
  ``.venv/bin/pip install ...`` of an ``&&`` chain are dropped, since the suite runs where
  the package is installed already; ``.venv/bin/`` becomes this interpreter's bin folder,
  which is also first on ``PATH`` (as after ``. .venv/bin/activate``, which the README asks
  for). The environment loses ``REGISTRY_MODEL_*`` and ``TEST_DATABASE_URI``, as a
  reader's shell has neither: every block runs on SQLite.
- A block passes when it exits with status 0 within its timeout.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

CHECKOUT = Path(__file__).resolve().parent.parent
README = CHECKOUT / "README.md"
RUNNABLE = {"sh", "python"}
SHOWN = {"text"}
BLOCK_TIMEOUT_S = 300
FENCE = re.compile(r"^```(\S*)[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
# Install steps of an && chain: the suite runs inside an environment that has the package.
INSTALL_STEP = re.compile(r"(?:python3 -m venv \.venv|\.venv/bin/pip install [^&\n]*?)\s*&&\s*")


class Block(NamedTuple):
    language: str
    code: str
    line: int


def readme_blocks(text: str) -> list:
    """Every fenced block of the README, in order, with the line its fence opens on."""
    return [Block(match.group(1), match.group(2), text.count("\n", 0, match.start()) + 1)
            for match in FENCE.finditer(text)]


def runnable(block: Block, bin_dir: Path) -> str:
    """The block's code with the documented substitutions applied."""
    code = INSTALL_STEP.sub("", block.code)
    return code.replace(".venv/bin/", "%s/" % bin_dir)


def copy_checkout(target: Path) -> None:
    """The checkout's files (tracked, or new and not ignored) copied into ``target``."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=CHECKOUT, capture_output=True,
                            check=True, timeout=60).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = CHECKOUT / name
        if source.is_file():  # a tracked file deleted in the work tree is not copied
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def reader_environment(bin_dir: Path) -> dict:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("REGISTRY_MODEL_") and key != "TEST_DATABASE_URI"}
    env["PATH"] = "%s%s%s" % (bin_dir, os.pathsep, env.get("PATH", ""))
    env["VIRTUAL_ENV"] = str(bin_dir.parent)
    return env


def run_block(block: Block, folder: Path, bin_dir: Path, env: dict) -> str:
    """Run one block in ``folder``; its stdout. Fails the test with its output otherwise."""
    code = runnable(block, bin_dir)
    if block.language == "sh":
        command = ["bash", "-e", "-o", "pipefail", "-c", code]
    else:
        script = folder / ".readme_block.py"
        script.write_text(code, encoding="utf-8")
        command = [sys.executable, str(script)]
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True,
                          timeout=BLOCK_TIMEOUT_S)
    assert done.returncode == 0, "README.md line %d (%s block) failed:\n%s\n--- stdout\n%s" \
        "\n--- stderr\n%s" % (block.line, block.language, code, done.stdout, done.stderr)
    return done.stdout


def test_every_block_names_a_known_language():
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    unknown = [(block.line, block.language) for block in blocks
               if block.language not in RUNNABLE | SHOWN]
    assert not unknown, "fences must say sh, python or text: %s" % unknown


def test_the_first_two_commands_are_kept_word_for_word():
    text = README.read_text(encoding="utf-8")
    first = readme_blocks(text)[0]
    assert first.language == "sh"
    assert first.code.strip() == (
        "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/registry-model sample "
        "sample.tar && .venv/bin/registry-model import sample.tar acme/hello:latest && "
        ".venv/bin/registry-model images acme/hello")
    assert "`.venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest -q`" in text


def test_substitutions_drop_only_the_install_steps(tmp_path):
    block = Block("sh", "python3 -m venv .venv && .venv/bin/pip install . && "
                  ".venv/bin/registry-model repos\n.venv/bin/python x.py\n", 1)
    assert runnable(block, tmp_path) == "%s/registry-model repos\n%s/python x.py\n" % (
        tmp_path, tmp_path)


def test_every_block_runs_in_order_in_one_folder(tmp_path):
    folder = tmp_path / "checkout"
    folder.mkdir()
    copy_checkout(folder)
    bin_dir = Path(sys.executable).parent
    env = reader_environment(bin_dir)
    blocks = [block for block in readme_blocks(README.read_text(encoding="utf-8"))
              if block.language in RUNNABLE]
    assert len(blocks) >= 10
    outputs = [run_block(block, folder, bin_dir, env) for block in blocks]

    # The block moving to the OCI model had pre-OCI rows to carry (its second run, none).
    moving = next(output for block, output in zip(blocks, outputs, strict=True)
                  if "migrate-to-oci" in block.code and block.language == "sh")
    carried = [line for line in moving.splitlines() if line.startswith("carried ")]
    assert carried and carried[0].startswith("carried 1 tags, 1 manifests, "), moving

    # The first command showed the imported image as a three-image chain ending at latest.
    tree = outputs[0].splitlines()[-3:]
    assert len(tree) == 3 and "latest" in tree[-1] and "latest" not in "".join(tree[:-1])
    assert (folder / "registry.db").exists() and (folder / "signing-key.json").exists()
    assert not (folder / "blobs" / "signing-key.json").exists()


def _text_block_after(text: str, heading: str) -> str:
    """The first ``text`` block of the README section under that heading."""
    section = text.split("\n## %s\n" % heading, 1)[1].split("\n## ", 1)[0]
    return next(block.code for block in readme_blocks(section) if block.language == "text")


def test_the_package_map_names_every_subpackage():
    shown = _text_block_after(README.read_text(encoding="utf-8"), "What is inside")
    package = CHECKOUT / "registry_model"
    subpackages = sorted(path.parent.name for path in package.glob("*/__init__.py"))
    assert len(subpackages) >= 10
    missing = [name for name in subpackages if not re.search(r"(?<![\w/])(registry_model/)?%s/"
                                                              % name, shown)]
    assert not missing, "add to the package map of 'What is inside': %s" % missing


def test_the_command_synopsis_names_every_command():
    from registry_model.cli import main

    shown = _text_block_after(README.read_text(encoding="utf-8"), "The command line")
    # A command opens a line (after the group's options) or follows "| " on it.
    synopsis = set(re.findall(r"(?:^registry-model (?:\[--db URI\] )?|\| )([a-z][a-z-]*)",
                              shown, re.M))
    missing = sorted(set(main.commands) - synopsis)
    assert not missing, "add to the synopsis of 'The command line': %s" % missing
