"""keras_ae.data.bundled: offline, MNIST falls back to the bundled digits, for the library and
for the command line's whole job."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from keras_ae.cli import main
from keras_ae.data import DataError, load_arrays
from keras_ae.data import tfds_source

pytestmark = pytest.mark.usefixtures("fresh_data_cache")


def test_offline_mnist_falls_back_to_the_bundled_digits(monkeypatch, caplog):
    monkeypatch.setattr(tfds_source, "network_reachable", lambda *a, **k: False)
    with caplog.at_level(logging.WARNING, logger="keras_ae.data"):
        train_x, train_y = load_arrays("mnist", "train")
        val_x, _ = load_arrays("mnist", "validation")
    assert train_x.shape == (9000, 28, 28, 1) and val_x.shape == (1000, 28, 28, 1)
    assert set(np.unique(train_y)) == set(range(10))
    notes = [r.getMessage() for r in caplog.records if "bundled" in r.getMessage()]
    assert len(notes) == 1 and "\n" not in notes[0]
    assert notes[0].startswith("tensorflow-datasets cannot download MNIST (offline?)")
    with pytest.raises(DataError, match="bundled MNIST digits .* evaluate on split 'validation'"):
        load_arrays("mnist", "test")


def test_main_job_runs_offline_on_the_bundled_digits(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(tfds_source, "network_reachable", lambda *a, **k: False)
    run = tmp_path / "runs" / "seed"
    assert main(["train", "--model", "seed", "--dataset", "mnist", "--epochs", "1",
                 "--output", str(run), "--quiet"]) == 0
    printed = capsys.readouterr()  # keras_ae's notes go to stderr, stdout is for results
    assert "keras-ae: note: tensorflow-datasets cannot download MNIST" in printed.err
    assert "bundled with keras_ae" in printed.err and "keras-ae: note" not in printed.out
    # README's "See what it learned": no test split, so the commands use the validation split
    done = subprocess.run(
        [str(Path(sys.executable).with_name("keras-ae")), "plot", str(run), "--what",
         "reconstructions", "--output", str(tmp_path / "r.png")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**os.environ, "https_proxy": "http://127.0.0.1:9",  # offline, whatever the machine
             "TFDS_DATA_DIR": str(tmp_path / "tfds")})
    assert done.returncode == 0, done.stderr
    said = done.stdout + done.stderr
    assert said.count("keras-ae: note: no test split in the bundled MNIST digits: using the "
                      "validation split\n") == 1
    assert (tmp_path / "r.png").is_file()
    assert main(["evaluate", str(run), "--json", "--no-features"]) == 0
    said = capsys.readouterr()
    assert (said.out + said.err).count("no test split in the bundled MNIST digits") == 1
    assert '"split": "validation", "images": 1000' in said.out
    for command in (["evaluate", str(run), "--split", "test"],
                    ["detect", str(run), "--fit", "--split", "test"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert err == ("keras-ae: error: --split test: no test split in the bundled MNIST digits; "
                       "its splits are train, validation, all\n")
    assert main(["detect", str(run), "--fit", "--json"]) == 0  # validation, as by default
    assert '"fitted_on": "mnist [validation]"' in capsys.readouterr().out
