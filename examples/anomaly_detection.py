"""Out-of-distribution detection: models trained on MNIST digits flag Fashion-MNIST clothes;
then the one-class protocol on one Fashion-MNIST class with the `one_class` preset.

    python examples/anomaly_detection.py --data-dir ../shared/data --epochs 10 [--normal-class 6]

The only MNIST files here are the 10k test set: the library's fixed carve of it (seed 0) gives
9000 training digits and 1000 held-out digits. Every detector is scored on the 1000 held-out
digits (normal) against 1000 Fashion-MNIST test images drawn with seed 0 (anomalies), by ROC AUC
and average precision (anomalies as positives). Detectors, trained on the same 9000 digits:
a dense VAE scored by -ELBO (the recommended one) and by reconstruction error, the conv AE by
reconstruction error, PCA reconstruction error with as many components as each latent size, and
scikit-learn's IsolationForest on raw pixels. Then a threshold is fitted on half of the held-out
digits at a 1 % false-positive rate and applied to the other half and to the clothes.

One class: the `one_class` preset is fitted on the first 5,400 Fashion-MNIST training images of
`--normal-class` (default 6, shirts, the hardest class) and adapted to them (it remembers them
and scores an image by its mean distance to the 5 nearest); its threshold is fitted on the other
600 at a 1 % false-positive rate; it then scores the 10,000 test images (that class normal,
every other anomalous), against the 5 nearest training images on raw pixels, and writes the
reconstruction-error maps of the 8 highest-scored test images to one_class_maps.npy.
"""

import argparse
import time

import keras
import numpy as np

import keras_ae
from keras_ae import data
from keras_ae.analysis import detect

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data-dir", help="folder holding mnist/ and fashion-mnist/ IDX files")
parser.add_argument("--epochs", type=int, default=10)
parser.add_argument("--anomalies", type=int, default=1000, help="Fashion-MNIST images to score")
parser.add_argument("--normal-class", type=int, default=6, help="the normal Fashion-MNIST class")
args = parser.parse_args()

train, _ = data.load_arrays("mnist", "train", data_dir=args.data_dir)
digits, _ = data.load_arrays("mnist", "validation", data_dir=args.data_dir)
clothes, _ = data.load_arrays("fashion_mnist", "test", data_dir=args.data_dir)
clothes = clothes[np.sort(np.random.default_rng(0).choice(len(clothes), args.anomalies, replace=False))]
print(f"{len(train)} training digits; {len(digits)} held-out digits vs {len(clothes)} clothes")


def trained(preset: str) -> keras_ae.Autoencoder:
    keras.utils.set_random_seed(0)
    model = keras_ae.build(preset)
    start = time.perf_counter()
    model.fit(data.autoencoder_dataset("mnist", "train", data_dir=args.data_dir, seed=0),
              epochs=args.epochs, verbose=0)
    print(f"trained {preset} (latent {model.latent_dim}) for {args.epochs} epochs "
          f"in {time.perf_counter() - start:.0f} s")
    return model


vae, conv = trained("vae"), trained("conv")
rows = {}  # detector -> (normal scores, anomaly scores)
for name, model, score in ((f"vae -ELBO ({detect.ELBO_SAMPLES} draws)", vae, "elbo"),
                           ("vae reconstruction error", vae, "reconstruction"),
                           ("conv reconstruction error", conv, "reconstruction")):
    rows[name] = tuple(detect.anomaly_scores(model, x, score=score) for x in (digits, clothes))
for components in sorted({vae.latent_dim, conv.latent_dim}):
    rows[f"PCA-{components} reconstruction error (baseline)"] = tuple(
        detect.pca_scores(train, x, components) for x in (digits, clothes))
rows["IsolationForest, raw pixels (baseline)"] = tuple(
    detect.isolation_forest_scores(train, x) for x in (digits, clothes))

print("\n| detector | ROC AUC | average precision |\n|---|---|---|")
for name, (normal, anomalous) in rows.items():
    metrics = detect.ranking_metrics(normal, anomalous)
    print(f"| {name} | {metrics['roc_auc']:.4f} | {metrics['average_precision']:.4f} |")

# The detector in use: a threshold fitted on normal digits only, at a 1 % false-positive rate.
half = len(digits) // 2
threshold = detect.fit_threshold(vae, digits[:half], fpr=0.01, score="elbo",
                                 fitted_on="held-out MNIST digits")
false_alarms = detect.detect(vae, digits[half:], threshold=threshold).is_anomaly.mean()
caught = detect.detect(vae, clothes, threshold=threshold).is_anomaly.mean()
print(f"\nthreshold: {threshold.describe()}")
print(f"on the other {len(digits) - half} held-out digits: {100 * false_alarms:.1f} % flagged; "
      f"on the clothes: {100 * caught:.1f} % flagged")
recommended = detect.ranking_metrics(*rows[f"vae -ELBO ({detect.ELBO_SAMPLES} draws)"])
print(f"recommended detector (vae -ELBO): ROC AUC {recommended['roc_auc']:.4f}, "
      f"average precision {recommended['average_precision']:.4f}")

# One class normal: shirts (by default) are normal, every other Fashion-MNIST class anomalous.
pool, pool_labels = data.load_arrays("fashion_mnist", "train", data_dir=args.data_dir,
                                     validation_fraction=0)
test, test_labels = data.load_arrays("fashion_mnist", "test", data_dir=args.data_dir)
normal = pool[pool_labels == args.normal_class]
fit_images, held_out = normal[:5400], normal[5400:]
keras.utils.set_random_seed(0)
one_class = keras_ae.build("one_class")
start = time.perf_counter()
one_class.fit(fit_images, epochs=args.epochs, batch_size=64, verbose=0)
one_class.adapt(fit_images)  # the memory of normal images its score compares with
threshold = detect.fit_threshold(one_class, held_out, fpr=0.01,
                                 fitted_on=f"Fashion-MNIST class {args.normal_class} (held out)")
found = detect.detect(one_class, test, threshold=threshold)
print(f"\none class {args.normal_class} normal: one_class trained {args.epochs} epochs and "
      f"adapted in {time.perf_counter() - start:.0f} s; threshold: {threshold.describe()}")
is_anomaly = test_labels != args.normal_class
ours = detect.ranking_metrics(found.scores[~is_anomaly], found.scores[is_anomaly])
pixels = detect.knn_scores(fit_images, test)
baseline = detect.ranking_metrics(pixels[~is_anomaly], pixels[is_anomaly])
print(f"one_class ROC AUC {ours['roc_auc']:.4f}; 5-NN on raw pixels (baseline) ROC AUC "
      f"{baseline['roc_auc']:.4f}")
flagged = found.is_anomaly
print(f"flagged {100 * flagged[~is_anomaly].mean():.1f} % of the normal test images and "
      f"{100 * flagged[is_anomaly].mean():.1f} % of the anomalies")
worst = np.argsort(-found.scores)[:8]
np.save("one_class_maps.npy", detect.error_maps(one_class, test[worst]))
print(f"error maps of the 8 highest scores (labels {test_labels[worst].tolist()}) in one_class_maps.npy")
