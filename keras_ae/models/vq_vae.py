"""The VQ-VAE (van den Oord et al., 2017): a conv encoder's feature map, quantised to a codebook.

Each D-dimensional vector of the encoder's (H', W', D) output is replaced by its nearest codebook
vector; the decoder sees the quantised map, and the gradient passes the quantisation unchanged
(straight-through: z_e + stop_gradient(e - z_e)). The loss is

    reconstruction_loss + vq_loss,   vq_loss = ‖sg[z_e] - e‖² + β ‖z_e - sg[e]‖²

(squared differences averaged over the map's positions and dimensions): the first term moves
the codes toward the encoder's outputs, the second (the commitment loss, β = `commitment`)
keeps the encoder near its codes.

**Dead codes.** A code no input chose for `dead_code_steps` training steps in a row is replaced
by one of the step's encoder outputs: the ones farthest from their nearest code, worst first.
The choice involves no randomness (the same seed gives the same run) and, under a distribution
strategy, is made from the whole global batch on every replica (counts are summed, the encoder
outputs gathered), so replicas keep one codebook and match a single-device run.

The codes of an image are integers: `encode` gives (batch, H', W') int32 indices, `decode`
takes them. Training reports `codebook_usage` (the share of codes chosen at least once in the
epoch) and `perplexity` (exp of the entropy of the epoch's code frequencies: how many codes are
in effective use).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
from keras import ops

from keras_ae.data.batches import in_batches
from keras_ae.models.autoencoder import LOSS
from keras_ae.models.base import BaseAutoencoder
from keras_ae.models.losses import weighted_mean
from keras_ae.models.objective import Objective, Option, integer, number
from keras_ae.models.pixels import float32

if TYPE_CHECKING:
    import tensorflow as tf
    from numpy.typing import ArrayLike

__all__ = ["CODEBOOK_BYTES", "CodebookUsage", "OBJECTIVE", "VQVAE", "VectorQuantizer",
           "codebook_bytes"]



CODEBOOK_BYTES = 2 * 2**30
"""The most memory a codebook may take in a training step (as `codebook_bytes` estimates it)."""


def codebook_bytes(codebook_size: int, code_dim: int, vectors: int) -> int:
    """An estimate of the bytes a codebook takes in a training step over `vectors` code vectors:
    its float32 weights with their gradient and Adam's two moments, three per-code counts, and
    three float32 (vectors, codebook_size) tensors (the distances to every code, and the one-hot
    codes counted for the metrics and for dead codes)."""
    return 4 * codebook_size * (4 * code_dim + 3 + 3 * vectors)


def _check_codebook_memory(codebook_size: int, code_dim: int, vectors: int, batch: str) -> None:
    need = codebook_bytes(codebook_size, code_dim, vectors)
    if need > CODEBOOK_BYTES:
        most = CODEBOOK_BYTES // codebook_bytes(1, code_dim, vectors)
        raise ValueError(f"codebook_size {codebook_size:,} needs about {need / 2**30:,.1f} GiB "
                         f"in a training step ({code_dim}-d codes, {batch}); at most {most:,} "
                         f"codes fit in {CODEBOOK_BYTES // 2**30} GiB")


@keras.saving.register_keras_serializable(package="keras_ae")
class VectorQuantizer(keras.layers.Layer):
    """A codebook of `codebook_size` vectors of `code_dim` numbers; `call` maps every vector of
    its input (..., code_dim) to the nearest code (squared Euclidean distance).

    Its weights: `codebook` (trained) and `unused_steps` (per code, the training steps since an
    input last chose it). Both keep one value across the replicas of a distribution strategy.
    """

    def __init__(self, codebook_size: int, code_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.codebook_size = int(codebook_size)
        self.code_dim = int(code_dim)

    def build(self, input_shape=None):
        bound = 1.0 / self.codebook_size
        self.codebook = self.add_weight(
            shape=(self.codebook_size, self.code_dim), name="codebook",
            initializer=keras.initializers.RandomUniform(-bound, bound),
            aggregation="only_first_replica")
        self.unused_steps = self.add_weight(
            shape=(self.codebook_size,), name="unused_steps", initializer="zeros",
            trainable=False, aggregation="only_first_replica")
        self.built = True

    def distances(self, vectors):
        """Squared distances (n, codebook_size) from `vectors` (n, code_dim) to every code."""
        vectors = float32(vectors)
        codebook = float32(self.codebook)
        return (ops.sum(ops.square(vectors), axis=-1, keepdims=True)
                - 2.0 * ops.matmul(vectors, ops.transpose(codebook))
                + ops.sum(ops.square(codebook), axis=-1)[None, :])

    def indices(self, z):
        """The index (int32) of the nearest code of every vector of `z` (..., code_dim)."""
        import tensorflow as tf

        # tf.argmin itself: Keras's argmin adds a sign-bit test that TFLite has no builtin for
        flat = ops.reshape(z, (-1, self.code_dim))
        nearest = tf.argmin(self.distances(flat), axis=-1, output_type=tf.int32)
        return ops.reshape(nearest, ops.shape(z)[:-1])

    def lookup(self, indices):
        """The code vectors (float32) of `indices`: shape (*indices.shape, code_dim)."""
        import tensorflow as tf

        return tf.gather(float32(self.codebook), ops.cast(indices, "int32"))

    def call(self, z):
        return self.lookup(self.indices(z))

    def compute_output_spec(self, z):
        return keras.KerasTensor(z.shape, dtype="float32")

    def get_config(self):
        return {**super().get_config(), "codebook_size": self.codebook_size,
                "code_dim": self.code_dim}


@keras.saving.register_keras_serializable(package="keras_ae")
class CodebookUsage(keras.metrics.Metric):
    """How a codebook is used over an epoch: `codebook_usage`, the share of its codes chosen at
    least once, and `perplexity`, exp(-Σ p log p) of the code frequencies p (sample-weighted)."""

    def __init__(self, codebook_size: int, name: str = "codebook", **kwargs):
        super().__init__(name=name, **kwargs)
        self.codebook_size = int(codebook_size)
        self.counts = self.add_variable(shape=(self.codebook_size,), initializer="zeros",
                                        dtype="float32", name="counts")

    def update_state(self, indices, sample_weight=None):
        batch = ops.shape(indices)[0]
        one_hot = ops.one_hot(ops.reshape(indices, (batch, -1)), self.codebook_size,
                              dtype="float32")  # (batch, positions, codebook_size)
        if sample_weight is not None:
            one_hot = one_hot * ops.reshape(ops.cast(sample_weight, "float32"), (-1, 1, 1))
        self.counts.assign_add(ops.sum(one_hot, axis=(0, 1)))

    def result(self):
        total = ops.maximum(ops.sum(self.counts), 1e-12)
        p = self.counts / total
        entropy = -ops.sum(ops.where(p > 0, p * ops.log(ops.maximum(p, 1e-12)), 0.0))
        return {"codebook_usage": ops.mean(float32(self.counts > 0)),
                "perplexity": ops.exp(entropy)}

    def reset_state(self):
        self.counts.assign(ops.zeros_like(self.counts))

    def get_config(self):
        return {"name": self.name, "codebook_size": self.codebook_size}


@keras.saving.register_keras_serializable(package="keras_ae")
class VQVAE(BaseAutoencoder):
    """A vector-quantised autoencoder: `encoder` maps images to a feature map (H', W', D),
    every vector of which is quantised to the nearest of `codebook_size` learned codes, and
    `decoder` maps the quantised map back to images.

    Args:
        encoder, decoder: a conv encoder keeping a feature map and its decoder
            (`keras_ae.models.nets.conv_map_encoder` / `conv_map_decoder`); D = `latent_dim`.
        loss: per-pixel reconstruction loss, `mse` or `bce` (also the anomaly score).
        codebook_size: the number of codes K; each image's code takes H'·W'·log2(K) bits.
        commitment: β, the weight of the commitment loss.
        dead_code_steps: replace a code unused for this many training steps (0: never).
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model, loss: str = "mse",
                 codebook_size: int = 128, commitment: float = 0.25, dead_code_steps: int = 100,
                 seed: int | None = None, **kwargs: Any) -> None:
        if isinstance(codebook_size, bool) or int(codebook_size) != codebook_size or codebook_size < 2:
            raise ValueError(f"codebook_size must be an integer >= 2, got {codebook_size!r}")
        if not commitment >= 0:
            raise ValueError(f"commitment must be >= 0, got {commitment}")
        if int(dead_code_steps) != dead_code_steps or dead_code_steps < 0:
            raise ValueError(f"dead_code_steps must be an integer >= 0, got {dead_code_steps!r}")
        self.codebook_size = int(codebook_size)
        self.commitment = float(commitment)
        self.dead_code_steps = int(dead_code_steps)
        self.loss_name = loss
        super().__init__(encoder, decoder, seed=seed, **kwargs)

    def _create_state(self) -> None:
        if len(self.latent_shape) != 3:
            raise ValueError("a VQ-VAE quantises a feature map: its decoder must take (height, "
                             f"width, code_dim), got a code of shape {self.latent_shape}")
        _check_codebook_memory(self.codebook_size, self.latent_dim, math.prod(self.code_shape),
                               "one image")
        # the codebook and its distances stay float32 whatever the mixed-precision policy
        self.quantizer = VectorQuantizer(self.codebook_size, self.latent_dim, dtype="float32",
                                         name="quantizer")
        self.quantizer.build()
        self.codebook_stats = CodebookUsage(self.codebook_size)

    # --- the model -----------------------------------------------------------------------------
    @property
    def code_shape(self) -> tuple[int, int]:
        """(H', W'): the shape of each image's map of code indices."""
        return tuple(self.latent_shape[:2])

    @property
    def code_bits(self) -> float:
        """The bits of one image's code: H'·W'·log2(codebook_size)."""
        return math.prod(self.code_shape) * math.log2(self.codebook_size)

    def encode(self, x: ArrayLike) -> tf.Tensor:
        """The code indices (int32) of each image: shape (batch, H', W')."""
        return self.quantizer.indices(float32(self.encoder(self.as_images(x))))

    def quantized(self, x: ArrayLike) -> tf.Tensor:
        """The quantised feature map (float32) of each image: (batch, H', W', latent_dim)."""
        return self.quantizer(float32(self.encoder(self.as_images(x))))

    def features(self, x: ArrayLike) -> tf.Tensor:
        """The quantised map of each image, flattened: (batch, H'·W'·latent_dim), float32."""
        z = self.quantized(x)
        return ops.reshape(z, (ops.shape(z)[0], -1))

    def decode(self, indices: ArrayLike) -> tf.Tensor:
        """Images decoded from code indices (batch, H', W') of integers in [0, codebook_size)."""
        if not isinstance(indices, keras.KerasTensor):
            indices = ops.convert_to_tensor(indices)
        dtype = keras.backend.standardize_dtype(indices.dtype)
        if "int" not in dtype:
            raise ValueError(f"model {self.name!r} decodes code indices (integers), got dtype {dtype}")
        if tuple(indices.shape[1:]) != self.code_shape or len(indices.shape) != 3:
            raise ValueError(f"model {self.name!r} decodes code indices of shape (batch, "
                             f"{', '.join(map(str, self.code_shape))}), got {tuple(indices.shape)}")
        if _is_eager(indices):
            values = np.asarray(indices)
            if values.size and (values.min() < 0 or values.max() >= self.codebook_size):
                raise ValueError(f"code indices must be in [0, {self.codebook_size}), got values "
                                 f"in [{values.min()}, {values.max()}]")
        return float32(self.decoder(self.quantizer.lookup(indices)))

    def call(self, x, training=False):
        return self.forward(self.as_images(x), training=training)["reconstruction"]

    # --- the objective -------------------------------------------------------------------------
    def forward(self, x, training=False) -> dict[str, Any]:
        """The encoder's map `z_e`, its code `indices`, the quantised map `z_q` and the
        reconstruction decoded from z_q, in training with straight-through gradients to z_e
        (z_e + stop_gradient(z_q - z_e): z_q's value, z_e's gradient)."""
        z_e = float32(self.encoder(x, training=training))
        indices = self.quantizer.indices(z_e)
        z_q = self.quantizer.lookup(indices)
        decoded = z_e + ops.stop_gradient(z_q - z_e) if training else z_q
        reconstruction = float32(self.decoder(decoded, training=training))
        return {"z_e": z_e, "z_q": z_q, "indices": indices, "reconstruction": reconstruction}

    @classmethod
    def loss_term_names(cls, options: Mapping[str, Any]) -> tuple[str, ...]:
        return ("reconstruction_loss", "vq_loss")

    @classmethod
    def metric_names(cls, options: Mapping[str, Any]) -> tuple[str, ...]:
        return cls.loss_term_names(options) + ("codebook_usage", "perplexity")

    def _objective_options(self) -> dict[str, Any]:
        return {"loss": self.loss_name, "codebook_size": self.codebook_size,
                "commitment": self.commitment, "dead_code_steps": self.dead_code_steps}

    def loss_terms(self, x, y, outputs: Mapping[str, Any], sample_weight=None) -> dict[str, Any]:
        z_e, z_q = outputs["z_e"], outputs["z_q"]
        batch = ops.shape(z_e)[0]

        def per_sample(values):
            return ops.mean(ops.reshape(values, (batch, -1)), axis=-1)

        codebook = per_sample(ops.square(ops.stop_gradient(z_e) - z_q))
        commitment = per_sample(ops.square(z_e - ops.stop_gradient(z_q)))
        reconstruction = self.reconstruction_error(y, outputs["reconstruction"])
        return {"reconstruction_loss": weighted_mean(reconstruction, sample_weight),
                "vq_loss": weighted_mean(codebook + self.commitment * commitment, sample_weight)}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The base loss; also counts the batch's codes for `codebook_usage` and `perplexity`."""
        outputs = y_pred if isinstance(y_pred, Mapping) else self.forward(x, training=training)
        self.codebook_stats.update_state(outputs["indices"], sample_weight)
        return super().compute_loss(x, y, outputs, sample_weight, training)

    # --- dead codes ----------------------------------------------------------------------------
    def after_train_step(self, x, outputs: Mapping[str, Any]) -> None:
        """Count each code's unused steps over the global batch and replace the codes unused for
        `dead_code_steps` steps by the encoder outputs farthest from their nearest code."""
        if not self.dead_code_steps:
            return
        import tensorflow as tf

        quantizer = self.quantizer
        vectors = ops.reshape(outputs["z_e"], (-1, self.latent_dim))
        counts = ops.sum(ops.one_hot(ops.reshape(outputs["indices"], (-1,)), self.codebook_size,
                                     dtype="float32"), axis=0)
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:  # the global batch
            counts = context.all_reduce("sum", counts)
            vectors = context.all_gather(vectors, axis=0)
        unused = ops.where(counts > 0, 0.0, quantizer.unused_steps + 1.0)
        dead = unused >= self.dead_code_steps

        def replaced():
            worst_first = tf.argsort(ops.min(quantizer.distances(vectors), axis=-1),
                                     direction="DESCENDING", stable=True)
            rank = ops.cumsum(ops.cast(dead, "int32")) - 1  # the i-th dead code: the i-th worst
            chosen = tf.gather(vectors, tf.gather(worst_first, rank % ops.shape(vectors)[0]))
            return ops.where(dead[:, None], chosen, quantizer.codebook)

        codebook = ops.cond(ops.any(dead), replaced, lambda: ops.convert_to_tensor(quantizer.codebook))
        quantizer.codebook.assign(codebook)
        quantizer.unused_steps.assign(ops.where(dead, 0.0, unused))

    def check_training(self, train_size: int, batch_size: int) -> None:
        """The codebook must fit in memory for a batch (`codebook_bytes` within CODEBOOK_BYTES)
        and have no more codes than the training images have code vectors."""
        positions = math.prod(self.code_shape)
        batch = min(batch_size, train_size)
        _check_codebook_memory(self.codebook_size, self.latent_dim, batch * positions,
                               f"a batch of {batch} images")
        vectors = train_size * positions
        if self.codebook_size > vectors:
            raise ValueError(
                f"codebook_size {self.codebook_size:,} is more codes than the {vectors:,} code "
                f"vectors of the training images ({train_size:,} × "
                f"{'×'.join(map(str, self.code_shape))}); give at most {vectors:,}")

    # --- held-out numbers and export -----------------------------------------------------------
    def held_out_metrics(self, images, *, batch_size: int = 256, **options) -> dict[str, Any]:
        """The code's size in bits per image (H'·W'·log2 K), the empirical entropy of the codes
        of `images` (bits per image, if indices were coded independently by their frequency),
        codebook usage and perplexity on `images` (an array or a `keras_ae.data.Split`)."""
        counts = np.zeros(self.codebook_size)
        for batch in in_batches(images, batch_size):
            indices = np.asarray(self.encode(batch))
            counts += np.bincount(indices.ravel(), minlength=self.codebook_size)
        p = counts[counts > 0] / counts.sum()
        entropy = float(-(p * np.log2(p)).sum())
        return {"code_bits": self.code_bits,
                "code_entropy_bits": entropy * math.prod(self.code_shape),
                "codebook_usage": float(np.mean(counts > 0)),
                "perplexity": float(2 ** entropy)}

    def signature_inputs(self):
        return {**super().signature_inputs(),
                "decode": {"indices": ((None, *self.code_shape), "int32")}}

    def serve(self, signature: str, **inputs) -> dict[str, Any]:
        if signature == "encode":
            return {"indices": self.encode(inputs["image"])}
        if signature == "decode":
            return {"image": self.decode(inputs["indices"])}
        return super().serve(signature, **inputs)

    # --- serialisation -------------------------------------------------------------------------
    def get_config(self):
        return {**super().get_config(), "loss": self.loss_name,
                "codebook_size": self.codebook_size, "commitment": self.commitment,
                "dead_code_steps": self.dead_code_steps}


def _is_eager(tensor) -> bool:
    """Whether `tensor` holds values now (not a symbolic tensor being traced)."""
    import tensorflow as tf

    return not isinstance(tensor, keras.KerasTensor) and tf.executing_eagerly()


OBJECTIVE = Objective(
    name="vq_vae",
    model_class=VQVAE,
    description="vector-quantised: a conv feature map quantised to a learned codebook",
    architectures=("conv",),
    code="map",
    options=(
        LOSS,
        Option("codebook_size", 128, integer("codebook_size", minimum=2), metavar="K", cli_type=int,
               help="number of codes in the codebook (the code dimension is --latent-dim)"),
        Option("commitment", 0.25, number("commitment"), metavar="BETA", cli_type=float,
               help="weight β of the commitment loss ‖z_e - sg[e]‖²"),
        Option("dead_code_steps", 100, integer("dead_code_steps"), metavar="N", cli_type=int,
               help="replace a code no input chose for N training steps by an encoder output "
                    "(0: never)"),
    ),
    regularises=lambda options: True,
)
