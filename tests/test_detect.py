"""Anomaly detection: scores, fitted thresholds, the detect API and command, is_anomaly export."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import keras_ae
from keras_ae.analysis import detect
from keras_ae.cli import main
from keras_ae.data import DataError
from keras_ae.serving.export import export_saved_model, export_tflite, signature_names
from keras_ae.serving.predict import load_exported

from test_models import SMALL, small, structured_images


def noise_images(n, seed=1):
    """Random black and white pixels: nothing like the structured images the models learn."""
    return (np.random.default_rng(seed).random((n, *SMALL)) > 0.5).astype("float32")


@pytest.fixture(scope="module")
def normal():
    return structured_images(2400, shape=SMALL, seed=5)


@pytest.fixture(scope="module")
def ae(normal):
    model = small("seed", latent_dim=4)
    model.fit(normal[:1024], epochs=20, batch_size=64, verbose=0)
    return model


@pytest.fixture(scope="module")
def vae(normal):
    model = small("vae", latent_dim=4)
    model.fit(normal[:1024], epochs=20, batch_size=64, verbose=0)
    return model


# --- scores ------------------------------------------------------------------------------------
def test_reconstruction_scores_are_the_models_anomaly_score_in_any_batching(ae, normal):
    x = normal[:50]
    want = np.asarray(ae.anomaly_score(x))
    np.testing.assert_allclose(detect.anomaly_scores(ae, x), want, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(detect.anomaly_scores(ae, x, batch_size=7), want, rtol=1e-5, atol=1e-7)
    uint8 = np.round(x * 255).astype("uint8")
    assert detect.anomaly_scores(ae, uint8[..., 0]).shape == (50,)  # (N, H, W) uint8 works too


def test_elbo_score_is_deterministic_batch_independent_and_estimates_the_bound(vae, normal):
    x = normal[:40]
    scores = detect.anomaly_scores(vae, x, score="elbo")
    np.testing.assert_array_equal(scores, detect.anomaly_scores(vae, x, score="elbo"))
    reordered = detect.anomaly_scores(vae, x[::-1], score="elbo", batch_size=3)[::-1]
    np.testing.assert_allclose(reordered, scores, rtol=1e-5)
    # with many draws it agrees with the model's own Monte Carlo -ELBO
    many = detect.anomaly_scores(vae, x, score="elbo", elbo_samples=200)
    reference = -np.asarray(vae.elbo(x, samples=200, seed=3))
    np.testing.assert_allclose(many.mean(), reference.mean(), rtol=0.01)
    assert np.corrcoef(many, reference)[0, 1] > 0.98


def test_noise_scores_above_normal_images(ae, vae, normal):
    for model, score in ((ae, "reconstruction"), (vae, "elbo")):
        normal_scores = detect.anomaly_scores(model, normal[2000:2100], score=score)
        noise_scores = detect.anomaly_scores(model, noise_images(100), score=score)
        assert detect.ranking_metrics(normal_scores, noise_scores)["roc_auc"] > 0.95


def test_score_errors(ae, vae):
    with pytest.raises(ValueError, match="the elbo score needs a VariationalAutoencoder"):
        detect.anomaly_scores(ae, noise_images(2), score="elbo")
    with pytest.raises(ValueError, match="unknown score 'nll'"):
        detect.anomaly_scores(vae, noise_images(2), score="nll")
    with pytest.raises(DataError, match=r"images have shape \(28, 28, 1\) but the model takes \(12, 12, 1\)"):
        detect.anomaly_scores(ae, np.zeros((2, 28, 28, 1), "float32"))
    with pytest.raises(DataError, match="float images must lie in"):
        detect.anomaly_scores(ae, np.full((2, *SMALL), 2.0, "float32"))


# --- thresholds --------------------------------------------------------------------------------
@pytest.mark.parametrize("fit, expected_fpr", [(dict(fpr=0.05), 0.05), (dict(percentile=90), 0.10)])
def test_threshold_gives_the_expected_false_positive_rate_on_held_out_normal_data(
        ae, normal, fit, expected_fpr):
    threshold = detect.fit_threshold(ae, normal[:1200], **fit)
    assert threshold.images == 1200 and threshold.expected_fpr == pytest.approx(expected_fpr)
    held_out = detect.detect(ae, normal[1200:], threshold=threshold)
    # the empirical quantile of 1200 scores, checked on 1200 others: about 3 standard deviations
    assert abs(held_out.is_anomaly.mean() - expected_fpr) < 0.03
    assert detect.detect(ae, noise_images(200), threshold=threshold).is_anomaly.mean() > 0.9


def test_percentile_and_fpr_are_the_same_rule():
    scores = np.random.default_rng(0).gamma(2.0, size=1000)
    by_fpr = detect.threshold_from_scores(scores, fpr=0.02)
    by_percentile = detect.threshold_from_scores(scores, percentile=98)
    assert by_fpr[0] == pytest.approx(by_percentile[0])
    assert by_fpr[1:] == ("fpr", 0.02) and by_percentile[1:] == ("percentile", 98.0)
    assert detect.threshold_from_scores(scores)[1:] == ("percentile", detect.DEFAULT_PERCENTILE)
    assert np.mean(scores > by_fpr[0]) == pytest.approx(0.02, abs=0.001)


@pytest.mark.parametrize("kwargs, message", [
    (dict(fpr=1.5), r"fpr must be in \[0, 1\)"),
    (dict(percentile=0), r"percentile must be in \(0, 100\]"),
    (dict(fpr=0.1, percentile=90), "give percentile or fpr, not both"),
    (dict(fpr=0.001), "fpr 0.001 needs at least 1000 normal images"),
])
def test_threshold_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        detect.threshold_from_scores(np.arange(100.0), **kwargs)


def test_threshold_round_trip_and_file_checks(ae, normal, tmp_path):
    model_file = tmp_path / "model.keras"
    ae.save(model_file)
    threshold = detect.fit_threshold(ae, normal[:200], fpr=0.05, model_file=model_file,
                                     fitted_on="digits [validation]")
    path = threshold.save(tmp_path)
    assert path == tmp_path / "detector.json"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["detector.json", "model.keras"]  # no temp files
    assert detect.load_threshold(tmp_path) == threshold
    assert detect.load_threshold(model_file) == threshold
    assert json.loads(path.read_text())["score"] == "reconstruction"
    other = tmp_path / "other.keras"
    assert threshold.save(other) == tmp_path / "other.detector.json"

    model_file.write_bytes(model_file.read_bytes() + b"\0")  # the weights changed since the fit
    with pytest.raises(ValueError, match="was fitted for another model.keras"):
        detect.load_threshold(tmp_path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="is not a threshold file"):
        detect.load_threshold(tmp_path)
    path.write_text(json.dumps({**threshold.to_dict(), "score": "magic"}))
    with pytest.raises(ValueError, match="unknown score 'magic'"):
        detect.load_threshold(tmp_path)
    path.unlink()
    with pytest.raises(detect.NoThresholdError, match="has no fitted threshold.*--fit"):
        detect.load_threshold(tmp_path)


def test_detect_needs_a_threshold_for_a_model(ae):
    with pytest.raises(detect.NoThresholdError, match="needs threshold="):
        detect.detect(ae, noise_images(2))


# --- export ------------------------------------------------------------------------------------
@pytest.mark.parametrize("which, score", [("ae", "reconstruction"), ("vae", "elbo")])
def test_is_anomaly_export_matches_keras_and_the_threshold(which, score, request, normal, tmp_path):
    model = request.getfixturevalue(which)
    threshold = detect.fit_threshold(model, normal[:200], percentile=80, score=score)
    assert "is_anomaly" in signature_names(model, threshold)
    assert "is_anomaly" not in signature_names(model)
    images = np.concatenate([normal[200:264], noise_images(16)])
    want = detect.detect(model, images, threshold=threshold)
    assert 0 < want.is_anomaly.sum() < len(images)
    saved = export_saved_model(model, tmp_path / "sm", threshold=threshold)
    tflite = export_tflite(model, tmp_path / "model.tflite", threshold=threshold)
    # -ELBO is hundreds of nats: float32 rounding makes its tolerance relative
    tolerance = dict(atol=1e-4, rtol=0) if score == "reconstruction" else dict(atol=1e-4, rtol=1e-5)
    for path in (saved, tflite):
        got = load_exported(path).run("is_anomaly", image=images)
        assert got["is_anomaly"].dtype == np.bool_ and got["is_anomaly"].shape == (len(images),)
        np.testing.assert_allclose(got["score"], want.scores, **tolerance)
        away = np.abs(want.scores - threshold.threshold) > 1e-4 + 1e-5 * abs(threshold.threshold)
        np.testing.assert_array_equal(got["is_anomaly"][away], want.is_anomaly[away])
        np.testing.assert_array_equal(got["is_anomaly"], got["score"] > np.float32(threshold.threshold))


def test_threshold_with_a_savedmodel_source_is_refused(ae, normal, tmp_path):
    threshold = detect.fit_threshold(ae, normal[:200])
    saved = export_saved_model(ae, tmp_path / "sm")
    with pytest.raises(ValueError, match="threshold applies when exporting a model"):
        export_tflite(saved, tmp_path / "m.tflite", threshold=threshold)


# --- the command -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def npz_dataset(tmp_path_factory):
    images = (structured_images(1200, shape=SMALL, seed=2) * 255).astype("uint8")
    path = tmp_path_factory.mktemp("data") / "shapes.npz"
    np.savez(path, x_train=images[:1100], x_test=images[1100:])  # 110 validation images
    return str(path)


def _train(npz_dataset, run, *extra, epochs=1):
    assert main(["train", "--dataset", npz_dataset, "--epochs", str(epochs), "--latent-dim", "4",
                 "--output", str(run), "--quiet", *extra]) == 0


@pytest.fixture(scope="module")
def ae_run(npz_dataset, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "seed"
    _train(npz_dataset, run, "--model", "seed")
    return run


@pytest.fixture(scope="module")
def vae_run(npz_dataset, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "vae"
    _train(npz_dataset, run, "--model", "vae", epochs=5)
    return run


@pytest.fixture
def inputs(npz_dataset, tmp_path):
    """A folder with two normal images as PNG and .npy, and a noise image."""
    from PIL import Image

    folder = tmp_path / "inputs"
    folder.mkdir()
    normal_images = np.load(npz_dataset)["x_test"][:2]
    Image.fromarray(normal_images[0, ..., 0]).save(folder / "a_normal.png")
    np.save(folder / "b_normal.npy", normal_images[1])
    np.save(folder / "c_noise.npy", (noise_images(1)[0] * 255).astype("uint8"))
    (folder / "notes.txt").write_text("not an image")  # ignored in a folder
    return folder


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("keras-ae: error:"), err
    return err


def test_fit_then_detect_a_folder(ae_run, inputs, capsys):
    assert main(["detect", str(ae_run), "--fit", "--fpr", "0.02"]) == 0
    out = capsys.readouterr().out
    assert "fpr 0.02 of 110 normal images of shapes.npz [validation]" in out
    saved = json.loads((ae_run / "detector.json").read_text())
    assert saved["method"] == "fpr" and saved["level"] == 0.02 and saved["images"] == 110

    assert main(["detect", str(ae_run), "--input", str(inputs)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[:3]] == ["a_normal", "b_normal", "c_noise"]
    assert lines[2].split()[-1] == "ANOMALY"
    assert lines[3].startswith(f"{sum(line.endswith('ANOMALY') for line in lines[:3])} of 3 inputs")


def test_detect_json_matches_the_python_api(ae_run, inputs, capsys):
    assert main(["detect", str(ae_run), "--fit", "--percentile", "95", "--json", "--overwrite"]) == 0
    fitted = json.loads(capsys.readouterr().out)
    assert fitted["method"] == "percentile" and fitted["level"] == 95
    files = [str(inputs / "c_noise.npy"), str(inputs / "a_normal.png")]
    assert main(["detect", str(ae_run), "--input", *files, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in result["inputs"]] == ["c_noise", "a_normal"]
    from keras_ae.data.inputs import read_inputs

    found = detect.detect(ae_run, read_inputs(files))
    assert [row["score"] for row in result["inputs"]] == pytest.approx(found.scores.tolist(), rel=1e-6)
    assert [row["is_anomaly"] for row in result["inputs"]] == found.is_anomaly.tolist()
    assert result["threshold"]["threshold"] == fitted["threshold"]


def test_vae_elbo_threshold_and_its_export(vae_run, inputs, tmp_path, capsys):
    assert main(["detect", str(vae_run), "--fit", "--score", "elbo", "--percentile", "90"]) == 0
    assert "elbo score >" in capsys.readouterr().out
    assert main(["detect", str(vae_run), "--input", str(inputs / "c_noise.npy"), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["inputs"]
    assert row["is_anomaly"] is True
    tflite = tmp_path / "vae.tflite"
    assert main(["export", str(vae_run), "--format", "tflite", "--output", str(tflite)]) == 0
    assert "is_anomaly" in capsys.readouterr().out
    noise = np.load(inputs / "c_noise.npy")[None].astype("float32") / 255
    got = load_exported(tflite).run("is_anomaly", image=noise)
    assert got["score"][0] == pytest.approx(row["score"], rel=1e-5) and got["is_anomaly"][0]


def test_export_without_a_threshold_has_no_is_anomaly(ae_run, tmp_path, capsys):
    run = tmp_path / "plain"  # the same run, without a threshold
    run.mkdir()
    for name in ("config.json", "model.keras"):
        shutil.copy(ae_run / name, run / name)
    assert main(["export", str(run), "--output", str(tmp_path / "sm")]) == 0
    assert "is_anomaly" not in load_exported(tmp_path / "sm").signatures
    capsys.readouterr()
    assert main(["detect", str(run), "--input", str(tmp_path)]) == 2
    err = _one_line_error(capsys)
    assert "has no fitted threshold (detector.json)" in err and f"keras-ae detect {run} --fit" in err


@pytest.mark.parametrize("argv, message", [
    (["--fit", "--score", "elbo", "--overwrite"], "the elbo score needs a VariationalAutoencoder"),
    (["--input", "/no/such/file.npy"], "no input file /no/such/file.npy"),
    (["--input", "BAD_TXT"], "unsupported input type .txt"),
    (["--input", "WRONG_SHAPE"], "does not hold images of shape (12, 12, 1)"),
    (["--input", "EMPTY_DIR"], "folder holds no images or arrays"),
    ([], "give --input FILE_OR_FOLDER to detect anomalies, or --fit"),
    (["--fit", "--input", "x.npy"], "give --fit (fit a threshold) or --input (detect), not both"),
    (["--input", "x.npy", "--fpr", "0.1"], "--fpr applies to --fit"),
    (["--fit", "--fpr", "0.1", "--percentile", "90"], "not allowed with argument"),
    (["--fit", "--fpr", "0.001", "--overwrite"], "fpr 0.001 needs at least 1000 normal images"),
    (["--fit"], "detector.json already exists; pass --overwrite to replace it"),
])
def test_detect_errors_are_one_line(ae_run, tmp_path, argv, message, capsys):
    assert main(["detect", str(ae_run), "--fit", "--overwrite"]) == 0  # a threshold exists
    capsys.readouterr()
    (tmp_path / "bad.txt").write_text("hello")
    np.save(tmp_path / "wrong.npy", np.zeros((2, 5, 5), "uint8"))
    (tmp_path / "empty").mkdir()
    paths = {"BAD_TXT": tmp_path / "bad.txt", "WRONG_SHAPE": tmp_path / "wrong.npy",
             "EMPTY_DIR": tmp_path / "empty"}
    argv = [str(paths.get(a, a)) for a in argv]
    before = (ae_run / "detector.json").read_bytes()
    assert main(["detect", str(ae_run), *argv]) == 2
    assert message in _one_line_error(capsys)
    assert (ae_run / "detector.json").read_bytes() == before  # a failed fit keeps the old one
