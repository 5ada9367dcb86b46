"""The plain Keras a user would write for each preset's network, and its training measured the
way benchmarks/train_speed.py measures keras_ae's; on whichever backend Keras runs.

train_speed.py imports it for its TensorFlow rows and runs it as a worker for the JAX ones:

    KERAS_BACKEND=jax python benchmarks/plain_keras.py --arrays ARRAYS.npz --model seed \
        [--epochs 10] [--rounds 2]

trains the preset's plain network on the float images of ARRAYS.npz (`train`, `held_out`: what
train_speed.py hands it, so both backends see the same pixels) once for 2 epochs, uncounted, then
`--rounds` times for `--epochs`, and prints one JSON line per counted run: samples per second
after the first epoch, held-out MSE, peak RSS and wall time. It imports Keras and NumPy only
(not keras_ae, nor TensorFlow unless the backend is TensorFlow).
"""

from __future__ import annotations

import argparse
import json
import threading
import time

import keras
import numpy as np
from keras import layers, ops

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
    Bernoulli likelihood summed over pixels plus the KL term), around conv_vae's layers. Its
    `train_step` is the example's, written for TensorFlow (`tf.GradientTape`)."""

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
TENSORFLOW_ONLY = {"conv_vae"}  # the keras.io example's train_step uses tf.GradientTape


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


def held_out_mse(model, floats: np.ndarray) -> float:
    return float(np.mean((np.asarray(model.predict(floats, batch_size=256, verbose=0)) - floats) ** 2))


def run_plain(name: str, floats: np.ndarray, held_out: np.ndarray, epochs: int) -> tuple:
    """Train the plain network of preset `name` on `floats` (float32 images in [0, 1]) as a
    user would; (samples/s after the first epoch, held-out MSE, peak RSS, wall seconds)."""
    keras.utils.set_random_seed(0)
    model = PLAIN[name]()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=None if name == "conv_vae" else "mse")
    clock = EpochClock()
    with PeakRSS() as rss:
        start = time.perf_counter()
        model.fit(floats, floats, batch_size=BATCH, epochs=epochs, verbose=0, callbacks=[clock])
        end = time.perf_counter()
    speed = (epochs - 1) * len(floats) / (end - clock.started)
    return speed, held_out_mse(model, held_out), rss.peak, end - start


def main() -> None:
    parser = argparse.ArgumentParser(description="train one preset's plain Keras network (a "
                                                 "worker of train_speed.py)")
    parser.add_argument("--arrays", required=True, help=".npz with float32 `train`, `held_out`")
    parser.add_argument("--model", required=True, choices=sorted(PLAIN))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.model in TENSORFLOW_ONLY and keras.backend.backend() != "tensorflow":
        raise SystemExit(f"{args.model}: the plain model's train_step is TensorFlow's")
    with np.load(args.arrays) as arrays:
        floats, held_out = arrays["train"], arrays["held_out"]
    run_plain(args.model, floats, held_out, 2)  # warm-up, not counted (as train_speed.py does)
    for _ in range(args.rounds):
        speed, mse, peak, wall = run_plain(args.model, floats, held_out, args.epochs)
        print(json.dumps({"backend": keras.backend.backend(), "speed": speed, "mse": mse,
                          "rss": peak, "wall": wall}), flush=True)


if __name__ == "__main__":
    main()
