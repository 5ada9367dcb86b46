"""keras_ae.models.precision: a global Keras mixed policy, `--mixed-precision` on the command
line and `auto` following the hardware; outputs stay float32."""

import json

import numpy as np
import pytest

import keras
import keras_ae
from keras_ae.cli import main

from harness import SMALL, small, structured_images


def test_a_global_mixed_policy_applies_to_build():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = small("seed")
    finally:
        keras.config.set_dtype_policy(previous)
    assert model.encoder.layers[-1].compute_dtype == "bfloat16"
    history = model.fit(structured_images(16), epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_cli_trains_with_mixed_precision(tmp_path, capsys):
    images = (structured_images(96, shape=(28, 28, 1)) * 255).astype("uint8")
    np.savez(tmp_path / "d.npz", x_train=images, y_train=np.zeros(96, "int64"))
    run = tmp_path / "run"
    assert main(["train", "--model", "seed", "--dataset", str(tmp_path / "d.npz"), "--epochs", "1",
                 "--mixed-precision", "--output", str(run), "--quiet"]) == 0
    assert json.loads((run / "config.json").read_text())["mixed_precision"] is True
    model = keras_ae.load_model(run)
    assert model.encoder.layers[-1].compute_dtype == "bfloat16"  # no GPU here
    assert model(images[:2]).dtype == "float32"


@pytest.mark.parametrize("native", [True, False])
def test_auto_mixed_precision_follows_the_hardware(native, monkeypatch):
    from keras_ae.models import precision

    monkeypatch.setattr(precision, "native_bfloat16_cpu", lambda: native)
    assert precision.policy_for("auto") == ("mixed_bfloat16" if native else "float32")  # no GPU here
    assert precision.policy_for(True) == "mixed_bfloat16" and precision.policy_for(False) is None
    model = keras_ae.build(keras_ae.RunConfig(architecture="conv", conv_filters=(4,), latent_dim=3,
                                              mixed_precision="auto"), input_shape=SMALL)
    assert model.encoder.layers[-1].compute_dtype == ("bfloat16" if native else "float32")
