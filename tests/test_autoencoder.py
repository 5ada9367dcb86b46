"""keras_ae.models.autoencoder: denoising helps on corrupted inputs, and corruption happens in
training only."""

import numpy as np
import pytest

import keras_ae

from harness import small, structured_images
from model_fits import trained as _trained


def test_denoising_reconstructs_corrupted_inputs_better_than_plain():
    x = structured_images(1024, seed=2)
    corruption = keras_ae.Noise("gaussian", 0.5)
    held_out = structured_images(256, seed=3)
    noisy = np.asarray(corruption.apply(held_out, seed=7))
    errors = {}
    for name, denoise in (("plain", None), ("denoising", str(corruption))):
        model = _trained("dense", x, denoise=denoise, seed=0)
        errors[name] = float(np.mean((model.predict(noisy, verbose=0) - held_out) ** 2))
    assert errors["denoising"] < 0.85 * errors["plain"], errors


@pytest.mark.parametrize("name", ["dense", "conv"])
def test_corruption_only_in_training(name):
    x = structured_images(8)
    noisy = small(name, denoise="salt_pepper:0.2")
    clean = small(name)
    clean.set_weights(noisy.get_weights())
    np.testing.assert_array_equal(noisy(x), noisy(x))
    np.testing.assert_array_equal(noisy(x), clean(x))  # inference never corrupts

    def loss(model, training):
        return float(model.compute_loss(x, x, model.forward(x, training=training), training=training))

    evaluate = loss(noisy, training=False)
    assert evaluate == loss(clean, training=True)
    assert loss(noisy, training=True) != evaluate
