"""The examples run as users run them (one epoch each, on the real files)."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import keras_ae
from keras_ae.serving.export import export_tflite

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


def table_rows(out: str) -> dict[str, list[str]]:
    """The rows of the markdown table an example prints: first cell -> the other cells."""
    rows = [line.strip("|").split("|") for line in out.splitlines()
            if line.startswith("| ") and not line.startswith("|---")]
    return {cells[0].strip(): [c.strip() for c in cells[1:]] for cells in rows[1:]}


@pytest.mark.real_data
def test_anomaly_detection(real_data_dir, tmp_path):
    out = run_example("anomaly_detection.py", "--data-dir", real_data_dir, "--epochs", "1",
                      "--anomalies", "300", cwd=tmp_path)
    rows = table_rows(out)
    assert len(rows) == 6 and "PCA-16 reconstruction error (baseline)" in rows
    assert all(0 <= float(v) <= 1 for values in rows.values() for v in values)
    auc, ap = re.search(r"recommended detector \(vae -ELBO\): ROC AUC ([\d.]+), "
                        r"average precision ([\d.]+)", out).groups()
    assert 0.5 < float(auc) <= 1.0 and 0.5 < float(ap) <= 1.0  # clothes score higher after one epoch
    flagged = re.search(r"digits: ([\d.]+) % flagged; on the clothes: ([\d.]+) % flagged", out)
    assert float(flagged[1]) < float(flagged[2])
    ours, pixels = re.search(r"one_class ROC AUC ([\d.]+); 5-NN on raw pixels \(baseline\) "
                             r"ROC AUC ([\d.]+)", out).groups()
    assert float(ours) > float(pixels) > 0.5  # shirts: blurred pixels rank better than raw ones
    normal, anomalies = re.search(r"flagged ([\d.]+) % of the normal test images and ([\d.]+) % "
                                  r"of the anomalies", out).groups()
    assert float(normal) < 5 < float(anomalies)
    maps = np.load(tmp_path / "one_class_maps.npy")
    assert maps.shape == (8, 28, 28) and (maps >= 0).all()


@pytest.mark.real_data
def test_leave_one_digit_out(real_data_dir, tmp_path):
    out = run_example("leave_one_digit_out.py", "--data-dir", real_data_dir, "--epochs", "1",
                      "--digits", "0", "7", cwd=tmp_path)
    rows = table_rows(out)
    assert list(rows) == ["0", "7", "**mean**"]
    for values in rows.values():
        assert len(values) == 4
        for cell in values:
            auc, ap = map(float, cell.split(" / "))
            assert 0 <= auc <= 1 and 0 < ap <= 1
    assert "training pool 8000 digits, held out 2000 digits" in out


@pytest.mark.real_data
def test_vae_generate(real_data_dir, tmp_path):
    out = run_example("vae_generate.py", "--data-dir", real_data_dir, "--epochs", "1",
                      "--output", tmp_path / "grid.png", cwd=tmp_path)
    assert "NLL" in out and (tmp_path / "grid.png").stat().st_size > 0


@pytest.mark.real_data
def test_pictures(real_data_dir, tmp_path):
    from PIL import Image

    out = run_example("pictures.py", "--data-dir", real_data_dir, "--epochs", "1",
                      "--output", tmp_path / "docs", cwd=tmp_path)
    assert "t-SNE of 1000 codes" in out
    for name in ("reconstructions.png", "latent_tsne.png", "manifold.png"):
        with Image.open(tmp_path / "docs" / name) as image:
            assert image.format == "PNG" and min(image.size) >= 300


@pytest.mark.real_data
def test_train_on_folder(real_data_dir, tmp_path):
    out = run_example("train_on_folder.py", "--data-dir", real_data_dir, "--epochs", "1",
                      "--per-class", "30", cwd=tmp_path)
    assert "300 images of shape (28, 28, 1), 10 classes: 0_t-shirt, 1_trouser" in out
    mse = float(out.split("held-out MSE ", 1)[1].split()[0])
    assert 0 < mse < 0.2 and "PCA-16" in out
    assert not list(tmp_path.iterdir())  # the demo folder and the run lived in a temporary folder


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
                      "--labels-per-class", "10", "--fine-tune-epochs", "3", "--dec-updates", "1",
                      "--train-digits", "1000", cwd=tmp_path)
    assert "1000 training digits" in out and "1000 held-out digits" in out
    rows = {line.strip().split("  ")[0]: line.split()[-2:]
            for line in out.splitlines() if line.startswith("  k-means on")}
    assert set(rows) == {"k-means on the codes", "k-means on raw pixels", "k-means on PCA",
                         "k-means on a UMAP embedding of the codes",
                         "k-means on the trained encoder's codes"}
    for accuracy, nmi in rows.values():
        assert 0.1 < float(accuracy) <= 1 and 0 < float(nmi) <= 1  # better than nothing, at most 1
    assert "Deep embedded clustering: 1 target updates" in out
    assigned = [line for line in out.splitlines() if "the clustering model's assignments" in line]
    assert len(assigned) == 1 and 0.1 < float(assigned[0].split()[-2]) <= 1
    probes = [line for line in out.splitlines() if "logistic regression" in line or "softmax" in line]
    assert len(probes) == 4 and all(0 < float(line.split()[-1]) <= 1 for line in probes)
