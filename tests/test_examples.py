"""The examples run as users run them (one epoch each, on the real files)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import keras_ae
from keras_ae.export import export_tflite

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name, *args, cwd):
    done = subprocess.run([sys.executable, str(EXAMPLES / name), *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=cwd)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.real_data
def test_train_and_evaluate(real_data_dir, tmp_path):
    out = run_example("train_and_evaluate.py", "--data-dir", real_data_dir, "--epochs", "1",
                      cwd=tmp_path)
    assert "held-out MSE" in out and "PCA-32" in out


@pytest.mark.real_data
def test_anomaly_detection(real_data_dir, tmp_path):
    out = run_example("anomaly_detection.py", "--data-dir", real_data_dir, "--epochs", "1",
                      cwd=tmp_path)
    auc = float(out.rsplit("ROC AUC of the anomaly score:", 1)[1])
    assert 0.5 < auc <= 1.0  # clothes score higher than digits even after one epoch


@pytest.mark.real_data
def test_vae_generate(real_data_dir, tmp_path):
    out = run_example("vae_generate.py", "--data-dir", real_data_dir, "--epochs", "1",
                      "--output", tmp_path / "grid.png", cwd=tmp_path)
    assert "NLL" in out and (tmp_path / "grid.png").stat().st_size > 0


def test_tflite_inference(tmp_path):
    model = keras_ae.build("seed", latent_dim=8)
    path = export_tflite(model, tmp_path / "seed.tflite")
    digit = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    np.save(tmp_path / "digit.npy", digit)
    out = run_example("tflite_inference.py", path, tmp_path / "digit.npy", cwd=tmp_path)
    x = (digit / 255.0).astype("float32")[None, ..., None]
    want_score = float(model.anomaly_score(x)[0])
    got_score = float(out.rsplit("anomaly score:", 1)[1])
    assert got_score == pytest.approx(want_score, rel=1e-4)
    assert out.count("latent code:") == 1


@pytest.mark.real_data
def test_latent_features(real_data_dir, tmp_path):
    out = run_example("latent_features.py", "--data-dir", real_data_dir, "--epochs", "1",
                      "--labels-per-class", "10", "--fine-tune-epochs", "3", cwd=tmp_path)
    assert "9000 training digits" in out and "1000 held-out digits" in out
    rows = {line.strip().split("  ")[0]: line.split()[-2:]
            for line in out.splitlines() if line.startswith("  k-means on")}
    assert set(rows) == {"k-means on the codes", "k-means on raw pixels", "k-means on PCA"}
    for accuracy, nmi in rows.values():
        assert 0.1 < float(accuracy) <= 1 and 0 < float(nmi) <= 1  # better than nothing, at most 1
    probes = [line for line in out.splitlines() if "logistic regression" in line or "softmax" in line]
    assert len(probes) == 4 and all(0 < float(line.split()[-1]) <= 1 for line in probes)
