"""The contractive autoencoder (Rifai et al., 2011): reconstruction plus λ·‖∂z/∂x‖²_F.

The penalty is the squared Frobenius norm of the encoder's Jacobian at each input, averaged
over the batch: codes that change little when the input moves off the data make the encoder
robust to small perturbations. Two forms compute it exactly:

- `closed`: when the encoder is one Dense layer from the (flattened) pixels to the code with a
  sigmoid or ReLU activation, z = s(Wx + b), the Jacobian is diag(s'(a)) Wᵀ, so
  ‖J‖²_F = Σ_j s'(a_j)² Σ_i W_ij², with s' = z(1 - z) for sigmoid and 1[z > 0] for ReLU.
- `autodiff`: any other encoder (deeper dense nets, conv nets): the per-sample Jacobian from
  `tf.GradientTape.batch_jacobian`, one backward pass per code unit, squared and summed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
from keras import ops

from keras_ae.models.autoencoder import LOSS
from keras_ae.models.base import BaseAutoencoder
from keras_ae.models.losses import weighted_mean
from keras_ae.models.objective import Objective, Option, number
from keras_ae.models.pixels import float32

__all__ = ["CLOSED_FORM_ACTIVATIONS", "ContractiveAutoencoder", "JACOBIAN_FORMS", "OBJECTIVE",
           "closed_form_layer", "jacobian_norm"]

JACOBIAN_FORMS = ("closed", "autodiff")
CLOSED_FORM_ACTIVATIONS = ("sigmoid", "relu")



def closed_form_layer(encoder: keras.Model) -> keras.layers.Dense | None:
    """The encoder's one Dense layer if the encoder is input -> [Flatten] -> Dense with a sigmoid
    or ReLU activation (where the penalty has a closed form), else None."""
    inner = [layer for layer in encoder.layers if not isinstance(layer, keras.layers.InputLayer)]
    if inner and isinstance(inner[0], keras.layers.Flatten):
        inner = inner[1:]
    if len(inner) != 1 or not isinstance(inner[0], keras.layers.Dense):
        return None
    activation = getattr(inner[0].activation, "__name__", None)
    return inner[0] if activation in CLOSED_FORM_ACTIVATIONS else None


def _closed_form(layer: keras.layers.Dense, z):
    """Σ_j s'(a_j)² ‖W_:j‖² per sample, from the layer's outputs `z` (batch, units)."""
    z = float32(z)
    if layer.activation.__name__ == "sigmoid":
        slope = z * (1.0 - z)
    else:
        slope = float32(z > 0)
    column_norms = ops.sum(ops.square(float32(layer.kernel)), axis=0)  # (units,)
    return ops.sum(ops.square(slope) * column_norms, axis=-1)


def jacobian_norm(encoder: keras.Model, x, *, form: str = "autodiff", training: bool = False):
    """The squared Frobenius norm ‖∂z/∂x‖²_F of `encoder` at each image of `x`: shape (batch,),
    float32, and the codes `z` (float32) it was taken at.

    `form="closed"` needs a one-Dense-layer sigmoid or ReLU encoder (`closed_form_layer`);
    `autodiff` works for any encoder. Both are differentiable (the autodiff form through a
    second-order gradient)."""
    import tensorflow as tf

    if form not in JACOBIAN_FORMS:
        raise ValueError(f"unknown Jacobian form {form!r}; choose one of {', '.join(JACOBIAN_FORMS)}")
    x = float32(x)
    if form == "closed":
        layer = closed_form_layer(encoder)
        if layer is None:
            raise ValueError(f"encoder {encoder.name!r} has no closed-form Jacobian (it needs one "
                             "Dense layer from the pixels to the code, with a sigmoid or ReLU "
                             "activation); use form='autodiff'")
        z = float32(encoder(x, training=training))
        return _closed_form(layer, z), z
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(x)
        z = float32(encoder(x, training=training))
    jacobian = tape.batch_jacobian(z, x)  # (batch, latent, H, W, C)
    return ops.sum(ops.square(ops.reshape(jacobian, (ops.shape(z)[0], -1))), axis=-1), z


@keras.saving.register_keras_serializable(package="keras_ae")
class ContractiveAutoencoder(BaseAutoencoder):
    """An autoencoder whose loss adds `contractive` × ‖∂z/∂x‖²_F (per image, batch-averaged).

    The penalty uses the closed form when the encoder is one Dense layer with a sigmoid or ReLU
    code (`jacobian_form == "closed"`), else the autodiff batch Jacobian. It reports
    `reconstruction_loss` and `contractive_loss` (the weighted penalty). Inference (`call`,
    `encode`, the exports) computes no Jacobian.
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model, loss: str = "mse",
                 contractive: float = 1e-4, seed: int | None = None, **kwargs: Any) -> None:
        if not contractive >= 0:
            raise ValueError(f"the contractive weight must be >= 0, got {contractive}")
        self.contractive = float(contractive)
        self.loss_name = loss
        super().__init__(encoder, decoder, seed=seed, **kwargs)

    @property
    def jacobian_form(self) -> str:
        """`closed` for a one-Dense-layer sigmoid or ReLU encoder, else `autodiff`."""
        return "closed" if closed_form_layer(self.encoder) is not None else "autodiff"

    def jacobian_norm(self, x):
        """‖∂z/∂x‖²_F of each image (the unweighted penalty): shape (batch,), float32."""
        return jacobian_norm(self.encoder, self.as_images(x), form=self.jacobian_form)[0]

    def call(self, x, training=False):
        return float32(self.decoder(self.encoder(self.as_images(x), training=training),
                                     training=training))

    # --- the objective -------------------------------------------------------------------------
    def forward(self, x, training=False) -> dict[str, Any]:
        """The code, the Jacobian's squared norm at each input and the reconstruction."""
        norm, z = jacobian_norm(self.encoder, x, form=self.jacobian_form, training=training)
        return {"z": z, "jacobian_norm": norm,
                "reconstruction": float32(self.decoder(z, training=training))}

    @classmethod
    def loss_term_names(cls, options: Mapping[str, Any]) -> tuple[str, ...]:
        return ("reconstruction_loss", "contractive_loss")

    def _objective_options(self) -> dict[str, Any]:
        return {"loss": self.loss_name, "contractive": self.contractive}

    def loss_terms(self, x, y, outputs: Mapping[str, Any], sample_weight=None) -> dict[str, Any]:
        reconstruction = self.reconstruction_error(y, outputs["reconstruction"])
        return {"reconstruction_loss": weighted_mean(reconstruction, sample_weight),
                "contractive_loss": self.contractive * weighted_mean(outputs["jacobian_norm"],
                                                                     sample_weight)}

    def get_config(self):
        return {**super().get_config(), "loss": self.loss_name, "contractive": self.contractive}


OBJECTIVE = Objective(
    name="contractive",
    model_class=ContractiveAutoencoder,
    description="reconstruct the input with a penalty on the encoder's Jacobian",
    architectures=("dense", "conv"),
    options=(
        LOSS,
        Option("contractive", 1e-4, number("contractive weight"), metavar="LAMBDA", cli_type=float,
               help="weight λ of the contractive penalty λ‖∂z/∂x‖²_F (per image)"),
    ),
    latent_activation=lambda options: "relu",
    regularises=lambda options: options["contractive"] > 0,
    # XLA spends minutes constant-folding the vectorised Jacobian, then ran it ~90x slower
    xla=False,
)
