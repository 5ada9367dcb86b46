"""Held-out quality of every variant on real digits, with PCA and the keras.io VAE as baselines.

    python benchmarks/quality.py --data-dir ../shared/data --epochs 30

Trains each model on the same train split (MNIST from a local folder holding only the 10k test
digits gives 9k train / 1k validation; the validation split is the held-out set), with fixed
seeds, and prints a markdown table: held-out per-pixel MSE and BCE, the MSE of reconstructing
the clean digits from copies with Gaussian noise (sigma 0.5), for VAEs -ELBO and the
importance-sampled NLL in nats, for the VQ-VAE the bits of its code per image (H'·W'·log2 K, and
the empirical entropy of the held-out codes), latent size, epochs and training seconds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from keras_ae import data
from keras_ae.analysis.evaluate import evaluate_model, pca_baseline, reconstruct
from keras_ae.models.presets import preset_config
from keras_ae.training.train import train
from keras_ae.utils.machine import cpu_description

# (row label, preset, overrides); every autoencoder at latent 32 but dec (10, its paper's),
# the two VAEs at latent 2
ROWS = [
    ("seed (dense 128-64)", "seed", {}),
    ("dense 256-128", "dense", {}),
    ("denoising (gaussian 0.5)", "denoising", {"latent_dim": 32}),
    ("sparse (l1 1e-4)", "sparse", {"latent_dim": 32}),
    ("overcomplete 1024 (l1 1e-5)", "overcomplete", {}),
    ("dec (dense 500-500-2000)", "dec", {}),
    ("linear (uncentred PCA subspace)", "linear", {}),
    ("conv 32-64 (batch 64, mixed precision auto)", "conv", {}),
    ("conv 32-64 as plain Keras trains it (conv_plain)", "conv_plain", {}),
    ("vae dense 512-256", "vae", {"latent_dim": 32}),
    ("conv_vae", "conv_vae", {"latent_dim": 2}),
    ("keras.io example VAE (baseline)", "keras_io_vae", {"latent_dim": 2}),
    ("contractive (dense 256-128, λ 1e-4)", "contractive", {}),
    ("vq_vae (conv 32-64, 128 codes)", "vq_vae", {}),
    ("vq_vae without dead-code replacement", "vq_vae", {"dead_code_steps": 0}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--nll-samples", type=int, default=200)
    parser.add_argument("--only", nargs="*", help="presets to run (default: all rows)")
    args = parser.parse_args()
    print(cpu_description(), flush=True)

    load = dict(data_dir=args.data_dir, with_labels=False)
    train_x, _ = data.load_arrays(args.dataset, "train", **load)
    held_out, _ = data.load_arrays(args.dataset, "validation", **load)
    print(f"{args.dataset}: {len(train_x)} train / {len(held_out)} held-out images, "
          f"{args.epochs} epochs each\n")
    clean = data.as_float_images(held_out)
    noisy = data.Noise("gaussian", 0.5).apply(clean, seed=0).numpy()
    print("| model | latent | epochs | MSE | BCE | MSE, noisy input | -ELBO (nats) | NLL (nats) "
          "| code bits per image | seconds |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    pca = pca_baseline(train_x, held_out, 32)
    print(f"| PCA-32 (baseline) | 32 | - | {pca['mse']:.5f} | {pca['bce']:.4f} | - | - | - | - "
          "| - |", flush=True)
    for label, preset, overrides in ROWS:
        if args.only and preset not in args.only:
            continue
        config = preset_config(preset, dataset=args.dataset, data_dir=args.data_dir,
                               epochs=args.epochs, seed=0, **overrides)
        start = time.perf_counter()
        model = train(config, verbose=0).model
        seconds = time.perf_counter() - start
        r = evaluate_model(model, held_out, nll_samples=args.nll_samples)
        noisy_mse = float(np.mean((reconstruct(model, noisy) - clean) ** 2))
        elbo = f"{r['neg_elbo']:.2f}" if "neg_elbo" in r else "-"
        nll = f"{r['nll']:.2f}" if "nll" in r else "-"
        bits = (f"{r['code_bits']:.0f} ({r['code_entropy_bits']:.0f} empirical)"
                if "code_bits" in r else "-")
        latent = "×".join(map(str, model.latent_shape))
        print(f"| {label} | {latent} | {args.epochs} | {r['mse']:.5f} | {r['bce']:.4f} "
              f"| {noisy_mse:.5f} | {elbo} | {nll} | {bits} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
