"""How fast and how faithful the 2-d maps of `keras-ae plot --what latent` are on 10k codes.

    python benchmarks/tsne.py --data-dir ../shared/data --epochs 5

Trains the `seed` autoencoder (32-d code) on the MNIST train split, encodes all 10k digits of
the local MNIST files and maps the codes to 2-d with each method. Prints a markdown table:
wall-clock and CPU seconds (all threads), and the 10-nearest-neighbour accuracy of the digit labels in the 2-d map (5-fold
cross-validated), a measure of how well the map keeps the classes apart; the same accuracy on
the 32-d codes themselves is the reference. Run it on an otherwise idle machine: threads of
openTSNE slow down badly when the cores are shared.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from keras_ae import data
from keras_ae.analysis import projection
from keras_ae.models.presets import preset_config
from keras_ae.training.train import train
from keras_ae.utils.machine import cpu_description
from keras_ae.visualization.plots import latent_codes


def knn_accuracy(points: np.ndarray, labels: np.ndarray) -> float:
    return float(cross_val_score(KNeighborsClassifier(10), points, labels, cv=5).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--skip-sklearn", action="store_true", help="skip scikit-learn's t-SNE")
    parser.add_argument("--skip-umap", action="store_true")
    args = parser.parse_args()
    print(cpu_description(), flush=True)

    config = preset_config("seed", dataset="mnist", data_dir=args.data_dir, epochs=args.epochs)
    model = train(config, verbose=0).model
    images, labels = data.load_arrays("mnist", "all", data_dir=args.data_dir)
    codes = latent_codes(model, images)
    print(f"{len(codes)} codes of {codes.shape[1]} dimensions ('seed', {args.epochs} epochs)\n")

    def openTSNE(iterations, n_jobs):  # noqa: N802 - the library's name
        return lambda: projection.tsne(codes, verbose=0, iterations=iterations, n_jobs=n_jobs)

    def sklearn_tsne():
        from sklearn.manifold import TSNE

        return TSNE(init="pca", random_state=0, max_iter=750).fit_transform(codes)

    cores = os.cpu_count() or 1  # all of this machine's
    rows = [
        (f"openTSNE 250+{projection.TSNE_ITERATIONS} iterations, 1 thread (default)",
         openTSNE(projection.TSNE_ITERATIONS, 1)),
        (f"openTSNE 250+{projection.TSNE_ITERATIONS} iterations, {cores} threads",
         openTSNE(projection.TSNE_ITERATIONS, cores)),
        ("openTSNE 250+500 iterations (its own default), 1 thread", openTSNE(500, 1)),
        ("PCA", lambda: projection.project_2d(codes, "pca")[0]),
    ]
    if not args.skip_umap:
        rows.append(("UMAP (umap-learn, includes JIT compilation)",
                     lambda: projection.project_2d(codes, "umap", verbose=0)[0]))
    if not args.skip_sklearn:
        rows.append(("scikit-learn t-SNE (750 iterations, Barnes-Hut)", sklearn_tsne))

    print("| map | seconds | CPU seconds | 10-NN accuracy in the map |")
    print("|---|---|---|---|")
    print(f"| the {codes.shape[1]}-d codes themselves (reference) | - | - | "
          f"{knn_accuracy(codes, labels):.3f} |", flush=True)
    for name, run in rows:
        start, cpu = time.perf_counter(), time.process_time()
        points = run()
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        print(f"| {name} | {seconds:.1f} | {cpu:.1f} | {knn_accuracy(points, labels):.3f} |",
              flush=True)


if __name__ == "__main__":
    main()
