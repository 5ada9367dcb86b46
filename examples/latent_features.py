"""The latent space as features: cluster held-out digits by their codes with k-means (also on a
UMAP embedding of the codes, and after deep embedded clustering), and classify them from 100
labels per class, against raw pixels, PCA and the same classifier from scratch.

    python examples/latent_features.py --data-dir ../shared/data

The autoencoder is the `dec` preset, the DEC paper's (dense 500-500-2000, a 10-d code), trained
without labels on randomly shifted and rotated digits (`--no-augment`: the digits as they are).
The local MNIST folder holds only the 10k test set, so `load_arrays(..., "train")` and
`"validation"` carve it deterministically into 9,000 training and 1,000 held-out digits; every
number printed is on the held-out ones. Without --data-dir, MNIST comes from tensorflow-datasets.

Deep embedded clustering (`keras_ae.analysis.deep_clustering`, IDEC) then trains a copy of the
encoder with ten cluster centres placed at the UMAP clusters, on the same shifted and rotated
digits, for `--dec-updates` target updates (0 skips it).
"""

import argparse
import time

import keras
import tensorflow as tf

import keras_ae
from keras_ae import data
from keras_ae.analysis import deep_clustering, features
from keras_ae.analysis.evaluate import evaluate_model
from keras_ae.visualization.report import format_tables

parser = argparse.ArgumentParser()
parser.add_argument("--data-dir")
parser.add_argument("--epochs", type=int, default=80)
parser.add_argument("--labels-per-class", type=int, default=100)
parser.add_argument("--fine-tune-epochs", type=int, default=30)
parser.add_argument("--no-augment", action="store_true", help="train on the digits unchanged")
parser.add_argument("--dec-updates", type=int, default=20,
                    help="target updates of deep embedded clustering (0 skips it)")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--train-digits", type=int, default=None,
                    help="train on the first N digits of the training pool (a quick run)")
args = parser.parse_args()

train_x, train_y = data.load_arrays("mnist", "train", data_dir=args.data_dir)
train_x, train_y = train_x[:args.train_digits], train_y[:args.train_digits]
held_out, held_out_y = data.load_arrays("mnist", "validation", data_dir=args.data_dir)
print(f"{len(train_x)} training digits (labels unused by the autoencoder), "
      f"{len(held_out)} held-out digits")

model = keras_ae.build("dec", seed=args.seed)
augment = keras.Sequential([
    keras.layers.RandomRotation(10 / 360, fill_mode="constant", seed=args.seed),  # +-10 degrees
    keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=args.seed + 1),  # +-3 px
])


def augmented(x_in, x):
    """The same random shift and rotation for the input and the target."""
    moved = tf.clip_by_value(augment(x, training=True), 0.0, 1.0)
    return moved, moved


train = data.make_pipeline(train_x, batch_size=128, shuffle=True, seed=args.seed)
if not args.no_augment:
    train = train.map(augmented)  # sequential: the layers' random state is then used in order
start = time.time()
model.fit(train, epochs=args.epochs, verbose=2)
print(f"trained {args.epochs} epochs in {time.time() - start:.0f} s "
      f"({'unchanged digits' if args.no_augment else 'shifted and rotated digits'})\n")

results = evaluate_model(model, held_out, train_images=train_x, labels=held_out_y,
                         train_labels=train_y, labels_per_class=args.labels_per_class,
                         fine_tune_epochs=args.fine_tune_epochs, seed=args.seed, manifold="umap",
                         verbose=1)
print()
print(format_tables(results))

if args.dec_updates > 0:
    start = time.time()
    dec = deep_clustering.fit(model, train_x, 10, manifold="umap", max_updates=args.dec_updates,
                              augment=None if args.no_augment else augment, seed=args.seed,
                              verbose=1)
    tuned_codes = dec.model.get_layer("encoder").predict(held_out, verbose=0)
    rows = (("the clustering model's assignments",
             features.score_clusters(held_out_y, dec.assign(held_out), dims=10, k=10)),
            ("k-means on the trained encoder's codes",
             features.cluster(tuned_codes, held_out_y, seed=args.seed)))
    print(f"\nDeep embedded clustering: {dec.updates} target updates in "
          f"{time.time() - start:.0f} s; {len(held_out)} held-out digits")
    print(f"  {'clusters from':40s}  accuracy    NMI")
    for name, scores in rows:
        print(f"  {name:40s}  {scores.accuracy:8.3f}  {scores.nmi:.3f}")
