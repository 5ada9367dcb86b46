"""The scripts of benchmarks/ still fit the package: each imports, builds its arguments, and
what a script swaps in keras_ae to measure one part alone exists where it looks for it."""

from __future__ import annotations

import importlib
import sys

import pytest

from conftest import REPO_ROOT

BENCHMARKS = REPO_ROOT / "benchmarks"
SCRIPTS = sorted(path.stem for path in BENCHMARKS.glob("*.py"))


@pytest.fixture(autouse=True)
def benchmarks_importable(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import each other by name


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_script_imports_and_documents_its_arguments(name, monkeypatch, capsys):
    module = importlib.import_module(name)
    assert module.__doc__, name
    if hasattr(module, "main"):
        monkeypatch.setattr(sys, "argv", [f"{name}.py", "--help"])
        with pytest.raises(SystemExit) as done:
            module.main()
        assert done.value.code == 0
        assert capsys.readouterr().out.startswith("usage:")


def test_what_train_speed_swaps_exists():
    train_speed = importlib.import_module("train_speed")
    for option, (module, attribute, replacement) in train_speed.knob_patches().items():
        assert callable(getattr(module, attribute)), (option, module.__name__, attribute)
        assert callable(replacement), option


def test_what_run_folder_cost_times_exists():
    cost = importlib.import_module("run_folder_cost")
    for kind in cost.RUN_FOLDER:
        for method in (*cost.HOOKS, *cost.PARTS_OF.get(kind, {})):
            assert callable(getattr(kind, method)), (kind.__name__, method)

