"""Training speed of keras_ae against the plain Keras a user would write, on real digits.

    python benchmarks/train_speed.py --data-dir ../shared/data [--epochs 10] [--rounds 2] [--knobs]

For each preset (seed, conv, conv_vae) it trains, in this one process and alternating:
- plain Keras: the same network as a functional model, `compile(Adam(1e-3), "mse")` and
  `fit(x, x, batch_size=128)` on NumPy arrays (for the VAE, the keras.io example's model
  class with its own `train_step`);
- keras_ae: `keras_ae.training.train.train(config, run_dir)`, what `keras-ae train` does, run folder
  included.
Each path first trains 2 epochs once, uncounted (its first run in the process pays one-off costs
at its end too). Samples per second leave out the first epoch (tracing, XLA compilation); the
run folder's final writes count. Each path's peak RSS is sampled while it runs. Then the held-out MSE of both after
the same epochs, the wall time of the whole run (first epoch included: the time-to-quality pair
for `conv` against `conv_plain`, the same network trained the way plain Keras does), the ratio
of speeds, and the ceiling: numpy's float32 matrix products of the seed net's shapes alone
(forward and backward), as samples per second.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from unittest import mock

import keras
import numpy as np
from keras import layers, ops

from keras_ae import data
from keras_ae.models.presets import preset_config
from keras_ae.training import train as keras_ae_train
from keras_ae.training.train import train

BATCH = 128


# --- plain Keras, as a user writes it ------------------------------------------------------------
def plain_seed() -> keras.Model:
    inputs = keras.Input((28, 28, 1))
    h = layers.Flatten()(inputs)
    for units in (128, 64):
        h = layers.Dense(units, activation="relu")(h)
    h = layers.Dense(32)(h)
    for units in (64, 128):
        h = layers.Dense(units, activation="relu")(h)
    outputs = layers.Reshape((28, 28, 1))(layers.Dense(784, activation="sigmoid")(h))
    return keras.Model(inputs, outputs)


def _conv_encoder(inputs, dense=()):
    h = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(inputs)
    h = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Flatten()(h)
    for units in dense:
        h = layers.Dense(units, activation="relu")(h)
    return h


def _conv_decoder(latent_dim):
    z = keras.Input((latent_dim,))
    h = layers.Reshape((7, 7, 64))(layers.Dense(7 * 7 * 64, activation="relu")(z))
    h = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(h)
    return keras.Model(z, layers.Conv2D(1, 3, padding="same", activation="sigmoid")(h))


def plain_conv() -> keras.Model:
    inputs = keras.Input((28, 28, 1))
    return keras.Model(inputs, _conv_decoder(32)(layers.Dense(32)(_conv_encoder(inputs))))


class PlainVAE(keras.Model):
    """The keras.io example VAE's model class (encoder with two heads, a sampling step, the
    Bernoulli likelihood summed over pixels plus the KL term), around conv_vae's layers."""

    def __init__(self, latent_dim=2, **kwargs):
        super().__init__(**kwargs)
        inputs = keras.Input((28, 28, 1))
        h = _conv_encoder(inputs, dense=(256,))
        self.encoder = keras.Model(inputs, [layers.Dense(latent_dim)(h), layers.Dense(latent_dim)(h)])
        self.decoder = _conv_decoder(latent_dim)
        self.seed_generator = keras.random.SeedGenerator(0)
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker]

    def call(self, x):
        return self.decoder(self.encoder(x)[0])

    def train_step(self, data):
        import tensorflow as tf

        x = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            z_mean, z_log_var = self.encoder(x)
            eps = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
            reconstruction = self.decoder(z_mean + ops.exp(0.5 * z_log_var) * eps)
            bce = keras.losses.binary_crossentropy(x, reconstruction, axis=(1, 2, 3))
            kl = -0.5 * ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=1)
            loss = ops.mean(bce * 784 + kl)
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total_loss_tracker.update_state(loss)
        return {"loss": self.total_loss_tracker.result()}


PLAIN = {"seed": plain_seed, "conv": plain_conv, "conv_plain": plain_conv, "conv_vae": PlainVAE}


# --- measuring ---------------------------------------------------------------------------------
class PeakRSS:
    """The largest resident set size of this process while the block runs, sampled every 20 ms."""

    def __enter__(self):
        self.peak, self._running = _rss(), True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while self._running:
            self.peak = max(self.peak, _rss())
            time.sleep(0.02)

    def __exit__(self, *exc):
        self._running = False
        self._thread.join()


def _rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class EpochClock(keras.callbacks.Callback):
    """When the second epoch began (the first is warm-up: tracing and compilation)."""

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            self.started = time.perf_counter()


def held_out_mse(model, images) -> float:
    x = data.as_float_images(images)
    return float(np.mean((np.asarray(model.predict(x, batch_size=256, verbose=0)) - x) ** 2))


def run_plain(name, x, held_out, epochs):
    keras.utils.set_random_seed(0)
    model = PLAIN[name]()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=None if name == "conv_vae" else "mse")
    clock = EpochClock()
    floats = data.as_float_images(x)
    with PeakRSS() as rss:
        start = time.perf_counter()
        model.fit(floats, floats, batch_size=BATCH, epochs=epochs, verbose=0, callbacks=[clock])
        end = time.perf_counter()
    speed = (epochs - 1) * len(x) / (end - clock.started)
    return speed, held_out_mse(model, held_out), rss.peak, end - start


UNGROUPED = "ungrouped"  # train() options of this benchmark alone: see `knob_patches`
CONVERTED = "converted"
STEPS_ALONE = "steps alone"


def knob_patches() -> dict:
    """For each train() option of this benchmark alone, the part of keras_ae's path it swaps
    (module, attribute) for the one the default is measured against:
    - UNGROUPED: batches one by one (Keras's own multi-step loop fetches each from the
      iterator) instead of in groups;
    - CONVERTED: pipelines that convert each batch to float32 and pair it with itself,
      ``(x, x)``, before the model gets it (as they did), instead of batches as read;
    - STEPS_ALONE: a training group's loop run in a TensorFlow graph, each step compiled with
      XLA alone (as it was), instead of the whole loop compiled with its steps."""
    from keras_ae.data import pipeline
    from keras_ae.models import autoencoder

    training_data = keras_ae_train.data.training_data
    grouped_function = autoencoder.grouped_function
    return {
        UNGROUPED: (keras_ae_train.data, "training_data", lambda *args, **kwargs: training_data(
            *args, **{**kwargs, "batch_group": 1})),
        CONVERTED: (pipeline, "_as_read", pipeline._clean_pairs),
        STEPS_ALONE: (autoencoder, "grouped_function",
                      lambda model, step, whole_loop=False: grouped_function(model, step)),
    }


def run_keras_ae(name, args, x, held_out, folder: Path | None, overrides=None, **train_options):
    config = preset_config(name, dataset=args.dataset, data_dir=args.data_dir,
                           **{"epochs": args.epochs, "seed": 0, **(overrides or {})})
    clock = EpochClock()
    run_dir = None if folder is None else folder / name
    if run_dir is not None:
        shutil.rmtree(run_dir, ignore_errors=True)
    with contextlib.ExitStack() as patches:
        for option, (module, attribute, replacement) in knob_patches().items():
            if train_options.pop(option, False):
                patches.enter_context(mock.patch.object(module, attribute, replacement))
        rss = patches.enter_context(PeakRSS())
        start = time.perf_counter()
        result = train(config, run_dir, verbose=0, callbacks=[clock], **train_options)
        end = time.perf_counter()
    speed = (args.epochs - 1) * len(x) / (end - clock.started)
    return speed, held_out_mse(result.model, held_out), rss.peak, end - start


# Each knob: (preset, what is changed, config overrides, train() options, with a run folder).
# Op determinism stays on for the rest of the process once switched on, so it comes last.
KNOBS = [
    ("seed", "default: XLA, 32 steps per call in groups, backups every 60 s", {}, {}, True),
    ("seed", "32 steps per call, batches fetched one by one (Keras's own loop)", {},
     {UNGROUPED: True}, True),
    ("seed", "batches converted to float (x, x) pairs in the pipeline", {}, {CONVERTED: True},
     True),
    ("seed", "each step compiled alone, a group's loop in a graph", {}, {STEPS_ALONE: True},
     True),
    ("seed", "no XLA (jit_compile=False)", {"jit_compile": False}, {}, True),
    ("seed", "1 step per call (steps_per_execution=1)", {"steps_per_execution": 1}, {}, True),
    ("seed", "neither XLA nor 32 steps per call", {"jit_compile": False, "steps_per_execution": 1},
     {}, True),
    ("seed", "backup and best checkpoint every epoch (--backup-every 0)", {}, {"backup_every": 0},
     True),
    ("seed", "no run folder", {}, {}, False),
    ("conv", "default: mixed bfloat16 (auto), batch 64, 32 steps per call in groups", {}, {},
     True),
    ("conv", "1 step per call (steps_per_execution=1)", {"steps_per_execution": 1}, {}, True),
    ("conv", "float32 (--mixed-precision off)", {"mixed_precision": False}, {}, True),
    ("conv", "batch 128", {"batch_size": 128}, {}, True),
    ("conv", "float32, batch 128 (= conv_plain)", {"mixed_precision": False, "batch_size": 128},
     {}, True),
    ("conv", "XLA (jit_compile=True)", {"jit_compile": True}, {}, True),
    ("seed", "op determinism (--deterministic)", {}, {"deterministic": True}, True),
]


def measure_knobs(args, x, held_out) -> None:
    """Each knob's effect on keras_ae's path, against its preset's default, in one process."""
    print("| preset | knob | samples/s | × the preset's default | held-out MSE |")
    print("|---|---|---|---|---|")
    default = {}
    with tempfile.TemporaryDirectory() as folder:
        knobs = [knob for knob in KNOBS if knob[0] in args.models]  # of the presets asked for
        for name in dict.fromkeys(knob[0] for knob in knobs):  # warm-up, not counted
            run_keras_ae(name, args, x, held_out, Path(folder), {"epochs": 2})
        for name, label, overrides, options, with_folder in knobs:
            runs = [run_keras_ae(name, args, x, held_out, Path(folder) if with_folder else None,
                                 overrides, **options) for _ in range(args.rounds)]
            speed = statistics.median(r[0] for r in runs)
            default.setdefault(name, speed)
            print(f"| {name} | {label} | {speed:,.0f} | {speed / default[name]:.2f} "
                  f"| {runs[-1][1]:.5f} |", flush=True)


def matmul_ceiling(repeats: int = 200) -> float:
    """Samples per second of the seed net's float32 matrix products alone (numpy): for each
    layer, the forward product and the two backward ones, on a batch of 128."""
    rng = np.random.default_rng(0)
    sizes = [784, 128, 64, 32, 64, 128, 784]
    weights = [rng.standard_normal((a, b), dtype=np.float32) for a, b in zip(sizes, sizes[1:])]
    activations = [rng.standard_normal((BATCH, a), dtype=np.float32) for a in sizes]
    grads = [rng.standard_normal((BATCH, b), dtype=np.float32) for b in sizes[1:]]

    def step():
        for a, w, g in zip(activations, weights, grads):
            a @ w
            g @ w.T
            a.T @ g

    step()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return repeats * BATCH / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per preset")
    parser.add_argument("--models", nargs="+", default=["seed", "conv", "conv_plain", "conv_vae"])
    parser.add_argument("--knobs", action="store_true",
                        help="measure each knob of keras_ae's path instead (see KNOBS)")
    args = parser.parse_args()

    x, _ = data.load_arrays(args.dataset, "train", data_dir=args.data_dir)
    held_out, _ = data.load_arrays(args.dataset, "validation", data_dir=args.data_dir)
    print(f"{args.dataset}: {len(x)} train / {len(held_out)} held-out images, {args.epochs} "
          f"epochs, batch {BATCH} for plain Keras, {args.rounds} alternating rounds\n")
    if args.knobs:
        measure_knobs(args, x, held_out)
        return
    print("| preset | path | samples/s | × plain Keras | held-out MSE | wall time | peak RSS |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models:
            plain, ours = [], []
            # warm-up, not counted: each path's first run in the process also pays one-off
            # costs at its end (imports, Keras's first saves)
            run_plain(name, x, held_out, 2)
            run_keras_ae(name, args, x, held_out, Path(folder), {"epochs": 2})
            for round_ in range(args.rounds):
                order = ("plain", "ours") if round_ % 2 == 0 else ("ours", "plain")
                for path in order:
                    if path == "plain":
                        plain.append(run_plain(name, x, held_out, args.epochs))
                    else:
                        ours.append(run_keras_ae(name, args, x, held_out, Path(folder)))
            speed = {"plain": statistics.median(r[0] for r in plain),
                     "ours": statistics.median(r[0] for r in ours)}
            for label, results, key in (("plain Keras fit(numpy)", plain, "plain"),
                                        ("keras_ae train (run folder)", ours, "ours")):
                print(f"| {name} | {label} | {speed[key]:,.0f} | {speed[key] / speed['plain']:.2f} "
                      f"| {results[-1][1]:.5f} | {statistics.median(r[3] for r in results):.1f} s "
                      f"| {max(r[2] for r in results) / 2**20:,.0f} MB |",
                      flush=True)
    print(f"\nceiling: numpy float32 matrix products of the seed net's shapes alone, "
          f"{matmul_ceiling():,.0f} samples/s")


if __name__ == "__main__":
    main()
