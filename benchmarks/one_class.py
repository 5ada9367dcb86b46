"""The one-class anomaly-detection protocol: train on the images of one class, score the whole
test set, that class normal and every other class anomalous; ROC AUC per class and the mean.

    python benchmarks/one_class.py --data-dir ../shared/data [--dataset fashion_mnist|mnist]
        [--classes 0 1 ...] [--model conv] [--epochs 10]

Fashion-MNIST: the 6,000 training images of the class, the 10,000 test images scored. MNIST
(only its 10,000 test digits are local): the first 5,000 test digits are the training pool
(about 500 of the class), the other 5,000 are scored. In the same run, the baselines on raw
pixels (scikit-learn): PCA-32 reconstruction error, IsolationForest and the mean distance to the
5 nearest training images. The `one_class` preset runs as a user runs it, three commands in a
subprocess: `keras-ae train --model one_class --dataset NORMAL.npz`, `keras-ae detect RUN --fit`
and `keras-ae detect RUN --input TEST.npz --json`, whose scores are ranked. The `--model`
preset (default conv) is trained as `keras-ae train` trains it (`keras_ae.training.train.train`,
a run folder included) and scored two ways: its reconstruction error and the mean distance of
its codes to the 5 nearest codes of the training images. Seconds per class count each model's
training and scoring.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from keras_ae import data
from keras_ae.analysis.baselines import (isolation_forest_scores, knn_distances, knn_scores,
                                         pca_scores)
from keras_ae.models.presets import preset_config
from keras_ae.training.train import train
from keras_ae.utils.machine import cpu_description

K = 5
PCA_COMPONENTS = 32
MNIST_POOL = 5000  # MNIST: test digits [0, 5000) train, [5000, 10000) are scored


def protocol(dataset: str, data_dir: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(pool images, pool labels, scored images, scored labels) of the protocol on `dataset`."""
    if dataset == "mnist":  # the 10k test digits, in file order (locally the only split)
        x, y = data.load_arrays("mnist", "train", data_dir=data_dir, validation_fraction=0)
        return x[:MNIST_POOL], y[:MNIST_POOL], x[MNIST_POOL:], y[MNIST_POOL:]
    train_x, train_y = data.load_arrays(dataset, "train", data_dir=data_dir, validation_fraction=0)
    test_x, test_y = data.load_arrays(dataset, "test", data_dir=data_dir)
    return train_x, train_y, test_x, test_y


def model_scores(model_name: str, epochs: int, normal: np.ndarray, scored: np.ndarray,
                 seed: int) -> dict[str, np.ndarray]:
    """Train `model_name` on `normal` as the command line does and score `scored` two ways."""
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "normal.npz"
        np.savez(npz, images=normal)
        config = preset_config(model_name, dataset=str(npz), epochs=epochs, seed=seed)
        model = train(config, Path(tmp) / "run", verbose=0).model
    codes = np.asarray(model.features(normal))
    return {"reconstruction": np.asarray(model.anomaly_score(scored)),
            "code kNN": knn_distances(codes, np.asarray(model.features(scored)), K)}


def one_class_cli_scores(normal: np.ndarray, scored: np.ndarray, seed: int) -> np.ndarray:
    """The `one_class` preset through the command line: train on `normal`, fit the threshold on
    the run's validation split, and the scores `detect --input --json` prints for `scored`."""
    with tempfile.TemporaryDirectory() as tmp:
        normal_file, scored_file, run = (Path(tmp) / name for name in ("normal.npz", "test.npz", "run"))
        np.savez(normal_file, images=normal)
        np.savez(scored_file, images=scored)
        cli = [sys.executable, "-m", "keras_ae.cli"]
        for argv in (["train", "--model", "one_class", "--dataset", str(normal_file), "--output",
                      str(run), "--seed", str(seed), "--quiet"],
                     ["detect", str(run), "--fit", "--json"]):
            subprocess.run([*cli, *argv], check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        done = subprocess.run([*cli, "detect", str(run), "--input", str(scored_file), "--json"],
                              check=True, capture_output=True, text=True)
    return np.array([row["score"] for row in json.loads(done.stdout)["inputs"]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion_mnist", choices=["fashion_mnist", "mnist"])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--classes", type=int, nargs="*", default=list(range(10)))
    parser.add_argument("--model", default="conv")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(cpu_description(), flush=True)
    folder = {"fashion_mnist": "fashion-mnist"}.get(args.dataset, args.dataset)
    pool_x, pool_y, scored_x, scored_y = protocol(args.dataset, str(Path(args.data_dir) / folder))
    baselines = {
        f"PCA-{PCA_COMPONENTS}": lambda normal: pca_scores(normal, scored_x, PCA_COMPONENTS),
        "IsolationForest": lambda normal: isolation_forest_scores(normal, scored_x),
        f"{K}-NN pixels": lambda normal: knn_scores(normal, scored_x, K),
    }
    names = [*baselines, "one_class (CLI)", f"{args.model} reconstruction",
             f"{args.model} code kNN"]
    print(f"\n{args.dataset}, one class normal ({len(scored_x):,} images scored), "
          f"{args.model} trained {args.epochs} epochs\n")
    print("| class | normal images | " + " | ".join(names) + " | one_class seconds | "
          f"{args.model} seconds |")
    print("|---|---|" + "---|" * (len(names) + 2), flush=True)
    table = []
    for c in args.classes:
        normal = pool_x[pool_y == c]
        anomalous = (scored_y != c).astype(int)
        row = [roc_auc_score(anomalous, score(normal)) for score in baselines.values()]
        start = time.perf_counter()
        row.append(roc_auc_score(anomalous, one_class_cli_scores(normal, scored_x, args.seed)))
        one_class_seconds = time.perf_counter() - start
        start = time.perf_counter()
        scores = model_scores(args.model, args.epochs, normal, scored_x, args.seed)
        seconds = time.perf_counter() - start
        row += [roc_auc_score(anomalous, scores[key]) for key in ("reconstruction", "code kNN")]
        table.append(row)
        print(f"| {c} | {len(normal):,} | " + " | ".join(f"{v:.3f}" for v in row)
              + f" | {one_class_seconds:.0f} | {seconds:.0f} |", flush=True)
    means = np.mean(table, axis=0)
    print("| **mean** | | " + " | ".join(f"**{v:.3f}**" for v in means) + " | | |")
    best = max(means[:len(baselines)])
    print(f"\none_class (CLI) mean {means[len(baselines)]:.3f} against the best baseline "
          f"{best:.3f}: {means[len(baselines)] - best:+.3f}")


if __name__ == "__main__":
    main()
