"""Running exported models (keras_ae.serving.predict)."""

from __future__ import annotations

import numpy as np
import pytest

import keras_ae
from keras_ae.serving.export import export_saved_model, export_tflite
from keras_ae.serving.predict import SavedModelRunner, TFLiteRunner, load_exported, parity

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
