"""How keras_ae is installed and tested: the suite without pytest-xdist, and the optional
dependencies (extras) named in one line when they are missing."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from keras_ae.cli import main
from keras_ae.utils.extras import MissingExtra, require

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_suite_runs_without_pytest_xdist():
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PYTEST_XDIST", "PYTEST_ADDOPTS"))}
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:xdist", "--collect-only", "-q",
                           "tests/test_callbacks.py"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "tests collected" in done.stdout


@pytest.mark.parametrize(("module", "extra"), [("matplotlib", "plots"), ("umap", "umap")])
def test_a_missing_extra_is_named_with_its_install_command(module, extra, monkeypatch):
    monkeypatch.setitem(sys.modules, module, None)  # import raises ModuleNotFoundError
    with pytest.raises(MissingExtra, match=rf'^this needs \S+, which is not installed: '
                                           rf'pip install "keras-ae\[{extra}\]"$'):
        require(module, "this")


def test_figures_without_matplotlib_name_the_plots_extra(monkeypatch):
    from keras_ae import plots

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtra, match=r'pip install "keras-ae\[plots\]"'):
        plots.curves([{"epoch": 0, "loss": 1.0}])


def test_umap_without_umap_learn_names_the_umap_extra(monkeypatch):
    from keras_ae.analysis.projection import project_2d

    monkeypatch.setitem(sys.modules, "umap", None)
    with pytest.raises(MissingExtra, match=r'pip install "keras-ae\[umap\]"'):
        project_2d(np.zeros((8, 3), "float32"), "umap")


@pytest.mark.parametrize(("module", "argv", "extra"), [
    ("matplotlib", ["plot", "no-such-run", "--what", "curves"], "plots"),
    ("matplotlib", ["evaluate", "no-such-run", "--report", "report.html"], "plots"),
    ("umap", ["evaluate", "no-such-run", "--umap"], "umap"),
    ("umap", ["plot", "no-such-run", "--what", "latent", "--method", "umap"], "umap"),
])
def test_the_cli_exits_2_naming_the_missing_extra(module, argv, extra, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, module, None)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("keras-ae: error: ") and "\n" not in err, err
    assert err.endswith(f'pip install "keras-ae[{extra}]"'), err
