"""keras_ae.data.images: resizing as Keras does, colour modes, and parsing image sizes."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from keras_ae import data
from keras_ae.data import DataError, load_arrays

from image_files import pixels, write_folder

pytestmark = pytest.mark.usefixtures("fresh_data_cache")


def test_resize_matches_keras_bilinear_resizing(tmp_path):
    image = pixels(1, (16, 16, 1), seed=6)
    write_folder(tmp_path, image)
    got, _ = load_arrays(tmp_path, "all", image_size=(32, 32))
    want = tf.image.resize(image.astype("float32"), (32, 32), method="bilinear", antialias=True)
    np.testing.assert_array_equal(got, np.clip(np.round(want.numpy()), 0, 255).astype(np.uint8))


def test_color_modes(tmp_path):
    rgb = pixels(2, (4, 4, 3), seed=7)
    write_folder(tmp_path / "rgb", rgb)
    luminance = np.round(rgb.astype(float) @ [0.299, 0.587, 0.114]).astype(np.uint8)[..., None]
    gray, _ = load_arrays(tmp_path / "rgb", "all", color_mode="grayscale")
    assert np.abs(gray.astype(int) - luminance).max() <= 1  # float32 rounding at .5
    rgba, _ = load_arrays(tmp_path / "rgb", "all", color_mode="rgba")
    np.testing.assert_array_equal(rgba[..., :3], rgb)
    assert (rgba[..., 3] == 255).all()

    alpha = pixels(2, (4, 4, 4), seed=8)
    write_folder(tmp_path / "rgba", alpha)
    default, _ = load_arrays(tmp_path / "rgba", "all")  # colour images default to rgb
    np.testing.assert_array_equal(default, alpha[..., :3])
    kept, _ = load_arrays(tmp_path / "rgba", "all", color_mode="rgba")
    np.testing.assert_array_equal(kept, alpha)

    gray_images = pixels(2, (4, 4, 1), seed=9)
    write_folder(tmp_path / "gray", gray_images)
    default, _ = load_arrays(tmp_path / "gray", "all")  # grayscale images stay grayscale
    np.testing.assert_array_equal(default, gray_images)
    tiled, _ = load_arrays(tmp_path / "gray", "all", color_mode="rgb")
    np.testing.assert_array_equal(tiled, np.repeat(gray_images, 3, axis=-1))
    with pytest.raises(DataError, match="unknown color mode 'cmyk'; choose from grayscale, rgb, rgba"):
        load_arrays(tmp_path / "gray", "all", color_mode="cmyk")


@pytest.mark.parametrize("value, size", [("64x48", (64, 48)), ("32", (32, 32)), ((5, 6), (5, 6)),
                                         (7, (7, 7))])
def test_parse_image_size(value, size):
    assert data.parse_image_size(value) == size


@pytest.mark.parametrize("value", ["64x", "axb", "0x4", (1, 2, 3), "99999x2"])
def test_parse_image_size_rejects(value):
    with pytest.raises(DataError, match="image size"):
        data.parse_image_size(value)
