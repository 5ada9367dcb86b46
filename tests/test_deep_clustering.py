"""keras_ae.analysis.deep_clustering: the Student's t assignments, DEC's targets, and IDEC
training from a trained autoencoder."""

import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_ae.analysis import deep_clustering, features

from test_features import SHAPE, blobs, tiny


def test_assignments_are_a_distribution_peaked_at_the_nearest_centre():
    layer = deep_clustering.ClusterAssignment(3)
    layer.build((None, 2))
    layer.centers.assign(np.array([[0, 0], [5, 0], [0, 5]], dtype="float32"))
    codes = np.array([[0.1, 0.0], [4.0, 0.5], [0.0, 6.0], [2.5, 0.0]], dtype="float32")
    q = np.asarray(layer(codes))
    assert q.shape == (4, 3) and q.dtype == np.float32
    np.testing.assert_allclose(q.sum(axis=1), 1.0, rtol=1e-6)
    assert list(np.argmax(q[:3], axis=1)) == [0, 1, 2]
    # halfway between two centres: equal assignment to both, by the kernel's symmetry
    assert q[3, 0] == pytest.approx(q[3, 1], rel=1e-6)
    # the Student's t kernel (alpha 1): 1 / (1 + squared distance), normalised
    kernel = 1.0 / (1.0 + ((codes[:, None, :] - np.asarray(layer.centers)) ** 2).sum(-1))
    np.testing.assert_allclose(q, kernel / kernel.sum(1, keepdims=True), rtol=1e-5)
    again = deep_clustering.ClusterAssignment.from_config(layer.get_config())
    assert (again.n_clusters, again.alpha) == (3, 1.0)


def test_targets_sharpen_assignments_and_sum_to_one():
    q = np.array([[0.6, 0.4], [0.5, 0.5], [0.2, 0.8], [0.9, 0.1]])
    p = deep_clustering.target_distribution(q)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    confident = np.array([0, 2, 3])
    assert (p[confident].max(axis=1) > q[confident].max(axis=1)).all()
    assert list(np.argmax(p[confident], axis=1)) == list(np.argmax(q[confident], axis=1))
    with pytest.raises(ValueError, match=r"shape \(N, k\), got shape \(3,\)"):
        deep_clustering.target_distribution([0.5, 0.2, 0.3])


@pytest.fixture(scope="module")
def trained():
    images, labels = blobs(n_per_class=40, classes=3, seed=0)
    model = tiny("seed", seed=0)
    model.compile(optimizer="adam")
    model.fit(images, epochs=20, batch_size=32, verbose=0)
    return model, images, labels


def test_fit_clusters_held_out_images_and_leaves_the_autoencoder_as_it_was(trained, tmp_path):
    model, images, labels = trained
    before = [w.copy() for w in model.get_weights()]
    start = features.encode(model, images)
    result = deep_clustering.fit(model, images, 3, update_interval=5, max_updates=6,
                                 batch_size=32, seed=0)
    assert 1 <= result.updates <= 6 and len(result.changed) >= result.updates
    assert all(np.isfinite(result.loss))
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    np.testing.assert_array_equal(features.encode(model, images), start)

    held_out, held_out_labels = blobs(n_per_class=20, classes=3, seed=1)
    clusters = result.assign(held_out)
    assert clusters.shape == (60,) and set(clusters) <= {0, 1, 2}
    assert features.clustering_accuracy(held_out_labels, clusters) == 1.0

    outputs = result.model.predict(held_out[:4], verbose=0)
    assert outputs["assignments"].shape == (4, 3)
    assert outputs["reconstruction"].shape == (4, *SHAPE)

    path = tmp_path / "clustering.keras"
    result.model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(deep_clustering.assign(loaded, held_out), clusters)

    # a fresh process that only imports keras_ae loads it too (the layer is registered there)
    np.save(tmp_path / "held_out.npy", held_out)
    script = ("import sys, keras, numpy as np, keras_ae\n"
              "model = keras.saving.load_model(sys.argv[1], safe_mode=True)\n"
              "q = model.predict(np.load(sys.argv[2]), verbose=0)['assignments']\n"
              "print(','.join(map(str, q.argmax(axis=1))))")
    out = subprocess.run([sys.executable, "-c", script, str(path), str(tmp_path / "held_out.npy")],
                         capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    assert out == ",".join(map(str, clusters))


def test_the_clustering_model_exports_as_a_saved_model(trained, tmp_path):
    import tensorflow as tf

    model, images, _ = trained
    result = deep_clustering.fit(model, images, 3, update_interval=3, max_updates=2, batch_size=32)
    result.model.export(str(tmp_path / "saved"), format="tf_saved_model", verbose=False)
    exported = tf.saved_model.load(str(tmp_path / "saved"))  # held: its variables live in it
    served = exported.serve(tf.constant(images[:16]))
    expected = result.model.predict(images[:16], verbose=0)
    np.testing.assert_allclose(np.asarray(served["assignments"]), expected["assignments"],
                               atol=1e-5)


def test_training_sharpens_the_assignments(trained):
    model, images, _ = trained
    result = deep_clustering.fit(model, images, 3, gamma=1.0, update_interval=10, max_updates=8,
                                 tol=0.0, batch_size=32, seed=0)
    assert result.updates == 8
    start = deep_clustering.fit(model, images, 3, max_updates=1, tol=0.0, update_interval=1,
                                learning_rate=1e-9, batch_size=32, seed=0)
    confidence = [np.asarray(r.model.predict(images, verbose=0)["assignments"]).max(axis=1).mean()
                  for r in (start, result)]
    assert confidence[1] > confidence[0]


def test_augmentation_layer_is_applied_to_training_batches(trained):
    model, images, labels = trained
    calls = []

    class Shift(keras.layers.Layer):
        def call(self, x, training=False):
            calls.append(training)
            return keras.ops.roll(x, 1, axis=2)

    result = deep_clustering.fit(model, images, 3, update_interval=3, max_updates=2,
                                 batch_size=32, augment=Shift(), seed=0)
    assert calls and all(calls)
    assert features.clustering_accuracy(labels, result.assign(images)) == 1.0


def test_same_seed_gives_the_same_clusters(trained):
    model, images, _ = trained
    runs = [deep_clustering.fit(model, images, 3, update_interval=3, max_updates=2, batch_size=32,
                                seed=5).model.get_layer("assignments").get_weights()[0]
            for _ in range(2)]
    np.testing.assert_array_equal(*runs)


@pytest.mark.parametrize("kwargs, message", [
    ({"n_clusters": 1}, "n_clusters must be >= 2, got 1"),
    ({"n_clusters": 500}, r"n_clusters \(500\) exceeds the number of images \(120\)"),
    ({"n_clusters": 3, "gamma": 0}, "gamma must be a positive number, got 0"),
    ({"n_clusters": 3, "tol": 1.5}, r"tol must be a number in \[0, 1\), got 1.5"),
    ({"n_clusters": 3, "update_interval": 0}, "update_interval must be >= 1, got 0"),
    ({"n_clusters": 3, "augment": "shift"}, "augment must be a Keras layer, got str"),
    ({"n_clusters": 3, "alpha": -1.0}, "alpha must be a positive number, got -1.0"),
])
def test_bad_arguments_are_named(trained, kwargs, message):
    model, images, _ = trained
    with pytest.raises(ValueError, match=message):
        deep_clustering.fit(model, images, **kwargs)


def test_images_of_another_shape_and_spatial_codes_are_refused(trained):
    model, images, _ = trained
    with pytest.raises(ValueError, match=r"images have shape \(8, 8, 1\) but the model expects"):
        deep_clustering.fit(model, np.zeros((10, 8, 8, 1), "float32"), 2)
    vq = tiny("vq_vae", latent_dim=4)
    with pytest.raises(ValueError, match="needs a model whose codes are vectors"):
        deep_clustering.fit(vq, images, 3)
