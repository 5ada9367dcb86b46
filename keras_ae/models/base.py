"""What every keras_ae model is: an encoder, a decoder and an objective, trained through Keras.

`BaseAutoencoder` holds the input contract, the training machinery every objective shares and
the export signatures; it takes no objective option (each model class adds its own).
`train_step` and `test_step` (Keras's override points for a step whose loss needs more than the
model's output) follow Keras's own: the objective's loss comes from `compute_loss` (per-sample
terms weighted by `sample_weight`, computed in float32, scaled for the replicas of a
distribution strategy), the optimizer scales it for mixed precision, and compiled metrics are
updated on the reconstructions. An objective subclass changes `forward` (what one pass
computes) and `loss_terms` (what it minimises); nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
from keras import ops

if TYPE_CHECKING:
    import tensorflow as tf
    from numpy.typing import ArrayLike

from keras_ae.data.validate import check_pixel_values
from keras_ae.models.batch_groups import grouped_function
from keras_ae.models.losses import (per_sample_keras_loss, reconstruction_error,
                                    replicas_in_sync, scale_for_replicas, weighted_mean)
from keras_ae.models.image_encoder import ImageEncoder
from keras_ae.models.pixels import (as_image_tensor, as_tensor, assert_pixels,
                                    check_image_shape, checked_input, concrete, float32,
                                    is_float, pixel_error)
from keras_ae.models.randomness import replica_seed
from keras_ae.models.precision import computes_in, float32_copy


def _check_nets(encoder, decoder) -> None:
    """Encoder and decoder must be built models: images (H, W, C) in, a code of a fixed shape
    between (a flat vector, or a feature map (H', W', D))."""
    try:
        image = tuple(encoder.inputs[0].shape[1:])
        latent = tuple(decoder.inputs[0].shape[1:])
    except (AttributeError, IndexError, TypeError, ValueError):
        raise ValueError("the encoder and decoder must be built Keras models with known inputs "
                         "(e.g. functional models from keras_ae.models.nets)") from None
    if len(image) != 3 or len(latent) not in (1, 3) or None in image + latent:
        raise ValueError("the encoder must take images of a fixed (height, width, channels) and "
                         "the decoder a code of a fixed shape (a vector or a feature map); got "
                         f"inputs {image} and {latent}")


class BaseAutoencoder(keras.Model):
    """x -> encoder -> z -> decoder -> x_hat: the base of every keras_ae model class.

    Args:
        encoder: a built model from images (H, W, C) to latent codes.
        decoder: a built model from latent codes to images of the input's shape.
        seed: seed of the model's randomness (its training corruption, a VAE's sampling).

    Inputs are images as float32 in [0, 1] or uint8 in [0, 255] (divided by 255), shape
    (batch, H, W, C); any other dtype or shape is a ValueError naming it. A subclass sets
    `loss_name` (the per-pixel error of `anomaly_score`, `mse` by default) and, for denoising,
    `denoise` before calling `__init__`, and adds its objective's options to `get_config`.
    """

    loss_name = "mse"
    denoise = None  # a keras_ae.data.noise.Noise applied to the inputs in training, or None

    SIGNATURES = ("encode", "decode", "reconstruct", "anomaly_score")

    trains_on_groups = False  # see keras_ae.models.batch_groups

    default_score = "reconstruction"  # what `anomaly_score` computes (keras_ae.analysis.detect)

    def __init__(self, encoder: keras.Model, decoder: keras.Model, seed: int | None = None,
                 **kwargs: Any) -> None:
        # the model's own inputs and outputs are float32 whatever its nets compute in (Keras
        # casts a layer's inputs to its dtype): what callers and exports see
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        _check_nets(encoder, decoder)
        self.encoder = ImageEncoder.of(encoder)  # takes images as the model does
        self.decoder = decoder
        self._error = reconstruction_error(self.loss_name)
        self.seed = seed
        self.noise_seed = keras.random.SeedGenerator(seed)
        self._create_state()
        self.term_trackers = {name: keras.metrics.Mean(name=name)
                              for name in self.loss_term_names(self._objective_options())}
        self.build((None, *self.image_shape))
        self(keras.KerasTensor((None, *self.image_shape)))  # a called model is what Keras exports

    def _create_state(self) -> None:
        """Objective subclasses create their own layers here (before the model is built)."""

    def build(self, input_shape=None):
        """The encoder and decoder arrive built; Keras records `input_shape` for its export."""

    # --- the model -----------------------------------------------------------------------------
    @property
    def image_shape(self) -> tuple[int, ...]:
        """The (height, width, channels) of the images the model takes."""
        return tuple(int(d) for d in self.encoder.inputs[0].shape[1:])

    @property
    def latent_dim(self) -> int:
        """The size of the latent code (of each code vector, for a feature-map code)."""
        return int(self.decoder.inputs[0].shape[-1])

    @property
    def latent_shape(self) -> tuple[int, ...]:
        """The shape of the code the decoder takes: (latent_dim,) or a map (H', W', latent_dim)."""
        return tuple(int(d) for d in self.decoder.inputs[0].shape[1:])

    def as_images(self, x):
        """`x` as a float32 image tensor in the model's input shape: uint8 is divided by 255,
        floats are cast; another dtype, rank or image shape is a ValueError naming it, and so
        are, where values are known (eagerly), an empty batch and float pixels that are NaN,
        infinite or outside [0, 1] (a DataError)."""
        return as_image_tensor(x, self.image_shape, self.name)

    def _check_arrays(self, *values) -> None:
        """Check image arrays given to `fit`, `evaluate` or `predict` up front (datasets and
        generators are checked for dtype and shape as they are traced, and for values as they
        are read: `checked_input`, `_unpack`)."""
        for value in values:
            if isinstance(value, (tuple, list)):  # validation_data=(x, y[, sample_weight])
                self._check_arrays(*value[:2])
            elif isinstance(value, np.ndarray) or (concrete(value) and hasattr(value, "dtype")):
                check_image_shape(tuple(value.shape), self.image_shape, self.name)
                if len(value) == 0:
                    raise ValueError(f"model {self.name!r} got an empty array (shape "
                                     f"{tuple(value.shape)})")
                self.as_images(value[:1])  # the dtype
                if "float" in keras.backend.standardize_dtype(value.dtype):
                    check_pixel_values(np.asarray(value))

    def encode(self, x: ArrayLike) -> tf.Tensor:
        """The latent code of each image, float32."""
        return float32(self.encoder(self.as_images(x)))

    def decode(self, z: ArrayLike) -> tf.Tensor:
        """Float32 images (batch, H, W, C) decoded from latent codes of shape
        (batch, *latent_shape)."""
        return float32(self.decoder(self.as_codes(z)))

    def as_codes(self, z):
        """`z` as float latent codes of this model's shape; another dtype or shape is a
        ValueError naming it, and so are NaN or infinite codes where values are known."""
        z = as_tensor(z, f"model {self.name!r} decodes codes given")
        dtype = keras.backend.standardize_dtype(z.dtype)
        if "float" not in dtype:
            raise ValueError(f"model {self.name!r} decodes float latent codes, got dtype {dtype}")
        shape, expected = tuple(z.shape), self.latent_shape
        if len(shape) != 1 + len(expected) or any(
                d is not None and d != e for d, e in zip(shape[1:], expected)):
            raise ValueError(f"model {self.name!r} decodes codes of shape (batch, "
                             f"{', '.join(map(str, expected))}), got an array of shape {shape}")
        if concrete(z):
            if shape[0] == 0:
                raise ValueError(f"model {self.name!r} got no codes to decode (shape {shape})")
            if not np.isfinite(np.asarray(z)).all():
                raise ValueError(f"model {self.name!r} got NaN or infinite latent codes")
        return z

    def __call__(self, *args, **kwargs):
        """Keras's `__call__`, with the input contract checked first, so that a bad input is
        one ValueError naming the problem (not wrapped in Keras's report of the call)."""
        if args and not isinstance(args[0], keras.KerasTensor):
            args = (self.as_images(args[0]), *args[1:])
        elif not isinstance(kwargs.get("x", keras.KerasTensor(())), keras.KerasTensor):
            kwargs["x"] = self.as_images(kwargs["x"])
        return super().__call__(*args, **kwargs)

    def features(self, x: ArrayLike) -> tf.Tensor:
        """A flat float32 feature vector per image, (batch, n), for maps and projections of the
        codes: the latent code itself (a VAE's posterior mean)."""
        z = float32(self.encode(x))
        return ops.reshape(z, (ops.shape(z)[0], -1))

    def call(self, x, training=False):
        return self.forward(self.as_images(x), training=training)["reconstruction"]

    def anomaly_score(self, x: ArrayLike) -> tf.Tensor:
        """Per-sample anomaly score, the model's `default_score`: for most objectives the
        reconstruction error (`reconstruction_score`), shape (batch,)."""
        return self.reconstruction_score(x)

    def reconstruction_score(self, x: ArrayLike) -> tf.Tensor:
        """Per-sample reconstruction error (the model's `loss` per pixel): shape (batch,)."""
        x = self.as_images(x)
        return self._error(x, self(x, training=False))

    def adapt(self, images: Any) -> int:
        """Learn the model's state that comes from data rather than gradients, as Keras's
        preprocessing layers `adapt` (the one-class autoencoder remembers its training images);
        returns how many images were used: 0, for most objectives, which have none."""
        return 0

    def corrupt(self, x):
        """`x` with this model's training corruption, drawn afresh on every call (distinct on
        each replica of a distribution strategy), or `x` itself without denoising."""
        if self.denoise is None:
            return x
        return self.denoise.apply(x, seed=replica_seed(self.noise_seed))

    # --- the objective -------------------------------------------------------------------------
    def forward(self, x, training=False) -> dict[str, Any]:
        """One pass over float32 images: the tensors the objective's loss needs, in float32,
        with the reconstruction under `reconstruction`."""
        if training:
            x = self.corrupt(x)
        z = self.encoder(x, training=training)
        return {"z": float32(z), "reconstruction": float32(self.decoder(z, training=training))}

    @classmethod
    def loss_term_names(cls, options: Mapping[str, Any]) -> tuple[str, ...]:
        """The terms of the loss that the model reports as metrics, for these options."""
        return ("reconstruction_loss",)

    @classmethod
    def metric_names(cls, options: Mapping[str, Any]) -> tuple[str, ...]:
        """Everything the model reports besides `loss` and compiled metrics: its loss terms (an
        objective may add other metrics of its own)."""
        return cls.loss_term_names(options)

    def _objective_options(self) -> dict[str, Any]:
        """The options of the model's objective, as `loss_term_names` takes them."""
        return {"loss": self.loss_name}

    def reconstruction_error(self, y, x_hat):
        """The per-sample training reconstruction term: the compiled loss if one was given, else
        the model's own `loss`."""
        compiled = getattr(self, "_compiled_reconstruction", None)
        return (compiled or self._error)(y, x_hat)

    def loss_terms(self, x, y, outputs: Mapping[str, Any], sample_weight=None) -> dict[str, Any]:
        """The objective's terms on one batch, each a float32 scalar reduced the Keras way."""
        return {"reconstruction_loss": weighted_mean(
            self.reconstruction_error(y, outputs["reconstruction"]), sample_weight)}

    def total_loss(self, terms: Mapping[str, Any]):
        """The loss minimised: the sum of the terms (an objective may weight them)."""
        return sum(terms.values())

    # --- training through Keras ----------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, *, auto_scale_loss=True, **kwargs):
        """Keras's `compile`; `loss` replaces the reconstruction term (any Keras loss). Nets
        computing in float16 get Keras's loss scaling, as a model under `mixed_float16` does
        (the model itself keeps a float32 policy)."""
        self._compiled_reconstruction = None if loss is None else self._reconstruction_loss(loss)
        if auto_scale_loss and computes_in(self, "float16"):
            optimizer = keras.optimizers.get(optimizer)
            if not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        super().compile(optimizer=optimizer, loss=loss, auto_scale_loss=auto_scale_loss, **kwargs)

    def export(self, filepath, format="tf_saved_model", verbose=None, **kwargs):
        """Keras's `export` of the model computing in float32 (a copy, under mixed precision):
        the exported functions take and return float32, and a LiteRT file needs only builtin
        ops (they have no bfloat16 kernels)."""
        served = float32_copy(self)
        return keras.Model.export(served, filepath, format=format, verbose=verbose, **kwargs)

    def compile_from_config(self, config):
        """Compile a loaded model as it was saved (Keras skips this for a custom `compile`)."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)  # the saved optimizer state loads into it

    def _reconstruction_loss(self, loss):
        """The per-sample form of a compiled `loss`, or ValueError if the objective has none."""
        try:
            return per_sample_keras_loss(loss)
        except (TypeError, ValueError) as err:
            raise ValueError(f"cannot use loss {loss!r} as the reconstruction loss of "
                             f"{self.name!r}: {err}") from None

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The objective's loss on one batch, scaled for the replicas in sync, plus any
        regularisation losses of the layers. `y_pred` is the dict `forward` returns (a bare
        reconstruction makes the pass run again from `x`)."""
        outputs = y_pred if isinstance(y_pred, Mapping) else self.forward(x, training=training)
        terms = self.loss_terms(x, x if y is None else y, outputs, sample_weight)
        batch = ops.shape(outputs["reconstruction"])[0]
        for name, value in terms.items():
            self.term_trackers[name].update_state(value, sample_weight=batch)
        total = scale_for_replicas(self.total_loss(terms))
        for extra in self.losses:
            total = total + scale_for_replicas(ops.sum(float32(extra)))
        return total

    def _refuse_labels(self, y) -> None:
        """ValueError if the targets `y` are labels (rank 1 or 2), not images."""
        if y is not None and hasattr(y, "shape") and len(y.shape) in (1, 2):
            raise ValueError(
                f"model {self.name!r} got (images, labels): an autoencoder learns from images "
                "alone; drop the labels (image_dataset_from_directory(..., labels=None), "
                "ds.map(lambda x, y: x), or fit(x) without y)")

    def _unpack(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        self._refuse_labels(y)
        for value in (x, y):  # values known only as the step runs are checked as it runs
            if hasattr(value, "dtype") and not concrete(value) and is_float(value):
                assert_pixels(value)
        x = self.as_images(x)
        return x, (x if y is None else self.as_images(y)), sample_weight

    def _track_loss(self, loss, x) -> None:
        """Feed the `loss` of the logs (the tracker `compile` creates, found in `metrics` by its
        name, as Keras's guide to custom training steps does), as Keras's own step feeds it."""
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss * replicas_in_sync(), sample_weight=ops.shape(x)[0])

    def train_step(self, data):
        """Keras's documented override point for a custom step, written as Keras's own TF step:
        the objective's loss needs the whole pass (`forward`: the code, a VAE's posterior, a
        VQ-VAE's quantization), not only the reconstruction that `call` returns, and some
        objectives update state after the optimizer (`after_train_step`)."""
        import tensorflow as tf

        x, y, sample_weight = self._unpack(data)
        with tf.GradientTape() as tape:
            outputs = self.forward(x, training=True)
            loss = self.compute_loss(x, y, outputs, sample_weight, training=True)
            self._track_loss(loss, x)
            scaled = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled, self.trainable_weights)
        self.optimizer.apply(gradients, self.trainable_weights)
        self.after_train_step(x, outputs)
        return self.compute_metrics(x, y, outputs["reconstruction"], sample_weight=sample_weight)

    def make_train_function(self, force: bool = False):
        """Keras's training function, or one that takes grouped batches while
        `keras_ae.models.batch_groups.training_on_groups` is in effect."""
        if not self.trains_on_groups:
            return super().make_train_function(force)
        if self.train_function is None or force:
            self.train_function = grouped_function(self, self.train_step, whole_loop=True)
        return self.train_function

    def make_test_function(self, force: bool = False):
        """Keras's evaluation function, or one that takes grouped batches (as
        `make_train_function`)."""
        if not self.trains_on_groups:
            return super().make_test_function(force)
        if self.test_function is None or force:
            self.test_function = grouped_function(self, self.test_step)
        return self.test_function

    def after_train_step(self, x, outputs: Mapping[str, Any]) -> None:
        """Update state that gradients do not train, after each step's update (in the replica
        context of a distribution strategy); the VQ-VAE re-initialises dead codes here. Nothing
        by default."""

    def test_step(self, data):
        x, y, sample_weight = self._unpack(data)
        outputs = self.forward(x, training=False)
        loss = self.compute_loss(x, y, outputs, sample_weight, training=False)
        self._track_loss(loss, x)
        return self.compute_metrics(x, y, outputs["reconstruction"], sample_weight=sample_weight)

    def fit(self, x=None, y=None, *args, **kwargs):
        """Keras's `fit`; image arrays (`x`, `y`, `validation_data`) are checked first: uint8,
        or float in [0, 1], of the model's image shape (a ValueError names the problem);
        datasets batch by batch, as they are read (a DataError, as for arrays). Labels and
        `class_weight` (classes have no meaning for reconstruction) are refused."""
        if kwargs.get("class_weight") is not None:
            raise ValueError(f"model {self.name!r} reconstructs images: class_weight has no "
                             "meaning for it; weigh examples with sample_weight")
        self._refuse_labels(y)
        self._check_arrays(x, y, kwargs.get("validation_data"))
        if kwargs.get("validation_data") is not None:
            kwargs["validation_data"] = checked_input(kwargs["validation_data"])
        return self._run_checked(super().fit, checked_input(x), y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        """Keras's `evaluate`; images are checked, as in `fit`."""
        self._refuse_labels(y)
        self._check_arrays(x, y)
        return self._run_checked(super().evaluate, checked_input(x), y, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        """Keras's `predict` (reconstructions); images are checked, as in `fit`."""
        self._check_arrays(x)
        return self._run_checked(super().predict, checked_input(x), *args, **kwargs)

    @staticmethod
    def _run_checked(method, *args, **kwargs):
        """`method(*args, **kwargs)`, a failed pixel check raised as keras_ae's DataError."""
        import tensorflow as tf

        try:
            return method(*args, **kwargs)
        except tf.errors.InvalidArgumentError as err:
            error = pixel_error(err)
            if error is None:
                raise
        raise error

    def save(self, filepath, *args, **kwargs):
        """Keras's `save` to a `.keras` file; legacy HDF5 (`.h5`) is refused."""
        if str(filepath).endswith((".h5", ".hdf5")):
            raise ValueError(f"keras_ae models save as .keras files, not legacy HDF5: got "
                             f"{filepath}; use a name ending in .keras")
        return super().save(filepath, *args, **kwargs)

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self(x, training=False)

    # --- export --------------------------------------------------------------------------------
    def signature_inputs(self) -> dict[str, dict[str, tuple[tuple[int | None, ...], str]]]:
        """Each export signature's inputs: name -> (shape with a None batch axis, dtype)."""
        image = {"image": ((None, *self.image_shape), "float32")}
        return {"encode": image, "decode": {"z": ((None, *self.latent_shape), "float32")},
                "reconstruct": image, "anomaly_score": image}

    def serve(self, signature: str, **inputs) -> dict[str, Any]:
        """What export signature `signature` computes, as a dict of float32 outputs."""
        if signature == "encode":
            return {"z": float32(self.encode(inputs["image"]))}
        if signature == "decode":
            return {"image": self.decode(inputs["z"])}
        if signature == "reconstruct":
            return {"image": self(inputs["image"], training=False)}
        if signature == "anomaly_score":
            return {"score": self.anomaly_score(inputs["image"])}
        raise ValueError(f"unknown signature {signature!r}; {self.name!r} has "
                         f"{', '.join(self.SIGNATURES)}")

    def held_out_metrics(self, images, **options) -> dict[str, Any]:
        """Objective-specific held-out numbers for `evaluate` (none for plain autoencoders)."""
        return {}

    def check_training(self, train_size: int, batch_size: int) -> None:
        """Refuse, with a ValueError naming the problem, training on `train_size` images in
        batches of `batch_size` that cannot fit or make sense (for a VQ-VAE, a codebook too
        large for its memory or its data); nothing to check for most objectives."""

    # --- serialisation -------------------------------------------------------------------------
    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


def check_autoencoder(model: Any):
    """`model`, or ValueError unless it is a keras_ae model (from keras_ae.build or
    keras_ae.load_model)."""
    if not isinstance(model, BaseAutoencoder):
        raise ValueError(f"expected a keras_ae Autoencoder (from keras_ae.build or "
                         f"keras_ae.load_model), got {type(model).__name__}")
    return model
