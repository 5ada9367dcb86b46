"""The autoencoder model: an encoder, a decoder and a reconstruction objective.

Denoising (corrupt the input during training only) and sparsity (a penalty on the latent code)
are options of the same class, so every architecture gets every objective.
"""

from __future__ import annotations

import keras
from keras import ops

from keras_ae.data.noise import parse_noise
from keras_ae.models.losses import reconstruction_error
from keras_ae.models.sparsity import Sparsity


def _split_batch(data):
    """Accept `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`; the target defaults to x."""
    if isinstance(data, (tuple, list)):
        x = data[0]
        y = data[1] if len(data) > 1 and data[1] is not None else x
        return x, y
    return data, data


@keras.saving.register_keras_serializable(package="keras_ae")
class Autoencoder(keras.Model):
    """x -> encoder -> z -> decoder -> x_hat, trained to reconstruct the clean input.

    Args:
        encoder: a model from images to latent codes.
        decoder: a model from latent codes to images of the input's shape.
        loss: per-pixel reconstruction loss, `mse` or `bce`.
        denoise: a corruption (`Noise` or `KIND:AMOUNT`) applied to inputs in training only.
        sparsity: a latent penalty (`Sparsity` or `l1:W` / `kl:RHO[:W]`).
        seed: seed of the corruption noise.
    """

    def __init__(self, encoder, decoder, loss="mse", denoise=None, sparsity=None, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.loss_name = loss
        self._error = reconstruction_error(loss)
        self.denoise = None if denoise is None else parse_noise(denoise)
        self.sparsity = Sparsity.parse(sparsity)
        self.seed = seed
        self.noise_seed = keras.random.SeedGenerator(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.sparsity_tracker = keras.metrics.Mean(name="sparsity_loss")
        self.built = True  # the encoder and decoder arrive built

    # --- the model -----------------------------------------------------------------------------
    @property
    def latent_dim(self) -> int:
        """The size of the latent code."""
        return int(self.decoder.inputs[0].shape[-1])

    def encode(self, x):
        """The latent code of each image."""
        return self.encoder(x)

    def decode(self, z):
        """Images reconstructed from latent codes."""
        return self.decoder(z)

    def call(self, x, training=False):
        return self.decoder(self.encoder(x, training=training), training=training)

    def anomaly_score(self, x):
        """Per-sample reconstruction error (the training loss per pixel): shape (batch,)."""
        return self._error(x, self(x, training=False))

    # --- training ------------------------------------------------------------------------------
    @property
    def metrics(self):
        trackers = [self.loss_tracker, self.reconstruction_tracker]
        return trackers + ([self.sparsity_tracker] if self.sparsity else [])

    def compute_losses(self, x, y, training=False):
        """The objective on one batch: a dict with `loss`, `reconstruction_loss` [, `sparsity_loss`]."""
        if training and self.denoise is not None:
            x = self.denoise.apply(x, seed=self.noise_seed.next())
        z = self.encoder(x, training=training)
        x_hat = self.decoder(z, training=training)
        reconstruction = ops.mean(self._error(y, x_hat))
        losses = {"loss": reconstruction, "reconstruction_loss": reconstruction}
        if self.sparsity is not None:
            losses["sparsity_loss"] = self.sparsity.penalty(z)
            losses["loss"] = reconstruction + losses["sparsity_loss"]
        return losses

    def _track(self, losses):
        self.loss_tracker.update_state(losses["loss"])
        self.reconstruction_tracker.update_state(losses["reconstruction_loss"])
        if "sparsity_loss" in losses:
            self.sparsity_tracker.update_state(losses["sparsity_loss"])
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        import tensorflow as tf

        x, y = _split_batch(data)
        with tf.GradientTape() as tape:
            losses = self.compute_losses(x, y, training=True)
            total = losses["loss"] + (ops.sum(self.losses) if self.losses else 0.0)
        grads = tape.gradient(total, self.trainable_weights)
        self.optimizer.apply(grads, self.trainable_weights)
        return self._track(losses)

    def test_step(self, data):
        x, y = _split_batch(data)
        return self._track(self.compute_losses(x, y, training=False))

    # --- serialisation -------------------------------------------------------------------------
    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "loss": self.loss_name,
            "denoise": None if self.denoise is None else str(self.denoise),
            "sparsity": None if self.sparsity is None else str(self.sparsity),
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
