"""Train a convolutional VAE with a 2-d code, report its held-out NLL and draw new digits.

    python examples/vae_generate.py --data-dir ../shared/data --epochs 20 --output samples.png
"""

import argparse

import numpy as np
from PIL import Image

import keras_ae
from keras_ae import data
from keras_ae.analysis.evaluate import vae_metrics

parser = argparse.ArgumentParser()
parser.add_argument("--data-dir")
parser.add_argument("--epochs", type=int, default=20)
parser.add_argument("--output", default="samples.png")
args = parser.parse_args()

vae = keras_ae.build("conv_vae")
train = data.autoencoder_dataset("mnist", "train", data_dir=args.data_dir, seed=0)
val = data.autoencoder_dataset("mnist", "validation", data_dir=args.data_dir)
vae.fit(train, validation_data=val, epochs=args.epochs, verbose=2)  # loss, reconstruction_loss, kl_loss

held_out, _ = data.load_arrays("mnist", "validation", data_dir=args.data_dir)
scores = vae_metrics(vae, held_out[:500], k=100)
print(f"held-out -ELBO {scores['neg_elbo']:.1f} nats, NLL {scores['nll']:.1f} nats (k=100)")

samples = np.asarray(vae.sample(64, seed=0))[..., 0]  # 64 digits from the prior
grid = samples.reshape(8, 8, 28, 28).transpose(0, 2, 1, 3).reshape(8 * 28, 8 * 28)
Image.fromarray((grid * 255).astype("uint8")).save(args.output)
print(f"wrote {args.output}")
