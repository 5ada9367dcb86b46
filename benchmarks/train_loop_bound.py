"""How fast the seed net can train on this machine, whatever the training loop: the bound a
faster keras_ae path would have to approach.

    python benchmarks/train_loop_bound.py --data-dir ../shared/data [--epochs 5] [--rounds 2]

Each round trains the seed net on the 9k real MNIST digits in one process, each path after one
warm-up epoch, and prints samples per second and the ratio to plain Keras `fit(numpy)` of the
same round:
- plain Keras `fit(x, x, batch_size=128)` on NumPy arrays (the baseline of train_speed.py);
- plain Keras on a cached, shuffled tf.data pipeline with `jit_compile=True` and keras_ae's
  steps per call (`compile_options` of the seed preset);
- one `tf.function` call per epoch: a `tf.while_loop` over the epoch's batches, each gathered
  from an in-graph copy of the images by a permutation, with Adam; without and with XLA;
- keras_ae's `train()` without a run folder, split into the training part of each epoch and
  the whole epoch with its validation (a callback's clock around `evaluate`).
"""

from __future__ import annotations

import argparse
import time

import keras
import numpy as np
import tensorflow as tf

from keras_ae import data
from keras_ae.models.presets import compile_options, preset_config
from keras_ae.training.train import train
from keras_ae.utils.machine import cpu_description
from train_speed import BATCH, plain_seed

STEPS_PER_CALL = compile_options(preset_config("seed"))["steps_per_execution"]  # keras_ae's


def plain_numpy(x: np.ndarray, epochs: int) -> float:
    keras.utils.set_random_seed(0)
    model = plain_seed()
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    model.fit(x, x, batch_size=BATCH, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(x, x, batch_size=BATCH, epochs=epochs, verbose=0)
    return epochs * len(x) / (time.perf_counter() - start)


def plain_tf_data(x: np.ndarray, epochs: int) -> float:
    keras.utils.set_random_seed(0)
    model = plain_seed()
    model.compile(keras.optimizers.Adam(1e-3), "mse", jit_compile=True,
                  steps_per_execution=STEPS_PER_CALL)
    batches = (tf.data.Dataset.from_tensor_slices((x, x)).cache().shuffle(len(x))
               .batch(BATCH).prefetch(tf.data.AUTOTUNE))
    model.fit(batches, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(batches, epochs=epochs, verbose=0)
    return epochs * len(x) / (time.perf_counter() - start)


def in_graph_epochs(x: np.ndarray, epochs: int, xla: bool) -> float:
    keras.utils.set_random_seed(0)
    model = plain_seed()
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(model.trainable_variables)
    images, steps = tf.constant(x), len(x) // BATCH

    @tf.function(jit_compile=xla)
    def epoch(order):
        def step(i, total):
            batch = tf.gather(images, order[i * BATCH:(i + 1) * BATCH])
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(batch, training=True) - batch))
            optimizer.apply(tape.gradient(loss, model.trainable_variables),
                            model.trainable_variables)
            return i + 1, total + loss

        return tf.while_loop(lambda i, total: i < steps, step, (0, 0.0))[1] / steps

    rng = np.random.default_rng(0)
    epoch(tf.constant(rng.permutation(len(x)).astype("int32")))
    start = time.perf_counter()
    for _ in range(epochs):
        loss = epoch(tf.constant(rng.permutation(len(x)).astype("int32")))
    float(loss)  # wait for the last epoch
    return epochs * steps * BATCH / (time.perf_counter() - start)


class EpochParts(keras.callbacks.Callback):
    """Each epoch's seconds before validation begins, and in all (the first epoch left out)."""

    def __init__(self):
        super().__init__()
        self.training, self.whole = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.began = time.perf_counter()

    def on_test_begin(self, logs=None):
        self.validating = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if epoch > 0:
            self.training.append(self.validating - self.began)
            self.whole.append(time.perf_counter() - self.began)


def keras_ae_parts(args, size: int) -> tuple[float, float]:
    parts = EpochParts()
    config = preset_config("seed", dataset=args.dataset, data_dir=args.data_dir,
                           epochs=args.epochs + 1, seed=0)
    train(config, None, verbose=0, callbacks=[parts])
    return size * len(parts.training) / sum(parts.training), size * len(parts.whole) / sum(parts.whole)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(cpu_description(), flush=True)
    x = data.as_float_images(data.load_arrays(args.dataset, "train", data_dir=args.data_dir)[0])
    print(f"seed net, {len(x)} images, batch {BATCH}, {args.epochs} epochs after a warm-up one\n")
    print("| round | path | samples/s | × plain Keras fit(numpy) |")
    print("|---|---|---|---|")
    for round_ in range(1, args.rounds + 1):
        base = plain_numpy(x, args.epochs)
        ours = keras_ae_parts(args, len(x))
        rows = [
            ("plain Keras fit(numpy)", base),
            (f"plain Keras, tf.data + XLA + {STEPS_PER_CALL} steps per call",
             plain_tf_data(x, args.epochs)),
            ("one tf.function per epoch, in-graph batches, no XLA",
             in_graph_epochs(x, args.epochs, xla=False)),
            ("one tf.function per epoch, in-graph batches, XLA",
             in_graph_epochs(x, args.epochs, xla=True)),
            ("keras_ae train(), training part of each epoch", ours[0]),
            ("keras_ae train(), whole epoch with validation", ours[1]),
        ]
        for label, speed in rows:
            print(f"| {round_} | {label} | {speed:,.0f} | {speed / base:.2f} |", flush=True)


if __name__ == "__main__":
    main()
