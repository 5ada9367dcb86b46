"""Leave-one-digit-out anomaly detection on MNIST: train on nine digits, detect the tenth.

    python examples/leave_one_digit_out.py --data-dir ../shared/data --epochs 10

The only MNIST files here are the 10k test set: the library's fixed carve of it (seed 0,
validation fraction 0.2) gives a pool of 8000 training digits and 2000 held-out digits. For each
digit d, a dense VAE is trained on the training pool without d (about 7200 images) and scores the
2000 held-out digits: d is the anomaly (about 200 images), the nine others are normal. Reported
per digit and as the mean over the ten folds: ROC AUC and average precision (anomalies as
positives) of the VAE's -ELBO and reconstruction error, and of the baselines fitted on the same
images: PCA reconstruction error with as many components as the latent size, and scikit-learn's
IsolationForest on raw pixels.
"""

import argparse
import time

import keras
import numpy as np

import keras_ae
from keras_ae import data
from keras_ae.analysis import detect

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data-dir", help="folder holding mnist/ IDX files")
parser.add_argument("--epochs", type=int, default=10)
parser.add_argument("--digits", type=int, nargs="+", default=list(range(10)),
                    help="the folds to run (default: all ten)")
args = parser.parse_args()

pool, pool_labels = data.load_arrays("mnist", "train", data_dir=args.data_dir, validation_fraction=0.2)
held_out, held_out_labels = data.load_arrays("mnist", "validation", data_dir=args.data_dir,
                                             validation_fraction=0.2)
print(f"training pool {len(pool)} digits, held out {len(held_out)} digits")

DETECTORS = ("vae -ELBO", "vae reconstruction error", "PCA reconstruction error (baseline)",
             "IsolationForest, raw pixels (baseline)")
results = {}  # (digit, detector) -> metrics
start = time.perf_counter()
for digit in args.digits:
    train = pool[pool_labels != digit]
    is_anomaly = held_out_labels == digit
    keras.utils.set_random_seed(digit)
    model = keras_ae.build("vae")
    model.fit(data.autoencoder_dataset(train, "all", seed=digit), epochs=args.epochs, verbose=0)
    scores = {
        "vae -ELBO": detect.anomaly_scores(model, held_out, score="elbo"),
        "vae reconstruction error": detect.anomaly_scores(model, held_out),
        "PCA reconstruction error (baseline)": detect.pca_scores(train, held_out, model.latent_dim),
        "IsolationForest, raw pixels (baseline)": detect.isolation_forest_scores(train, held_out),
    }
    for name, s in scores.items():
        results[digit, name] = detect.ranking_metrics(s[~is_anomaly], s[is_anomaly])
    print(f"digit {digit}: {len(train)} training images, {is_anomaly.sum()} anomalies of "
          f"{len(held_out)}; vae -ELBO ROC AUC {results[digit, 'vae -ELBO']['roc_auc']:.4f} "
          f"({time.perf_counter() - start:.0f} s)", flush=True)

print(f"\nROC AUC / average precision, VAE latent {model.latent_dim} and PCA-{model.latent_dim}, "
      f"{args.epochs} epochs")
print("| held-out digit | " + " | ".join(DETECTORS) + " |")
print("|---" * (len(DETECTORS) + 1) + "|")


def cell(metrics: list[dict]) -> str:
    return " / ".join(f"{np.mean([m[key] for m in metrics]):.3f}" for key in ("roc_auc", "average_precision"))


for digit in args.digits:
    print(f"| {digit} | " + " | ".join(cell([results[digit, name]]) for name in DETECTORS) + " |")
print("| **mean** | " + " | ".join(
    cell([results[digit, name] for digit in args.digits]) for name in DETECTORS) + " |")
mean = {name: np.mean([results[d, name]["roc_auc"] for d in args.digits]) for name in DETECTORS}
print(f"mean ROC AUC over {len(args.digits)} folds: " +
      ", ".join(f"{name} {value:.4f}" for name, value in mean.items()))
