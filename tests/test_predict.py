"""Running exported models, reading inputs and writing outputs."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import keras_ae
from keras_ae.serving.export import export_saved_model, export_tflite
from keras_ae.serving.predict import (SavedModelRunner, TFLiteRunner, load_exported, parity,
                                      read_inputs, read_named_inputs, write_outputs)

SHAPE = (28, 28, 1)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(0).random((6, *SHAPE), dtype=np.float32)


@pytest.fixture(scope="module")
def vae_exports(tmp_path_factory):
    """A small dense VAE (untrained: exported weights are what matters) as both formats."""
    model = keras_ae.build("vae", hidden_units=(32,), latent_dim=3)
    root = tmp_path_factory.mktemp("vae")
    saved = export_saved_model(model, root / "saved")
    return model, saved, export_tflite(saved, root / "model.tflite")


# --- load_exported / run -----------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["savedmodel", "tflite"])
def test_load_exported_runs_every_signature_at_any_batch(fmt, vae_exports, images):
    model, saved, tflite = vae_exports
    exported = load_exported(saved if fmt == "savedmodel" else tflite)
    assert isinstance(exported, SavedModelRunner if fmt == "savedmodel" else TFLiteRunner)
    assert exported.format == fmt
    assert exported.signatures == ("anomaly_score", "decode", "encode", "reconstruct", "sample")
    assert exported.image_shape == SHAPE
    assert exported.inputs("decode") == {"z": (None, 3)}
    assert exported.outputs("encode") == ("z_log_var", "z_mean")

    full = exported.run("reconstruct", image=images)["image"]
    np.testing.assert_allclose(full, np.asarray(model(images)), atol=1e-5)
    # Batches of other sizes (TFLite resizes its input tensors) give the same per-sample results.
    for start, stop in ((0, 1), (1, 4), (4, 6), (0, 1)):
        part = exported.run("reconstruct", image=images[start:stop])["image"]
        assert part.shape == (stop - start, *SHAPE)
        np.testing.assert_allclose(part, full[start:stop], atol=1e-6)
    score = exported.run("anomaly_score", image=images[:2])["score"]
    np.testing.assert_allclose(score, np.asarray(model.anomaly_score(images[:2])), rtol=1e-5, atol=1e-6)
    noise = np.ones((2, 3), np.float32)
    np.testing.assert_allclose(exported.run("sample", noise=noise)["image"],
                               np.asarray(model.decode(noise)), atol=1e-5)


@pytest.mark.parametrize("fmt", ["savedmodel", "tflite"])
def test_run_goes_through_large_inputs_in_batches(fmt, vae_exports, images, monkeypatch):
    model, saved, tflite = vae_exports
    exported = load_exported(saved if fmt == "savedmodel" else tflite)
    whole = exported.run("encode", image=images)
    calls = []
    original = type(exported)._run_batch

    def counted(self, signature, arrays):
        calls.append(len(arrays["image"]))
        return original(self, signature, arrays)

    monkeypatch.setattr(type(exported), "_run_batch", counted)
    monkeypatch.setattr(exported, "batch_size", 4)
    batched = exported.run("encode", image=images)
    assert calls == [4, 2]
    for key in whole:
        np.testing.assert_allclose(batched[key], whole[key], atol=1e-6)


def test_tflite_runs_on_every_core_by_default(vae_exports):
    import os

    assert load_exported(vae_exports[2]).num_threads == os.cpu_count()


@pytest.mark.parametrize("fmt", ["savedmodel", "tflite"])
def test_run_rejects_bad_calls(fmt, vae_exports, images):
    _, saved, tflite = vae_exports
    exported = load_exported(saved if fmt == "savedmodel" else tflite)
    with pytest.raises(ValueError, match="no signature 'generate'.*anomaly_score, decode"):
        exported.run("generate", image=images)
    with pytest.raises(ValueError, match="takes inputs z, got image"):
        exported.run("decode", image=images)
    with pytest.raises(ValueError, match=r"shape \(batch, 28, 28, 1\), got \(6, 28, 28\)"):
        exported.run("reconstruct", image=images[..., 0])
    with pytest.raises(ValueError, match="empty batch"):
        exported.run("reconstruct", image=images[:0])
    with pytest.raises(ValueError, match="must be float32.*got uint8"):
        exported.run("reconstruct", image=(images * 255).astype(np.uint8))


def test_load_exported_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no exported model"):
        load_exported(tmp_path / "missing.tflite")
    (tmp_path / "folder").mkdir()
    with pytest.raises(ValueError, match="not a SavedModel"):
        load_exported(tmp_path / "folder")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ValueError, match="neither a SavedModel directory nor a .tflite"):
        load_exported(tmp_path / "notes.txt")
    (tmp_path / "broken.tflite").write_bytes(b"not a flatbuffer")
    with pytest.raises(ValueError, match="cannot load TFLite model"):
        load_exported(tmp_path / "broken.tflite")


def test_parity_reports_every_signature(vae_exports, images):
    model, saved, tflite = vae_exports
    for path in (saved, tflite):
        diffs = parity(model, path, images)
        assert set(diffs) == {"anomaly_score", "decode", "encode", "reconstruct", "sample"}
        assert max(diffs.values()) <= 1e-4
    other = keras_ae.build("vae", hidden_units=(32,), latent_dim=3, seed=7)
    assert max(parity(other, tflite, images).values()) > 1e-3  # a different model is caught


# --- read_inputs -------------------------------------------------------------------------------
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


# --- write_outputs -----------------------------------------------------------------------------
def test_write_outputs_npy_and_png_round_trip(tmp_path, images):
    outputs = {"image": images[:3], "score": np.array([0.1, 0.2, 0.3], np.float32)}
    written = write_outputs(outputs, tmp_path / "out", names=["one", "two", "three"])
    out = tmp_path / "out"
    assert set(written) == {out / "image.npy", out / "score.npy", out / "image" / "one.png",
                            out / "image" / "two.png", out / "image" / "three.png"}
    np.testing.assert_array_equal(np.load(out / "image.npy"), images[:3])
    np.testing.assert_array_equal(np.load(out / "score.npy"), outputs["score"])
    back = read_inputs([out / "image" / f"{n}.png" for n in ("one", "two", "three")], image_shape=SHAPE)
    assert np.abs(back - images[:3]).max() <= 0.5 / 255 + 1e-6
    assert not (out / "score").exists()  # scores are not images

    default = write_outputs({"image": images[:2]}, tmp_path / "default")
    assert tmp_path / "default" / "image" / "0001.png" in default


def test_write_outputs_refuses_to_overwrite(tmp_path, images):
    out = tmp_path / "out"
    (out / "image").mkdir(parents=True)
    (out / "image" / "0001.png").write_bytes(b"keep")
    with pytest.raises(FileExistsError, match="0001.png already exist"):
        write_outputs({"image": images[:2], "z": np.zeros((2, 3))}, out)
    assert sorted(p.name for p in out.rglob("*")) == ["0001.png", "image"]  # nothing written
    assert (out / "image" / "0001.png").read_bytes() == b"keep"
    write_outputs({"image": images[:2]}, out, overwrite=True)
    assert read_inputs(out / "image" / "0001.png").shape == (1, 28, 28, 1)
    with pytest.raises(ValueError, match="2 names for outputs of batch size 3"):
        write_outputs({"image": images[:3]}, tmp_path / "other", names=["a", "b"])
