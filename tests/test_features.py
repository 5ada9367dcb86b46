"""keras_ae.analysis.features: the encoder as a Keras model, clustering scores and few-label
probes."""

import keras
import numpy as np
import pytest

import keras_ae
from keras_ae.analysis import features
from keras_ae.data import DataError

SHAPE = (12, 12, 1)


def blobs(n_per_class=30, classes=3, seed=0):
    """Images of `classes` kinds (a bright square in a different corner each) with noise, and
    their labels: easy to tell apart for pixels, codes and classifiers alike."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0.0, 0.2, (n_per_class * classes, *SHAPE)).astype("float32")
    labels = np.repeat(np.arange(classes), n_per_class)
    corners = [(0, 0), (0, 6), (6, 0), (6, 6)]
    for i, label in enumerate(labels):
        r, c = corners[label]
        images[i, r:r + 6, c:c + 6] = rng.uniform(0.8, 1.0, (6, 6, 1))
    order = rng.permutation(len(labels))
    return images[order], labels[order]


def tiny(name="seed", **overrides):
    small = {"conv_filters": (4, 8), "latent_dim": 3}
    small["hidden_units"] = (8,) if name in ("conv_vae",) else (16,)
    return keras_ae.build(name, input_shape=SHAPE, **{**small, **overrides})


def test_clustering_accuracy_ignores_cluster_names():
    labels = np.array([0, 0, 1, 1, 2, 2, 2])
    renamed = np.array([2, 2, 0, 0, 1, 1, 1])
    assert features.clustering_accuracy(labels, renamed) == 1.0
    # one sample in the wrong cluster: the best matching still maps 2->0, 0->1, 1->2
    assert features.clustering_accuracy(labels, [2, 2, 0, 0, 1, 1, 0]) == pytest.approx(6 / 7)
    # more clusters than classes: the extra cluster's samples count as wrong
    assert features.clustering_accuracy(labels, [0, 0, 1, 1, 2, 2, 3]) == pytest.approx(6 / 7)


def test_cluster_finds_separated_groups_and_nmi_is_bounded():
    rng = np.random.default_rng(0)
    labels = np.repeat([4, 7, 9], 20)
    centres = {4: (0, 0), 7: (10, 0), 9: (0, 10)}
    codes = np.array([centres[y] for y in labels]) + rng.normal(0, 0.5, (60, 2))
    result = features.cluster(codes, labels)
    assert result.k == 3 and result.dims == 2 and result.clusters.shape == (60,)
    assert result.accuracy == 1.0 and result.nmi == pytest.approx(1.0)
    noise = features.cluster(rng.normal(size=(60, 2)), labels, k=3)
    assert 0.0 <= noise.nmi < 0.5 and 1 / 3 <= noise.accuracy < 1.0
    assert set(result.as_dict()) == {"accuracy", "nmi", "k", "dims"}


def test_fit_clusterer_assigns_new_codes_with_and_without_umap():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0, 0], [8, 0, 0], [0, 8, 0]], dtype=float)

    def codes(n, seed):
        labels = np.repeat([0, 1, 2], n)
        return centres[labels] + np.random.default_rng(seed).normal(0, 0.5, (3 * n, 3)), labels

    (train, _), (test, test_labels) = codes(30, 1), codes(10, 2)
    for manifold, dims in ((None, 3), ("umap", 2)):
        clusterer = features.fit_clusterer(train, 3, manifold=manifold, dims=dims, seed=0)
        assert clusterer.dims == dims and clusterer.features == 3
        scores = features.score_clusters(test_labels, clusterer.predict(test), clusterer.dims)
        assert scores.accuracy == 1.0 and scores.k == 3 and scores.dims == dims
    with pytest.raises(ValueError, match="codes have 2 features but the clusterer was fitted on 3"):
        clusterer.predict(rng.normal(size=(4, 2)))


def test_compare_clustering_with_umap_fits_on_the_training_images():
    x, y = blobs(20, seed=3)
    model = tiny("seed", latent_dim=3)
    result = features.compare_clustering(model, x, y, train_images=blobs(20, seed=4)[0],
                                         manifold="umap")
    assert set(result) == {"codes", "codes_umap", "pixels", "pca"}
    assert result["codes_umap"].dims == 3 and result["codes_umap"].clusters.shape == (60,)


@pytest.mark.parametrize("call, message", [
    (lambda: features.cluster(np.zeros((5, 2)), [0, 1, 0]), "found 3 labels for 5 images"),
    (lambda: features.cluster(np.zeros((5, 2)), [0, 1, 0, 1, 0], k=9), "k must be between 1"),
    (lambda: features.cluster(np.full((2, 2), np.nan), [0, 1]), "codes contain NaN"),
    (lambda: features.fit_clusterer(np.zeros((5, 2)), 2, manifold="tsne"),
     "unknown manifold 'tsne'; choose umap or None"),
    (lambda: features.fit_clusterer(np.zeros((8, 2)), 2, manifold="umap"),
     "a UMAP embedding with 10 neighbours needs more than 10 codes, got 8"),
    (lambda: features.fit_clusterer(np.zeros((8, 2)), 9), "k must be between 1 and the number"),
    (lambda: features.few_labels([0, 1], per_class=0), "per_class must be >= 1"),
    (lambda: features.linear_probe(np.zeros((4, 2)), [1] * 4, np.zeros((2, 2)), [1, 1]),
     "at least two classes"),
])
def test_bad_input_is_a_value_error_naming_it(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_few_labels_draws_per_class_reproducibly():
    labels = np.repeat([0, 1, 2], [10, 10, 2])
    picked = features.few_labels(labels, per_class=3, seed=5)
    assert np.bincount(labels[picked]).tolist() == [3, 3, 2]  # a small class gives all it has
    assert np.array_equal(picked, features.few_labels(labels, per_class=3, seed=5))
    assert not np.array_equal(picked, features.few_labels(labels, per_class=3, seed=6))


@pytest.mark.parametrize("name", ["seed", "conv_vae"])
def test_encoder_layer_gives_the_codes_and_trains_in_a_users_model(name):
    model = tiny(name)
    x, y = blobs()
    encoder = features.encoder_layer(model)
    np.testing.assert_allclose(encoder.predict(x, verbose=0), model.encode(x), atol=1e-6)
    np.testing.assert_allclose(features.encode(model, x), model.encode(x), atol=1e-6)

    inputs = keras.Input(SHAPE)
    h = keras.layers.Dense(16, activation="relu")(encoder(inputs))
    users = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h))
    users.compile("adam", "sparse_categorical_crossentropy")
    before = model.encoder.get_weights()
    history = users.fit(x, y, epochs=8, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    # the copy trained; the autoencoder's own encoder is untouched
    assert not np.allclose(encoder.get_weights()[0], before[0])
    for kept, now in zip(before, model.encoder.get_weights()):
        np.testing.assert_array_equal(kept, now)


def test_frozen_encoder_layer_does_not_train():
    model = tiny()
    encoder = features.encoder_layer(model, trainable=False)
    inputs = keras.Input(SHAPE)
    users = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(encoder(inputs)))
    users.compile("adam", "sparse_categorical_crossentropy")
    x, y = blobs()
    users.fit(x, y, epochs=2, verbose=0)
    for kept, now in zip(model.encoder.get_weights(), encoder.get_weights()):
        np.testing.assert_array_equal(kept, now)
    assert len(users.trainable_weights) == 2  # the head only


def test_encoder_layer_loads_a_saved_model(tmp_path):
    model = tiny()
    model.save(tmp_path / "m.keras")
    x, _ = blobs()
    np.testing.assert_allclose(features.encoder_layer(tmp_path / "m.keras").predict(x, verbose=0),
                               model.encode(x), atol=1e-6)
    with pytest.raises(ValueError, match="expected a keras_ae autoencoder"):
        features.encoder_layer(keras.Sequential([keras.layers.Dense(2)]))


def test_classifier_starts_from_the_encoder_or_from_scratch():
    model = tiny("conv")
    model.fit(blobs()[0], epochs=1, batch_size=16, verbose=0)
    pretrained = features.classifier(model, 3).get_layer("encoder").get_weights()
    fresh = features.classifier(model, 3, pretrained=False).get_layer("encoder").get_weights()
    for want, got, new in zip(model.encoder.get_weights(), pretrained, fresh):
        np.testing.assert_array_equal(want, got)
    kernels = [w for w in model.encoder.get_weights() if w.ndim > 1]
    assert not any(np.allclose(k, f) for k, f in zip(kernels, [w for w in fresh if w.ndim > 1]))


def test_fine_tune_starts_from_the_encoders_weights():
    model = tiny("conv")
    x, y = blobs()
    model.fit(x, epochs=1, batch_size=16, verbose=0)  # trained weights differ from any fresh init
    # with a zero learning rate nothing moves: the fine-tuned encoder still is the trained one
    still = features.fine_tune(model, x, y, x, y, epochs=1, learning_rate=0.0)
    for want, got in zip(model.encoder.get_weights(),
                         still.classifier.get_layer("encoder").get_weights()):
        np.testing.assert_array_equal(want, got)
    scratch = features.fine_tune(model, x, y, x, y, epochs=1, learning_rate=0.0, pretrained=False)
    assert not np.allclose(model.encoder.get_weights()[0],
                           scratch.classifier.get_layer("encoder").get_weights()[0])


def test_probes_run_and_return_accuracies():
    model = tiny("conv")
    model.fit(*blobs(seed=1)[:1], epochs=3, batch_size=16, verbose=0)
    (x, y), (test_x, test_y) = blobs(20, seed=2), blobs(10, seed=3)
    result = features.compare_probes(model, x, y, test_x, test_y, per_class=5, epochs=15)
    assert result["labels_per_class"] == 5 and result["labelled_images"] == 15
    assert result["fewest_labels_of_a_class"] == 5
    scarce = features.compare_probes(model, x, y, test_x, test_y, per_class=25, epochs=1)
    assert scarce["labels_per_class"] == scarce["fewest_labels_of_a_class"] == 20  # all there are
    assert scarce["labelled_images"] == 60
    for key in ("probe_codes", "probe_pixels", "fine_tuned", "from_scratch"):
        assert 0.0 <= result[key] <= 1.0
    assert result["probe_pixels"] == 1.0  # the corners are linearly separable
    tuned = features.fine_tune(model, x, y, test_x, test_y, epochs=15)
    assert tuned.history["loss"][-1] < tuned.history["loss"][0]
    assert tuned.accuracy > 0.5 and tuned.classifier.output_shape == (None, 3)  # chance: 1/3


def test_compare_clustering_scores_codes_pixels_and_pca():
    model = tiny("seed")
    x, y = blobs(20)
    result = features.compare_clustering(model, x, y, train_images=blobs(20, seed=4)[0])
    assert set(result) == {"codes", "pixels", "pca"}
    assert result["codes"].dims == 3 and result["pca"].dims == 3 and result["pixels"].dims == 144
    assert result["pixels"].accuracy == 1.0  # the groups are far apart in pixel space
    for r in result.values():
        assert 0.0 <= r.accuracy <= 1.0 and 0.0 <= r.nmi <= 1.0 + 1e-9


def test_images_are_checked():
    with pytest.raises(DataError, match="float images must lie in"):
        features.encode(tiny(), np.full((2, *SHAPE), 3.0, "float32"))
    with pytest.raises(ValueError, match=r"images have shape \(8, 8, 1\) but the model expects "
                                         r"\(12, 12, 1\)"):
        features.fine_tune(tiny(), np.zeros((4, 8, 8)), [0, 1, 0, 1], np.zeros((2, 8, 8)), [0, 1])


class _Bar:
    """A stand-in for keras.utils.Progbar that records where it was moved to."""

    made: list = []

    def __init__(self, target, **kwargs):
        self.target, self.seen, self.moves = target, 0, []
        _Bar.made.append(self)

    def add(self, n, values=None):
        self.update(self.seen + n, values)

    def update(self, current, values=None):
        self.seen = current
        self.moves.append((current, [name for name, _ in values or []]))


def test_probe_progress_advances_with_each_epoch_of_the_classifiers(monkeypatch):
    model = tiny("seed")
    (x, y), (test_x, test_y) = blobs(10, seed=2), blobs(4, seed=3)
    monkeypatch.setattr(keras.utils, "Progbar", _Bar)
    _Bar.made.clear()
    features.compare_probes(model, x, y, test_x, test_y, per_class=4, epochs=3, verbose=1)
    (bar,) = _Bar.made
    assert bar.target == 2 + 2 * 3 and bar.seen == bar.target
    fine_tuned = next(i for i, (_, names) in enumerate(bar.moves) if "fine_tuned" in names)
    assert [at for at, _ in bar.moves[2:fine_tuned]] == [3, 4, 5]  # one move per epoch


def test_umap_clustering_moves_the_bar_once_the_embedding_is_fitted(monkeypatch):
    model = tiny("seed")
    x, y = blobs(12)
    plain = features.fit_clusterer  # k-means alone: the bar, not UMAP, is under test
    monkeypatch.setattr(features, "fit_clusterer", lambda codes, k, **_: plain(codes, k))
    monkeypatch.setattr(keras.utils, "Progbar", _Bar)
    _Bar.made.clear()
    features.compare_clustering(model, x, y, manifold="umap", verbose=1)
    (bar,) = _Bar.made
    assert bar.target == 5 and [at for at, _ in bar.moves] == [1, 2, 3, 4, 5]
    assert bar.moves[3] == (4, []) and bar.moves[4] == (5, ["codes_umap"])
