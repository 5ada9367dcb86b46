"""Every fenced shell and Python block of README.md and docs/*.md runs as written, offline, in a
fresh HOME, in document order in one workspace (a block may use the runs an earlier one made).

The workspace holds what the docs call the user's own files (`digit.png`, `my_images/`,
`my_photos/`), `../shared/data` (the local MNIST files) and `.venv` (this environment). To keep
the suite short, epochs are cut to one: `--epochs N` and `epochs=N` become 1, and a `keras-ae
train` without `--epochs` gets `--epochs 1`. A block that cannot run here is preceded by
`<!-- not run by the tests: REASON -->`; the set-up and test commands are instead checked to be
the ones `.ci/run` runs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import REPO_ROOT

FENCE = re.compile(r"^```(\w*)\s*$")
NOT_RUN = re.compile(r"<!-- not run by the tests: (?P<reason>\S.*\S) -->")
LANGUAGES = {"bash": "bash", "sh": "bash", "shell": "bash", "python": "python"}
# the lines of README's first block that .ci/run runs itself
CI_LINES = re.compile(r"(-m venv|pip install|-m pytest)")


@dataclass(frozen=True)
class Block:
    path: str
    line: int
    language: str
    code: str
    not_run: str | None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


def doc_blocks() -> list[Block]:
    """The fenced blocks of README.md and docs/*.md, in reading order."""
    blocks = []
    for path in [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]:
        lines = path.read_text().splitlines()
        start = None
        for number, text in enumerate(lines):
            fence = FENCE.match(text)
            if not fence:
                continue
            if start is None:
                start, language = number, fence.group(1)
                continue
            before = lines[start - 1] if start else ""
            reason = NOT_RUN.search(before)
            blocks.append(Block(str(path.relative_to(REPO_ROOT)), start + 1, language,
                                "\n".join(lines[start + 1:number]) + "\n",
                                reason.group("reason") if reason else None))
            start = None
    return blocks


BLOCKS = doc_blocks()


def fast(code: str) -> str:
    """The block with its epochs cut to one."""
    code = re.sub(r"--epochs \d+", "--epochs 1", code)
    code = re.sub(r"\bepochs=\d+", "epochs=1", code)
    return "\n".join(line + " --epochs 1" if re.search(r"keras-ae train\b", line)
                     and "--epochs" not in line and not line.rstrip().endswith("\\") else line
                     for line in code.splitlines()) + "\n"


@pytest.fixture(scope="module")
def workspace(real_dataset_dir, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("docs")
    work = root / "work"
    (root / "shared").mkdir()
    (root / "shared" / "data").symlink_to(real_dataset_dir("mnist").parent)
    (root / "home").mkdir()
    work.mkdir()
    (work / ".venv").symlink_to(Path(sys.prefix))
    rng = np.random.default_rng(0)
    digits = (rng.random((12, 28, 28)) * 255).astype("uint8")
    Image.fromarray(digits[0]).save(work / "digit.png")
    (work / "my_images").mkdir()  # digits to score
    for i, image in enumerate(digits[1:4]):
        Image.fromarray(image).save(work / "my_images" / f"{i}.png")
    (work / "my_photos").mkdir()  # colour photos of another size
    for i, image in enumerate(digits[4:]):
        colour = np.repeat(image[:, :, None], 3, axis=2)
        Image.fromarray(colour).resize((64, 64)).save(work / "my_photos" / f"{i}.png")
    return work


def test_the_docs_have_runnable_blocks():
    assert any(b.path == "README.md" and b.not_run is None for b in BLOCKS)
    for block in BLOCKS:
        assert block.language in LANGUAGES, f"{block}: fence language {block.language!r}"


def test_readme_sets_up_and_tests_as_ci_does():
    first = next(b for b in BLOCKS if b.path == "README.md")
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    lines = [line for line in first.code.splitlines() if CI_LINES.search(line)]
    assert len(lines) == 2, lines
    for line in lines:
        for command in line.split("&&"):
            assert command.strip() in ci, f"README's {command.strip()!r} is not what .ci/run runs"


@pytest.mark.real_data
@pytest.mark.parametrize("block", BLOCKS, ids=str)
def test_block_runs_as_written(block, workspace):
    if block.not_run:
        pytest.skip(block.not_run)
    code = fast(block.code)
    if block.path == "README.md" and block == BLOCKS[0]:
        code = "\n".join(line for line in code.splitlines() if not CI_LINES.search(line))
    env = {**os.environ, "HOME": str(workspace.parent / "home"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("KERAS_AE_DATA_DIR", None)
    command = ["bash", "-euo", "pipefail", "-c", code] if LANGUAGES[block.language] == "bash" \
        else [sys.executable, "-c", code]
    done = subprocess.run(command, cwd=workspace, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, f"{block} exited {done.returncode}:\n{done.stderr[-3000:]}"
