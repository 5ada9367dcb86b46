"""Preset details beyond tests/test_presets.py: the seed preset is the classic network, and an
overcomplete code needs a regulariser. (test_cli, test_detect and test_train import the shared
image helpers from here.)"""

import numpy as np
import pytest

import keras
import keras_ae

from harness import SMALL, small, structured_images

__all__ = ["SMALL", "small", "structured_images"]  # test_cli, test_detect and test_train import them


def test_seed_preset_is_the_classic_network():
    model = keras_ae.build("seed")
    dense = [layer for layer in model.encoder.layers + model.decoder.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [128, 64, 32, 64, 128, 784]
    assert [layer.activation.__name__ for layer in dense] == ["relu", "relu", "linear", "relu", "relu", "sigmoid"]
    assert all(isinstance(layer.kernel_initializer, keras.initializers.GlorotUniform) for layer in dense)
    assert model.loss_name == "mse"
    assert model.optimizer.learning_rate.numpy() == pytest.approx(1e-3)
    x = np.zeros((3, 28, 28, 1), "float32")
    assert model.encode(x).shape == (3, 32)
    assert model.decode(model.encode(x)).shape == (3, 28, 28, 1)


def test_overcomplete_without_regulariser_is_refused():
    with pytest.raises(ValueError, match="overcomplete"):
        keras_ae.build("dense", input_shape=SMALL, latent_dim=200)
    keras_ae.build("dense", input_shape=SMALL, latent_dim=200, sparsity="l1:1e-4")
