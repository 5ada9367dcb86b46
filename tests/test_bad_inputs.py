"""Every bad input of the table (tests/bad_input_cases.py) gets the library's own one-line
answer and leaves the user's files as they were.

Python API: the expected error type, raised by keras_ae's own code (not from deep inside
TensorFlow, Keras or NumPy), with a one-line message naming the problem. Command line: exit
status 2, exactly one line on stderr (file descriptor 2, so native log lines count too) that
names the problem, no traceback. Both: a snapshot of every file and folder of the world (and
of the working folder) is the same before and after.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from keras_ae.cli import main
from keras_ae.training.runlock import RunLock

from bad_input_cases import _api_cases, _cli_cases, build_world, counts_table, raised_by_keras_ae

API_CASES = _api_cases()
CLI_CASES = _cli_cases()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    locks = []

    def hold_lock(run_dir):
        locks.append(RunLock(run_dir).acquire())

    w = build_world(tmp_path_factory.mktemp("world"), hold_lock)
    yield w
    for lock in locks:
        lock.release()


def snapshot(root: Path) -> dict:
    """Every entry under `root`: its kind, size, modification time and inode."""
    result = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            result[path.relative_to(root)] = (path.is_dir(), st.st_size, st.st_mtime_ns, st.st_ino)
    return result


@pytest.mark.parametrize("case", API_CASES, ids=[f"{c.category}: {c.name}" for c in API_CASES])
def test_python_api(case, world, monkeypatch):
    monkeypatch.chdir(world.work)
    before = snapshot(world.root)
    with pytest.raises(case.error) as raised:
        case.call(world)
    message = str(raised.value)
    assert case.message in message
    assert "\n" not in message.strip()
    assert raised_by_keras_ae(raised.value), f"raised outside keras_ae: {raised.value!r}"
    assert snapshot(world.root) == before


@pytest.mark.parametrize("case", CLI_CASES, ids=[f"{c.category}: {c.name}" for c in CLI_CASES])
def test_command_line(case, world, monkeypatch, capfd):
    monkeypatch.chdir(world.work)
    before = snapshot(world.root)
    capfd.readouterr()
    assert main(case.argv(world)) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and err.startswith("keras-ae: error: "), err
    assert case.message in err
    assert "Traceback" not in err
    assert snapshot(world.root) == before


def test_the_table_has_200_cases_and_the_docs_count_them():
    assert len(API_CASES) + len(CLI_CASES) >= 200
    names = [(type(c).__name__, c.category, c.name) for c in API_CASES + CLI_CASES]
    assert len(set(names)) == len(names)
    docs = (Path(__file__).parents[1] / "docs" / "bad-inputs.md").read_text()
    assert counts_table() in docs


def test_a_fresh_process_writes_one_line_without_native_chatter(world):
    """In a new process LiteRT announces its CPU delegate on stderr; predict keeps it off."""
    done = subprocess.run(
        [sys.executable, "-m", "keras_ae.cli", "predict", str(world.tflite), "--input",
         str(world.inputs / "good.npy"), "--signature", "decode", "--output",
         str(world.work / "predicted")],
        capture_output=True, text=True, timeout=300, cwd=world.work,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert done.returncode == 2
    assert done.stderr == ("keras-ae: error: input 'z' of 'decode' must have shape (batch, 2), "
                           "got (2, 8, 8, 1)\n")
    assert not (world.work / "predicted").exists()


def test_an_unreadable_folder_is_named_unreadable(tmp_path, monkeypatch, capfd):
    """A dataset folder the user may not read is named as such, not by a file inside it that
    cannot be found. (Root reads every folder: there, os.access says what a user would meet.)"""
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0)
    if os.geteuid() == 0:
        access = os.access
        monkeypatch.setattr(os, "access", lambda path, mode, **kwargs: (
            Path(path) != folder and access(path, mode, **kwargs)))
    try:
        assert main(["train", "--dataset", str(folder), "--output", str(tmp_path / "run")]) == 2
    finally:
        folder.chmod(0o755)
    assert capfd.readouterr().err == f"keras-ae: error: cannot read folder {folder}: permission denied\n"
    assert not (tmp_path / "run").exists()
