"""The contractive autoencoder: its penalty is ‖∂z/∂x‖²_F (closed form and autodiff), training
lowers it, and its codes move less than a plain autoencoder's under small input noise."""

import numpy as np
import pytest
import tensorflow as tf

import keras_ae
from keras_ae.models import nets
from keras_ae.models.contractive import ContractiveAutoencoder, closed_form_layer, jacobian_norm

from harness import SMALL, structured_images


def _model(architecture="dense", hidden_units=(), latent_activation="relu", contractive=1e-4,
           latent_dim=5):
    config = keras_ae.RunConfig(objective="contractive", architecture=architecture,
                                hidden_units=hidden_units, conv_filters=(4, 8),
                                latent_dim=latent_dim, latent_activation=latent_activation,
                                options={"contractive": contractive})
    return keras_ae.build(config, input_shape=SMALL)


def _finite_difference_norm(encoder, image, eps=1e-3):
    """‖J‖²_F of `encoder` at one image by central differences, one pixel at a time."""
    size = image.size
    steps = np.eye(size, dtype="float32").reshape(size, *image.shape) * eps
    codes = np.asarray(encoder(np.concatenate([image + steps, image - steps])), "float64")
    jacobian = (codes[:size] - codes[size:]) / (2 * eps)  # (pixels, latent)
    return float(np.sum(jacobian ** 2))


@pytest.mark.parametrize("architecture, hidden_units, activation, form", [
    ("dense", (), "sigmoid", "closed"),
    ("dense", (), "relu", "closed"),
    ("dense", (16,), "relu", "autodiff"),
    ("conv", (), "sigmoid", "autodiff"),
])
def test_penalty_matches_a_finite_difference_jacobian(architecture, hidden_units, activation, form):
    model = _model(architecture, hidden_units, activation)
    assert model.jacobian_form == form
    x = np.clip(structured_images(4), 2e-3, 1 - 2e-3)  # the difference steps stay pixel values
    penalty = np.asarray(model.jacobian_norm(x))
    assert penalty.shape == (4,) and np.count_nonzero(penalty) >= 2  # (a ReLU code can be all off)
    want = [_finite_difference_norm(model.encoder, image) for image in x]
    np.testing.assert_allclose(penalty, want, rtol=2e-3, atol=1e-6)
    if form == "closed":  # the same number, and the same gradient, as the batch Jacobian
        autodiff = np.asarray(jacobian_norm(model.encoder, x, form="autodiff")[0])
        np.testing.assert_allclose(penalty, autodiff, rtol=1e-5)
        gradients = []
        for way in ("closed", "autodiff"):
            with tf.GradientTape() as tape:
                value = tf.reduce_mean(jacobian_norm(model.encoder, x, form=way)[0])
            weights = model.encoder.trainable_weights
            gradients.append([np.zeros(w.shape) if g is None else np.asarray(g)  # ReLU's bias
                              for w, g in zip(weights, tape.gradient(value, weights))])
        for a, b in zip(*gradients):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-7)


def test_the_closed_form_needs_one_sigmoid_or_relu_dense_layer():
    assert closed_form_layer(_model("dense", (), "relu").encoder) is not None
    assert closed_form_layer(nets.dense_encoder(SMALL, 5, ())) is None  # a linear code
    assert closed_form_layer(_model("dense", (16,), "relu").encoder) is None
    with pytest.raises(ValueError, match="encoder 'encoder' has no closed-form Jacobian"):
        jacobian_norm(_model("conv").encoder, structured_images(2), form="closed")
    with pytest.raises(ValueError, match="unknown Jacobian form 'numeric'"):
        jacobian_norm(_model().encoder, structured_images(2), form="numeric")


def test_the_loss_adds_lambda_times_the_penalty():
    model = _model(hidden_units=(16,), contractive=0.5)
    x = structured_images(8)
    terms = model.evaluate(x, batch_size=8, verbose=0, return_dict=True)
    np.testing.assert_allclose(terms["contractive_loss"],
                               0.5 * float(np.mean(model.jacobian_norm(x))), rtol=1e-5)
    np.testing.assert_allclose(terms["loss"], terms["reconstruction_loss"] + terms["contractive_loss"],
                               rtol=1e-5)


def _trained(objective_options, x, epochs=40):
    config = keras_ae.RunConfig(hidden_units=(32,), latent_dim=8, latent_activation="relu",
                                learning_rate=3e-3, seed=0, **objective_options)
    model = keras_ae.build(config, input_shape=SMALL)
    before = float(np.mean(jacobian_norm(model.encoder, x)[0]))
    model.fit(x, epochs=epochs, batch_size=32, verbose=0, shuffle=False)
    return model, before


def _code_motion(model, x, sigma=0.02):
    """How far codes move under N(0, sigma²) pixel noise: the mean distance, and that distance
    relative to the codes' spread over the images (a code cannot win by merely shrinking)."""
    noise = np.random.default_rng(1).normal(scale=sigma, size=x.shape).astype("float32")
    z, moved = np.asarray(model.encoder(x)), np.asarray(model.encoder(np.clip(x + noise, 0, 1)))
    distance = np.linalg.norm(moved - z, axis=1).mean()
    return distance, distance / np.linalg.norm(z - z.mean(0), axis=1).mean()


def test_training_lowers_the_penalty_and_codes_move_less_than_a_plain_models():
    x = structured_images(128)
    contractive, before = _trained({"objective": "contractive", "options": {"contractive": 0.01}}, x)
    plain, _ = _trained({"objective": "autoencoder"}, x)
    assert isinstance(contractive, ContractiveAutoencoder)
    after = float(np.mean(contractive.jacobian_norm(x)))
    plain_norm = float(np.mean(jacobian_norm(plain.encoder, x)[0]))
    assert after < 0.5 * before and after < 0.5 * plain_norm, (before, after, plain_norm)
    # both still reconstruct: the contraction is not a collapse of the code
    assert float(np.mean((np.asarray(contractive(x)) - x) ** 2)) < 0.5 * float(np.var(x))
    (moved, relative), (plain_moved, plain_relative) = _code_motion(contractive, x), _code_motion(plain, x)
    assert moved < 0.5 * plain_moved and relative < plain_relative, (moved, plain_moved)
