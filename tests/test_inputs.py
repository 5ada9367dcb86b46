"""Reading a model's inputs from files and folders (keras_ae.data.inputs)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from keras_ae.data.inputs import read_inputs, read_named_inputs

SHAPE = (28, 28, 1)


def test_read_inputs_png_and_npy(tmp_path):
    pixels = np.arange(28 * 28, dtype=np.uint8).reshape(28, 28)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    wide = (np.arange(28 * 28, dtype=np.uint32).reshape(28, 28) * 80).astype(np.uint16)
    Image.fromarray(wide).save(tmp_path / "b.png")
    np.save(tmp_path / "c.npy", pixels)  # one uint8 image without a channel axis
    batch = np.random.default_rng(1).random((3, 28, 28, 1), dtype=np.float32)
    np.save(tmp_path / "d.npy", batch)

    x = read_inputs([tmp_path / n for n in ("a.png", "b.png", "c.npy", "d.npy")], image_shape=SHAPE)
    assert x.shape == (6, 28, 28, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, ..., 0], pixels / 255.0, atol=1e-7)
    np.testing.assert_allclose(x[1, ..., 0], wide / 65535.0, atol=1e-7)
    np.testing.assert_allclose(x[2, ..., 0], pixels / 255.0, atol=1e-7)
    np.testing.assert_array_equal(x[3:], batch)
    # Without image_shape, the first file sets the shape.
    assert read_inputs(tmp_path / "a.png").shape == (1, 28, 28, 1)

    (tmp_path / "sub").mkdir()
    Image.fromarray(pixels).save(tmp_path / "sub" / "a.png")
    x, names = read_named_inputs([tmp_path / "a.png", tmp_path / "d.npy", tmp_path / "c.npy",
                                  tmp_path / "sub" / "a.png"])
    assert len(x) == 6
    assert names == ["a", "d_0", "d_1", "d_2", "c", "a_2"]


def test_read_inputs_never_resizes_or_converts(tmp_path):
    Image.fromarray(np.zeros((28, 28, 3), np.uint8)).save(tmp_path / "rgb.png")
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(tmp_path / "big.png")
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "gray.png")
    with pytest.raises(ValueError, match=r"rgb\.png: image shape \(28, 28, 3\) does not match \(28, 28, 1\)"):
        read_inputs([tmp_path / "rgb.png"], image_shape=SHAPE)
    with pytest.raises(ValueError, match=r"big\.png: image shape \(32, 32, 1\) does not match \(28, 28, 1\)"):
        read_inputs([tmp_path / "gray.png", tmp_path / "big.png"])
    np.save(tmp_path / "wrong.npy", np.zeros((2, 30, 30), np.float32))
    with pytest.raises(ValueError, match=r"wrong\.npy: array of shape \(2, 30, 30\)"):
        read_inputs([tmp_path / "wrong.npy"], image_shape=SHAPE)


def test_read_inputs_errors(tmp_path):
    with pytest.raises(ValueError, match="no input files"):
        read_inputs([])
    with pytest.raises(FileNotFoundError, match="missing.png"):
        read_inputs([tmp_path / "missing.png"])
    (tmp_path / "x.tiff").write_bytes(b"")
    with pytest.raises(ValueError, match=r"x\.tiff: unsupported input type \.tiff"):
        read_inputs([tmp_path / "x.tiff"])
    np.save(tmp_path / "loud.npy", np.full((28, 28), 255.0, np.float32))
    with pytest.raises(ValueError, match=r"loud\.npy: float pixels must be in \[0, 1\]"):
        read_inputs([tmp_path / "loud.npy"])
    (tmp_path / "fake.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"fake\.png: cannot read image"):
        read_inputs([tmp_path / "fake.png"])


def test_read_inputs_jpeg_bmp_gif_npz_and_folders(tmp_path):
    rng = np.random.default_rng(2)
    gray = rng.integers(0, 256, (28, 28), dtype=np.uint8)
    Image.fromarray(gray).save(tmp_path / "a.bmp")
    Image.fromarray(gray).save(tmp_path / "b.gif")
    smooth = np.tile(np.linspace(0, 255, 28, dtype=np.uint8), (28, 1))
    Image.fromarray(smooth).save(tmp_path / "c.jpg", quality=95)
    batch = rng.integers(0, 256, (2, 28, 28, 1), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", x_test=batch, y_test=np.zeros(2))
    x, names = read_named_inputs([tmp_path / n for n in ("a.bmp", "b.gif", "c.jpg", "d.npz")],
                                 image_shape=SHAPE)
    assert x.shape == (5, 28, 28, 1) and names == ["a", "b", "c", "d_0", "d_1"]
    np.testing.assert_allclose(x[0, ..., 0], gray / 255.0, atol=1e-7)
    np.testing.assert_allclose(x[1, ..., 0], gray / 255.0, atol=1e-7)
    assert np.abs(x[2, ..., 0] - smooth / 255.0).max() < 0.05  # JPEG is lossy
    np.testing.assert_allclose(x[3:], batch / 255.0, atol=1e-7)

    folder = tmp_path / "photos"
    (folder / "inner").mkdir(parents=True)
    for name in ("z.png", "inner/y.jpeg"):
        Image.fromarray(gray).save(folder / name)
    (folder / "notes.txt").write_text("skipped")
    x, names = read_named_inputs([folder], image_shape=SHAPE)
    assert x.shape == (2, 28, 28, 1) and names == ["y", "z"]  # sorted by path: inner/y before z
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty: folder holds no images or arrays"):
        read_inputs([tmp_path / "empty"])


def test_read_inputs_resize_converts_size_and_channels(tmp_path):
    from keras_ae.data.images import conform_array

    rgb = np.random.default_rng(3).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "photo.png")
    with pytest.raises(ValueError, match=r"photo\.png: image shape \(40, 30, 3\) does not match "
                                         r"\(28, 28, 1\) \(pass resize=True / --resize"):
        read_inputs([tmp_path / "photo.png"], image_shape=SHAPE)
    x = read_inputs([tmp_path / "photo.png"], image_shape=SHAPE, resize=True)
    assert x.shape == (1, 28, 28, 1) and x.dtype == np.float32
    # the same pixels as training on a folder with --image-size 28x28 --color-mode grayscale
    np.testing.assert_array_equal(x, conform_array(rgb[None], (28, 28), 1) / np.float32(255))
    np.save(tmp_path / "big.npy", np.random.default_rng(4).random((3, 56, 56), dtype=np.float32))
    assert read_inputs([tmp_path / "big.npy"], image_shape=(14, 14, 3), resize=True).shape == (3, 14, 14, 3)
    with pytest.raises(ValueError, match="resize needs the image_shape"):
        read_inputs([tmp_path / "photo.png"], resize=True)
