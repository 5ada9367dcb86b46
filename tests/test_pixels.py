"""keras_ae.models.pixels: every model takes float32 images in [0, 1] or uint8 in [0, 255]
through every call, and refuses other dtypes and shapes naming them."""

import numpy as np
import pytest

import keras_ae

from harness import SMALL, small, structured_images


@pytest.mark.parametrize("name", ["seed", "conv_vae"])
def test_uint8_images_mean_pixels_over_255_everywhere(name):
    floats = structured_images(16)
    pixels = np.round(floats * 255).astype("uint8")
    scaled = pixels.astype("float32") / 255
    model = small(name)
    np.testing.assert_allclose(model(pixels), model(scaled), atol=1e-6)
    np.testing.assert_allclose(model.encode(pixels), model.encode(scaled), atol=1e-6)
    np.testing.assert_allclose(model.predict(pixels, verbose=0), model.predict(scaled, verbose=0),
                               atol=1e-6)
    np.testing.assert_allclose(model.anomaly_score(pixels), model.anomaly_score(scaled), atol=1e-6)
    if not isinstance(model, keras_ae.VariationalAutoencoder):  # its evaluation samples z
        np.testing.assert_allclose(model.evaluate(pixels, batch_size=16, verbose=0),
                                   model.evaluate(scaled, batch_size=16, verbose=0), rtol=1e-5)
    history = model.fit(pixels, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize("call", ["call", "encode", "anomaly_score", "predict", "fit", "evaluate"])
def test_other_dtypes_and_shapes_are_refused_naming_them(call):
    model = small("seed")

    def run(x):
        if call == "call":
            return model(x)
        if call in ("encode", "anomaly_score"):
            return getattr(model, call)(x)
        if call == "predict":
            return model.predict(x, verbose=0)
        return getattr(model, call)(x, x, verbose=0)

    with pytest.raises(ValueError, match="got dtype int32"):
        run(np.zeros((2, *SMALL), "int32"))
    with pytest.raises(ValueError, match=r"takes images of shape \(12, 12, 1\), got images of "
                                         r"shape \(12, 12, 3\)"):
        run(np.zeros((2, 12, 12, 3), "float32"))
    with pytest.raises(ValueError, match=r"takes a batch of images.*got an array of shape \(12, 12, 1\)"):
        model(np.zeros(SMALL, "float32"))
