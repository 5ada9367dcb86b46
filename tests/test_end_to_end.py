"""Every preset the registry lists, through the commands a user types, on real MNIST digits:
`keras-ae train`, `evaluate --json` (parsed from stdout alone), `plot --what reconstructions`,
`export --format tflite` and `predict` on one PNG file.

The first preset runs each command as its own `keras-ae` process; the others run them through
the function that command calls (`keras_ae.cli.main`, with the same arguments), which spares
each command TensorFlow's start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from keras_ae import PRESETS
from keras_ae.cli import main
from keras_ae.data import load_arrays

KERAS_AE = Path(sys.executable).with_name("keras-ae")
TRAIN, TEST = 448, 64  # real digits: a train pool (10 % of it validation) and a test split


@pytest.fixture(scope="module")
def workspace(real_dataset_dir, tmp_path_factory) -> Path:
    """A folder with `digits.npz` (real MNIST digits with labels) and `digit.png` (one more)."""
    root = tmp_path_factory.mktemp("end_to_end")
    images, labels = load_arrays("mnist", "all", data_dir=real_dataset_dir("mnist"))
    np.savez(root / "digits.npz", x_train=images[:TRAIN], y_train=labels[:TRAIN],
             x_test=images[TRAIN:TRAIN + TEST], y_test=labels[TRAIN:TRAIN + TEST])
    Image.fromarray(images[TRAIN + TEST, :, :, 0]).save(root / "digit.png")
    (root / "home").mkdir()
    return root


class Commands:
    """Runs `keras-ae ARGS` in the workspace, in a fresh HOME: in a process of its own, or
    through `keras_ae.cli.main`. Each command must succeed, and its stdout must carry no
    progress bar or note (those belong on stderr)."""

    def __init__(self, workspace: Path, in_process: bool, capfd, monkeypatch):
        self.workspace, self.in_process, self.capfd = workspace, in_process, capfd
        monkeypatch.chdir(workspace)
        monkeypatch.setenv("HOME", str(workspace / "home"))

    def __call__(self, *args: str) -> str:
        if self.in_process:
            self.capfd.readouterr()
            status = main(list(args))
            out, err = self.capfd.readouterr()
        else:
            done = subprocess.run([str(KERAS_AE), *args], cwd=self.workspace, env=dict(os.environ),
                                  capture_output=True, text=True, timeout=600)
            status, out, err = done.returncode, done.stdout, done.stderr
        assert status == 0, f"keras-ae {' '.join(args)}: {err[-2000:]}"
        assert "\x1b" not in out and "\r" not in out, out
        assert "note:" not in out and "warning" not in out.lower(), out
        return out


@pytest.mark.real_data
@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_command_runs_on_every_preset(preset, workspace, capfd, monkeypatch):
    run, exported = f"runs/{preset}", f"exports/{preset}.tflite"
    keras_ae = Commands(workspace, preset != next(iter(PRESETS)), capfd, monkeypatch)

    keras_ae("train", "--model", preset, "--dataset", "digits.npz", "--epochs", "1",
             "--output", run)
    assert (workspace / run / "model.keras").is_file()

    report = json.loads(keras_ae("evaluate", run, "--json", "--labels-per-class", "10",
                                 "--fine-tune-epochs", "1"))
    assert report["split"] == "test" and report["images"] == TEST
    assert 0 < report["mse"] < 1 and np.isfinite(report["psnr"])
    assert report["pca"]["mse"] > 0
    assert {"clustering", "probes"} <= report.keys(), sorted(report)

    keras_ae("plot", run, "--what", "reconstructions", "--output", f"{preset}.png")
    with Image.open(workspace / f"{preset}.png") as picture:
        assert picture.format == "PNG" and min(picture.size) > 28

    keras_ae("export", run, "--format", "tflite", "--output", exported)
    assert (workspace / exported).stat().st_size > 0

    keras_ae("predict", exported, "--input", "digit.png", "--output", f"out/{preset}")
    (reconstruction,) = (workspace / "out" / preset).glob("*.npy")
    x_hat = np.load(reconstruction)
    assert x_hat.shape[-3:] == (28, 28, 1) and x_hat.dtype == np.float32
    assert np.isfinite(x_hat).all()
