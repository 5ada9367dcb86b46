"""Anomaly detection: an autoencoder trained on digits scores clothing as anomalous.

    python examples/anomaly_detection.py --data-dir ../shared/data --epochs 10

Trains the conv AE on MNIST digits, then scores held-out digits (normal) and Fashion-MNIST
images (anomalies) with `anomaly_score`, and reports the ROC AUC of that score.
"""

import argparse

import numpy as np
from sklearn.metrics import roc_auc_score

import keras_ae
from keras_ae import data

parser = argparse.ArgumentParser()
parser.add_argument("--data-dir")
parser.add_argument("--epochs", type=int, default=10)
args = parser.parse_args()

model = keras_ae.build("conv")
model.fit(data.autoencoder_dataset("mnist", "train", data_dir=args.data_dir, seed=0),
          epochs=args.epochs, verbose=2)

digits, _ = data.load_arrays("mnist", "validation", data_dir=args.data_dir)
clothes, _ = data.load_arrays("fashion_mnist", "test", data_dir=args.data_dir)
clothes = clothes[: len(digits)]
scores = np.concatenate([model.anomaly_score(data.as_float_images(x)).numpy()
                         for x in (digits, clothes)])
is_anomaly = np.r_[np.zeros(len(digits)), np.ones(len(clothes))]
print(f"median score: digits {np.median(scores[:len(digits)]):.4f}, "
      f"clothes {np.median(scores[len(digits):]):.4f}")
print(f"ROC AUC of the anomaly score: {roc_auc_score(is_anomaly, scores):.3f}")
