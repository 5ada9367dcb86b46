"""The one-class autoencoder (keras_ae.models.one_class): its memory filled by `adapt` (and by
train() from the training split), kept by saving and resuming, its score through `keras-ae
detect` and the exports, and every bad option in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors

import keras_ae
from keras_ae.analysis import detect
from keras_ae.cli import main
from keras_ae.models import NotAdaptedError
from keras_ae.serving.export import export_tflite
from keras_ae.serving.predict import load_exported
from keras_ae.training.train import train

from detections import noise_images
from harness import small, small_config, structured_images


def test_a_model_that_remembered_nothing_says_so():
    model = small("one_class")
    assert model.remembered == 0 and model.default_score == "neighbours"
    with pytest.raises(NotAdaptedError, match=r"call model.adapt\(normal_images\)"):
        model.anomaly_score(structured_images(2))
    model.reconstruction_score(structured_images(2))  # the reconstruction score needs no memory
    assert model.adapt((structured_images(20) * 255).astype("uint8")) == 20  # uint8 converts
    assert model.anomaly_score(structured_images(2)).shape == (2,)


def test_the_score_separates_new_kinds_of_images():
    model = small("one_class")
    model.adapt(structured_images(64, seed=0))
    normal = np.asarray(model.anomaly_score(structured_images(100, seed=1)))
    odd = np.asarray(model.anomaly_score(noise_images(100)))
    assert roc_auc_score(np.r_[np.zeros(100), np.ones(100)], np.r_[normal, odd]) > 0.99


def _npz(tmp_path, n=300):
    path = tmp_path / "normal.npz"
    np.savez(path, images=(structured_images(n, seed=3) * 255).astype("uint8"))
    return path


def test_train_remembers_the_training_split_and_saves_it(tmp_path):
    config = small_config("one_class", dataset=str(_npz(tmp_path)), epochs=1, seed=0,
                          validation_fraction=0.1, memory_size=1000)
    result = train(config, tmp_path / "run", verbose=0)
    assert result.model.remembered == 270  # the 300 images less the validation split
    loaded = keras_ae.load_model(tmp_path / "run")
    assert loaded.remembered == 270
    x = structured_images(8, seed=5)
    np.testing.assert_array_equal(loaded.anomaly_score(x), result.model.anomaly_score(x))
    more = train(config.replace(epochs=2), tmp_path / "run", verbose=0)  # trained on
    np.testing.assert_array_equal(np.asarray(more.model.memory.rows),
                                  np.asarray(result.model.memory.rows))


def test_a_memory_smaller_than_the_data_holds_a_shuffled_share(tmp_path):
    path = _npz(tmp_path)
    config = small_config("one_class", dataset=str(path), epochs=1, seed=0, memory_size=50,
                          validation_fraction=0.1)
    model = train(config, verbose=0).model
    assert model.remembered == 50
    pool = np.load(path)["images"].astype("float32") / 255
    features = np.asarray(model.memory.features(pool))
    rows = np.asarray(model.memory.rows)
    nearest = NearestNeighbors(n_neighbors=1).fit(features).kneighbors(rows)
    assert nearest[0].max() < 1e-5  # each row is one of the images
    assert len(set(nearest[1].ravel())) == 50 and sorted(nearest[1].ravel()) != list(range(50))


def test_detect_fits_and_flags_with_the_neighbours_score(tmp_path, capsys):
    run = tmp_path / "run"
    config = small_config("one_class", dataset=str(_npz(tmp_path, 1200)), epochs=1, seed=0)
    train(config, run, verbose=0)
    capsys.readouterr()
    assert main(["detect", str(run), "--fit", "--json"]) == 0
    fitted = json.loads(capsys.readouterr().out)
    assert fitted["score"] == "neighbours"
    inputs = tmp_path / "inputs.npz"
    np.savez(inputs, images=np.r_[structured_images(20, seed=7), noise_images(20)])
    assert main(["detect", str(run), "--input", str(inputs), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["inputs"]
    flagged = np.array([row["is_anomaly"] for row in rows])
    assert flagged[20:].all() and flagged[:20].mean() < 0.2
    model = keras_ae.load_model(run)
    found = detect.detect(run, np.load(inputs)["images"])
    np.testing.assert_allclose([row["score"] for row in rows], found.scores, rtol=1e-6)
    np.testing.assert_allclose(found.scores, np.asarray(model.anomaly_score(np.load(inputs)["images"])),
                               rtol=1e-6)
    # the reconstruction score stays available
    assert main(["detect", str(run), "--fit", "--overwrite", "--score", "reconstruction"]) == 0
    assert "reconstruction score >" in capsys.readouterr().out


def test_the_exports_score_with_the_memory(tmp_path):
    model = small("one_class")
    model.adapt(structured_images(64, seed=0))
    x = np.r_[structured_images(4, seed=1), noise_images(4)]
    threshold = detect.fit_threshold(model, structured_images(100, seed=2))
    path = export_tflite(model, tmp_path / "model.tflite", threshold=threshold)
    exported = load_exported(path)
    np.testing.assert_allclose(exported.run("anomaly_score", image=x)["score"],
                               np.asarray(model.anomaly_score(x)), atol=1e-4)
    flags = exported.run("is_anomaly", image=x)["is_anomaly"]
    np.testing.assert_array_equal(flags, threshold.decide(np.asarray(model.anomaly_score(x))))


def test_scores_a_model_lacks_are_refused(tmp_path):
    with pytest.raises(ValueError, match="the neighbours score needs a OneClassAutoencoder"):
        detect.anomaly_scores(small("seed"), structured_images(2), score="neighbours")
    with pytest.raises(ValueError, match="the elbo score needs a VariationalAutoencoder"):
        detect.anomaly_scores(small("one_class"), structured_images(2), score="elbo")


@pytest.mark.parametrize("argv, message", [
    (["--neighbours", "0"], "neighbours must be"),
    (["--memory-size", "3"], "neighbours (5) cannot exceed memory_size (3)"),
    (["--blur", "-1"], "blur must be"),
])
def test_bad_one_class_options_are_one_line(tmp_path, argv, message, capsys):
    run = tmp_path / "run"
    assert main(["train", "--model", "one_class", "--dataset", str(_npz(tmp_path)),
                 "--output", str(run), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not run.exists()


def test_detect_refuses_the_neighbours_score_for_another_model(trained_run, capsys):
    capsys.readouterr()
    assert main(["detect", str(trained_run), "--fit", "--score", "neighbours"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the neighbours score needs a OneClassAutoencoder" in err[0], err
    assert not (trained_run / "detector.json").exists()
