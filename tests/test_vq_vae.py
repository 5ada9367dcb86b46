"""The VQ-VAE: nearest-code quantisation, straight-through gradients, the commitment loss,
codebook metrics, dead-code replacement (also on two replicas) and integer-code exports."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import keras
import keras_ae
from keras_ae.cli import main
from keras_ae.models.vq_vae import VQVAE
from keras_ae.serving.export import builtin_ops, export_saved_model, export_tflite
from keras_ae.serving.predict import load_exported

from harness import small, structured_images
from keras_ae.training.strategies import get_strategy


def test_codes_are_the_nearest_codebook_vectors_as_int32_indices():
    model = small("vq_vae")
    assert isinstance(model, VQVAE) and model.latent_shape == (3, 3, 4)
    assert model.code_shape == (3, 3) and model.code_bits == 9 * np.log2(16)
    x = structured_images(8)
    indices = model.encode(x)
    assert indices.dtype == "int32" and tuple(indices.shape) == (8, 3, 3)
    z_e = np.asarray(model.encoder(x)).reshape(-1, 4)
    codebook = np.asarray(model.quantizer.codebook)
    nearest = np.argmin(((z_e[:, None, :] - codebook[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(np.asarray(indices).ravel(), nearest)
    np.testing.assert_array_equal(model.quantized(x), codebook[nearest].reshape(8, 3, 3, 4))
    np.testing.assert_array_equal(model.decode(indices), model(x))
    assert model.features(x).shape == (8, 36)


def test_decode_takes_only_valid_code_indices():
    model = small("vq_vae")
    with pytest.raises(ValueError, match="decodes code indices \\(integers\\), got dtype float32"):
        model.decode(np.zeros((2, 3, 3), "float32"))
    with pytest.raises(ValueError, match=r"code indices of shape \(batch, 3, 3\), got \(2, 9\)"):
        model.decode(np.zeros((2, 9), "int32"))
    with pytest.raises(ValueError, match=r"code indices must be in \[0, 16\), got values in \[16, 16\]"):
        model.decode(np.full((1, 3, 3), 16, "int32"))


def _gradients(model, x, term):
    with tf.GradientTape() as tape:
        outputs = model.forward(tf.constant(x), training=True)
        value = model.loss_terms(x, x, outputs)[term]
    weights = {"encoder": model.encoder.trainable_weights, "codebook": [model.quantizer.codebook],
               "decoder": model.decoder.trainable_weights}
    grads = [None if g is None else tf.convert_to_tensor(g)  # the codebook's are IndexedSlices
             for g in tape.gradient(value, [w for group in weights.values() for w in group])]
    sizes = np.cumsum([0] + [len(group) for group in weights.values()])
    return {name: [g for g in grads[a:b]] for name, a, b in zip(weights, sizes, sizes[1:])}


def _norm(gradients):
    return sum(0.0 if g is None else float(tf.reduce_sum(tf.square(g))) for g in gradients)


def test_straight_through_and_commitment_gradients():
    x = structured_images(8)
    model = small("vq_vae")
    reconstruction = _gradients(model, x, "reconstruction_loss")
    # the decoder's gradient reaches the encoder through the quantisation, not the codebook
    assert _norm(reconstruction["encoder"]) > 0 and _norm(reconstruction["codebook"]) == 0
    vq = _gradients(model, x, "vq_loss")
    assert _norm(vq["codebook"]) > 0 and _norm(vq["decoder"]) == 0
    assert _norm(vq["encoder"]) > 0  # the commitment loss pulls the encoder to its codes
    uncommitted = small("vq_vae", commitment=0.0)
    uncommitted.set_weights(model.get_weights())
    vq0 = _gradients(uncommitted, x, "vq_loss")
    assert _norm(vq0["encoder"]) == 0  # β = 0: no gradient to the encoder from vq_loss
    np.testing.assert_allclose(vq0["codebook"][0], vq["codebook"][0], rtol=1e-6)
    # vq_loss = (1 + β) × the mean squared distance of the encoder's vectors to their codes
    outputs = model.forward(tf.constant(x))
    distance = float(np.mean((np.asarray(outputs["z_e"]) - np.asarray(outputs["z_q"])) ** 2))
    np.testing.assert_allclose(float(model.loss_terms(x, x, outputs)["vq_loss"]), 1.25 * distance,
                               rtol=1e-5)


def test_codebook_usage_and_perplexity_are_logged_over_each_epoch():
    x = structured_images(64)
    model = small("vq_vae", dead_code_steps=0)
    history = model.fit(x, epochs=2, batch_size=16, verbose=0, validation_data=(x, x)).history
    for key in ("codebook_usage", "perplexity", "val_codebook_usage", "val_perplexity"):
        assert len(history[key]) == 2 and all(np.isfinite(history[key]))
    counts = np.bincount(np.asarray(model.encode(x)).ravel(), minlength=16)
    p = counts[counts > 0] / counts.sum()
    logs = model.evaluate(x, batch_size=16, verbose=0, return_dict=True)  # one pass over x
    np.testing.assert_allclose(logs["codebook_usage"], np.mean(counts > 0), rtol=1e-6)
    np.testing.assert_allclose(logs["perplexity"], np.exp(-(p * np.log(p)).sum()), rtol=1e-5)
    held_out = model.held_out_metrics(x)
    np.testing.assert_allclose(held_out["perplexity"], logs["perplexity"], rtol=1e-5)
    assert held_out["code_bits"] == 36.0 and 0 < held_out["code_entropy_bits"] <= 36.0


def _fit_one_step(model, x):
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    model.fit(x, batch_size=len(x), epochs=1, verbose=0, shuffle=False)


def test_codes_unused_for_n_steps_are_replaced_by_the_worst_encoded_vectors():
    x = structured_images(16)
    model = small("vq_vae", dead_code_steps=1)
    before = np.asarray(model.quantizer.codebook)
    used = np.unique(np.asarray(model.encode(x)))
    z_e = np.asarray(model.encoder(x)).reshape(-1, 4)  # the step's encoder outputs
    _fit_one_step(model, x)
    after = np.asarray(model.quantizer.codebook)
    dead = np.setdiff1d(np.arange(16), used)
    assert len(dead) > 0
    # each dead code is now an encoder output of the step, a distinct one per code
    distances = ((after[dead][:, None, :] - z_e[None]) ** 2).sum(-1).min(axis=1)
    assert np.all(distances < 1e-3) and len(np.unique(after[dead], axis=0)) == len(dead)
    assert not np.allclose(after[used], before[used])  # the used codes moved by their gradient
    np.testing.assert_array_equal(model.quantizer.unused_steps, np.zeros(16))
    # the same seed gives the same codebook (no randomness in the replacement)
    again = small("vq_vae", dead_code_steps=1)
    _fit_one_step(again, x)
    np.testing.assert_array_equal(again.quantizer.codebook, after)


def test_dead_codes_are_counted_until_replaced():
    x = structured_images(16)
    model = small("vq_vae", dead_code_steps=3)
    used = np.unique(np.asarray(model.encode(x)))
    _fit_one_step(model, x)
    steps = np.asarray(model.quantizer.unused_steps)
    assert np.all(steps[used] == 0) and np.all(np.delete(steps, used) == 1)


def test_dead_code_replacement_on_two_replicas_equals_one_device():
    x = structured_images(16)
    initial = small("vq_vae", dead_code_steps=1, seed=0).get_weights()

    def step(strategy=None):
        with strategy.scope() if strategy else tf.name_scope("single"):
            model = small("vq_vae", dead_code_steps=1, seed=0)
            model.set_weights(initial)
        _fit_one_step(model, x)
        return model.get_weights()

    single, mirrored = step(), step(get_strategy("mirrored"))
    codebook = [i for i, w in enumerate(initial) if w.shape == (16, 4)]
    assert len(codebook) == 1
    replaced = np.abs(single[codebook[0]] - initial[codebook[0]]).max()
    assert replaced > 1e-2  # dead codes were replaced in this step
    for a, b in zip(single, mirrored):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_exports_take_and_give_int32_code_indices(tmp_path):
    x = structured_images(8)
    model = small("vq_vae")
    saved = export_saved_model(model, tmp_path / "saved")
    tflite = export_tflite(model, tmp_path / "model.tflite")
    ops = set(builtin_ops(tflite.read_bytes()))
    assert {"ARG_MIN", "GATHER"} <= ops and not any(op.startswith("custom:") for op in ops)
    indices = np.asarray(model.encode(x))
    for path in (saved, tflite):
        exported = load_exported(path)
        assert exported.inputs("decode") == {"indices": (None, 3, 3)}
        assert exported.input_dtypes("decode") == {"indices": "int32"}
        encoded = exported.run("encode", image=x)["indices"]
        assert encoded.dtype == np.int32
        np.testing.assert_array_equal(encoded, indices)
        np.testing.assert_allclose(exported.run("decode", indices=indices)["image"], model(x),
                                   atol=1e-5)
        with pytest.raises(ValueError, match="input 'indices' of 'decode' must be integers"):
            exported.run("decode", indices=indices.astype("float32"))


def test_cli_trains_evaluates_and_decodes_indices(tmp_path, capsys):
    images = (structured_images(96, shape=(28, 28, 1)) * 255).astype("uint8")
    np.savez(tmp_path / "d.npz", x_train=images, y_train=np.zeros(96, "int64"))
    run = tmp_path / "run"
    assert main(["train", "--model", "vq_vae", "--dataset", str(tmp_path / "d.npz"), "--epochs", "1",
                 "--codebook-size", "8", "--latent-dim", "4", "--dead-code-steps", "5",
                 "--output", str(run), "--quiet"]) == 0
    assert json.loads((run / "config.json").read_text())["options"] == {
        "loss": "mse", "codebook_size": 8, "commitment": 0.25, "dead_code_steps": 5}
    assert main(["evaluate", str(run), "--split", "validation", "--no-pca"]) == 0
    assert re.search(r"code, bits per image +147\n", capsys.readouterr().out)  # 7 x 7 codes of 3 bits
    exported = tmp_path / "model.tflite"
    assert main(["export", str(run), "--format", "tflite", "--output", str(exported)]) == 0
    model = keras_ae.load_model(run)
    codes = np.asarray(model.encode(images[:3]))
    np.save(tmp_path / "codes.npy", codes)
    capsys.readouterr()
    assert main(["predict", str(exported), "--signature", "decode",
                 "--input", str(tmp_path / "codes.npy"), "--output", str(tmp_path / "out")]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "out" / "image.npy"), model.decode(codes),
                               atol=1e-5)
    np.save(tmp_path / "bad.npy", codes.astype("float32"))
    assert main(["predict", str(exported), "--signature", "decode",
                 "--input", str(tmp_path / "bad.npy"), "--output", str(tmp_path / "out2")]) == 2
    assert "must be integers (code indices)" in capsys.readouterr().err


def test_evaluate_clusters_and_probes_the_flat_codes_of_a_labelled_run(tmp_path):
    """The few-label classifiers and clustering take a VQ-VAE's feature map as flat codes, so
    `keras-ae evaluate --split validation --report` scores them and writes the report."""
    images = (structured_images(120, shape=(28, 28, 1)) * 255).astype("uint8")
    np.savez(tmp_path / "d.npz", x_train=images, y_train=np.arange(120) % 3)
    run = tmp_path / "run"
    assert main(["train", "--model", "vq_vae", "--dataset", str(tmp_path / "d.npz"), "--epochs", "1",
                 "--codebook-size", "8", "--latent-dim", "4", "--output", str(run), "--quiet"]) == 0
    report = tmp_path / "report.html"
    done = subprocess.run(
        [str(Path(sys.executable).with_name("keras-ae")), "evaluate", str(run), "--split",
         "validation", "--labels-per-class", "5", "--fine-tune-epochs", "1", "--json",
         "--report", str(report)],
        capture_output=True, text=True, timeout=300, env={**os.environ})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["clustering"]["codes"]["dims"] == 7 * 7 * 4  # the quantised map, flattened
    assert {"probe_codes", "fine_tuned", "from_scratch"} <= set(result["probes"])
    assert result["report"] == str(report) and "<img" in report.read_text()


def test_pictures_map_the_quantised_codes_and_refuse_to_interpolate_indices(tmp_path):
    from keras_ae.visualization import plots

    x = structured_images(16)
    model = small("vq_vae")
    assert plots.latent_codes(model, x).shape == (16, 36)
    figure = plots.latent(model, x, np.arange(16) % 2, method="pca", verbose=0)
    assert "16 latent codes (36-d)" in figure._suptitle.get_text()
    with pytest.raises(ValueError, match="interpolation needs a continuous latent code; 'vq_vae' "
                                         r"\(VQVAE\) decodes discrete codes \(int32\)"):
        plots.interpolate(model, x[:2], x[2:4])
