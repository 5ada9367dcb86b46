"""The one-class autoencoder (keras_ae.models.one_class) and its memory (keras_ae.models.memory):
distances equal to scikit-learn's nearest neighbours on the same features, the memory filled by
`adapt` (and by train() from the training split), kept by saving and resuming, its score through
`keras-ae detect` and the exports, and every bad option in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors

import keras_ae
from keras_ae.analysis import detect
from keras_ae.cli import main
from keras_ae.models import NeighbourMemory, NotAdaptedError
from keras_ae.models.memory import gaussian_kernel
from keras_ae.serving.export import export_tflite
from keras_ae.serving.predict import load_exported
from keras_ae.training.train import train

from detections import noise_images
from harness import SMALL, small, small_config, structured_images


def _features(images, sigma, cell):
    """The memory's features the scipy way: a zero-padded Gaussian blur, cell means."""
    x = gaussian_filter(images[..., 0], (0, sigma, sigma), mode="constant", truncate=3.0)
    n, h, w = x.shape
    return x.reshape(n, h // cell, cell, w // cell, cell).mean((2, 4)).reshape(n, -1)


@pytest.mark.parametrize("shape, cell", [((12, 12, 1), 1), ((28, 28, 1), 2)])
def test_distances_are_scikit_learns_nearest_neighbours(shape, cell):
    normal = structured_images(200, shape=shape, seed=0)
    new = structured_images(50, shape=shape, seed=1)
    memory = NeighbourMemory(size=300, neighbours=5, blur=1.0)
    assert memory.adapt(normal) == 200 and memory.remembered == 200
    assert memory.cell == cell
    want = NearestNeighbors(n_neighbors=5).fit(_features(normal, 1.0, cell)).kneighbors(
        _features(new, 1.0, cell))[0].mean(axis=1)
    np.testing.assert_allclose(np.asarray(memory(new)), want, atol=1e-4, rtol=0)


def test_the_gaussian_kernel():
    np.testing.assert_array_equal(gaussian_kernel(0.0), np.ones((1, 1), np.float32))
    kernel = gaussian_kernel(1.0)
    assert kernel.shape == (7, 7) and abs(kernel.sum() - 1) < 1e-6
    assert kernel[3, 3] == kernel.max() and np.allclose(kernel, kernel.T)


def test_adapt_keeps_the_first_images_up_to_its_size_and_replaces_them():
    images = structured_images(40, seed=0)
    memory = NeighbourMemory(size=16, neighbours=2, blur=0.0)
    batches = [images[i:i + 7] for i in range(0, 40, 7)]
    assert memory.adapt(iter(batches)) == 16
    # an image of the first 16 is at distance 0 from itself, one after them is not
    assert float(memory(images[3:4])[0]) < float(memory(images[30:31])[0])
    np.testing.assert_allclose(np.asarray(memory.rows)[:16], images[:16].reshape(16, -1), atol=1e-6)
    assert memory.adapt(images[20:25]) == 5 and memory.remembered == 5
    assert not np.asarray(memory.rows)[5:].any()
    with pytest.raises(ValueError, match="needs at least 2 images, got 1"):
        memory.adapt(images[:1])
    assert memory.remembered == 5  # unchanged


@pytest.mark.parametrize("kwargs, message", [
    ({"size": 0}, "memory size must be a positive"),
    ({"size": 4, "neighbours": 5}, "neighbours must be a whole number from 1 to the memory size"),
    ({"neighbours": 0}, "neighbours must be a whole number"),
    ({"blur": -1.0}, "blur must be a finite number"),
])
def test_a_bad_memory_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NeighbourMemory(**kwargs)


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
