"""Train a conv autoencoder and a 2-d conv VAE on MNIST and draw what they learned.

    python examples/pictures.py --data-dir ../shared/data --epochs 10 --output docs

Writes reconstructions.png (held-out digits over the conv AE's reconstructions),
latent_tsne.png (t-SNE of the conv AE's held-out codes, by digit) and manifold.png (the
digits the VAE decodes over its latent plane) into --output. These are the pictures in the
README. Without --data-dir, MNIST comes from tensorflow-datasets.
"""

import argparse
import time
from pathlib import Path

from keras_ae import data
from keras_ae.models.presets import preset_config
from keras_ae.training.train import train
from keras_ae.visualization import plots

parser = argparse.ArgumentParser()
parser.add_argument("--data-dir")
parser.add_argument("--epochs", type=int, default=10)
parser.add_argument("--output", default="docs", help="folder for the PNGs")
args = parser.parse_args()
out = Path(args.output)

settings = dict(dataset="mnist", data_dir=args.data_dir, epochs=args.epochs, seed=0)
conv = train(preset_config("conv", **settings), verbose=2).model
vae = train(preset_config("conv_vae", latent_dim=2, **settings), verbose=2).model

held_out, labels = data.load_arrays("mnist", "validation", data_dir=args.data_dir)
print(f"{len(held_out)} held-out digits")
plots.save_figure(plots.reconstructions(conv, held_out[:10]), out / "reconstructions.png",
                  overwrite=True)
start = time.perf_counter()
figure = plots.latent(conv, held_out, labels, method="tsne")
print(f"t-SNE of {len(held_out)} codes: {time.perf_counter() - start:.1f} s")
plots.save_figure(figure, out / "latent_tsne.png", overwrite=True)
plots.save_figure(plots.manifold(vae, n=15), out / "manifold.png", overwrite=True)
print(f"wrote reconstructions.png, latent_tsne.png and manifold.png to {out}")
