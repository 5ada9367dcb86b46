"""keras_ae.analysis.detect: scores, fitted thresholds (percentile, false-positive rate,
contamination, labels), p-values, error maps, the detect API and the is_anomaly export.
The command is in test_commands_detect.py."""

from __future__ import annotations

import json

import numpy as np
import pytest

from keras_ae.analysis import detect
from keras_ae.data import DataError
from keras_ae.serving.export import export_saved_model, export_tflite, signature_names
from keras_ae.serving.predict import load_exported

from detections import f1, noise_images, recall_precision
from harness import SMALL, small, structured_images


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
    (dict(fpr=0.1, percentile=90), "give one of percentile, fpr and contamination, not percentile and fpr"),
    (dict(contamination=0.5), r"contamination must be in \(0, 0.5\), got 0.5"),
    (dict(contamination=0.005), "contamination 0.005 needs at least 200 images"),
    (dict(fpr=0.001), "fpr 0.001 needs at least 1000 normal images"),
    (dict(fpr=0.001), r"got 100; with 100, an fpr of at least 0\.01$"),
    (dict(percentile=99.9), r"got 100; with 100, a percentile of at most 99$"),
    (dict(contamination=0.005), r"got 100; with 100, a contamination of at least 0\.01$"),
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
        # p-values in TF ops: those of the exported score (float32 rounding: within 1e-6), so
        # the Python ones wherever no normal score lies between the exported and Keras scores
        assert got["p_value"].dtype == np.float32 and got["p_value"].shape == (len(images),)
        np.testing.assert_allclose(got["p_value"], threshold.p_values(got["score"]), atol=1e-6, rtol=0)
        reference = np.asarray(threshold.normal_scores, dtype=np.float32)
        low, high = np.minimum(got["score"], want.scores), np.maximum(got["score"], want.scores)
        clear = ~((reference[None] >= low[:, None]) & (reference[None] <= high[:, None])).any(1)
        assert clear.mean() > 0.9
        np.testing.assert_allclose(got["p_value"][clear], want.p_values[clear], atol=1e-6, rtol=0)


def test_threshold_with_a_savedmodel_source_is_refused(ae, normal, tmp_path):
    threshold = detect.fit_threshold(ae, normal[:200])
    saved = export_saved_model(ae, tmp_path / "sm")
    with pytest.raises(ValueError, match="threshold applies when exporting a model"):
        export_tflite(saved, tmp_path / "m.tflite", threshold=threshold)


# --- contamination, labelled thresholds, p-values and error maps -------------------------------
def test_contamination_finds_the_anomalies_planted_in_the_fitting_data(ae, normal):
    # 10 % noise images planted among 900 normal ones, shuffled: the data is not clean
    mixed = np.concatenate([normal[1200:2100], noise_images(100, seed=7)])
    planted = np.r_[np.zeros(900, bool), np.ones(100, bool)]
    order = np.random.default_rng(0).permutation(len(mixed))
    mixed, planted = mixed[order], planted[order]
    threshold = detect.fit_threshold(ae, mixed, contamination=0.1)
    assert (threshold.method, threshold.level, threshold.images) == ("contamination", 0.1, 1000)
    assert threshold.expected_fpr is None and "contamination 0.1 of 1000 images" in threshold.describe()
    found = detect.detect(ae, mixed, threshold=threshold)
    assert found.is_anomaly.mean() == pytest.approx(0.1, abs=0.002)  # the (1 - P) quantile
    recall, precision = recall_precision(found.is_anomaly, planted)
    assert recall >= 0.8 and precision >= 0.8, (recall, precision)  # tolerance: 0.8 each
    # the p-values' reference is what the threshold takes for normal: the scores below it
    assert threshold.normal_images == 900 and max(threshold.normal_scores) <= threshold.threshold


def test_a_threshold_from_labels_beats_the_percentile_where_anomalies_are_subtle(ae, normal):
    """Images 60 % replaced by noise score above most normal ones but below their 99th
    percentile: the default percentile misses them, the F1 threshold of a few labelled ones
    finds them (F1 measured on other labelled images)."""
    def mix(start, seed):
        subtle = 0.4 * normal[start + 300:start + 360] + 0.6 * noise_images(60, seed=seed)
        return (np.concatenate([normal[start:start + 300], subtle]).astype("float32"),
                np.r_[np.zeros(300, int), np.ones(60, int)])

    fit_images, fit_labels = mix(1200, seed=11)
    test_images, test_labels = mix(1800, seed=12)
    truth = test_labels == 1
    by_percentile = detect.fit_threshold(ae, normal[:1200])  # percentile 99 of clean normal images
    by_labels = detect.fit_threshold(ae, fit_images, labels=fit_labels)
    assert by_labels.method == "f1" and by_labels.level is None
    assert by_labels.labelled["anomalies"] == 60 and by_labels.normal_images == 300
    fitted = by_labels.decide(detect.anomaly_scores(ae, fit_images))
    assert by_labels.labelled["f1"] == pytest.approx(f1(fitted, fit_labels == 1))
    scores = detect.anomaly_scores(ae, test_images)
    f1_percentile = f1(by_percentile.decide(scores), truth)
    f1_labels = f1(by_labels.decide(scores), truth)
    assert f1_percentile < 0.3 and f1_labels > f1_percentile + 0.3, (f1_percentile, f1_labels)
    by_precision = detect.fit_threshold(ae, fit_images, labels=fit_labels, precision=0.5)
    assert by_precision.method == "precision" and by_precision.labelled["precision"] >= 0.5


def test_threshold_from_labels_is_the_best_f1_and_the_lowest_of_a_precision():
    rng = np.random.default_rng(3)
    labels = (rng.random(200) < 0.2).astype(int)
    scores = (rng.normal(size=200) + 1.5 * labels).astype("float32")
    candidates = np.sort(scores)

    def f1_and_precision(t):
        flagged = scores > t
        tp = np.sum(flagged & (labels == 1))
        return 2 * tp / (flagged.sum() + labels.sum()), tp / max(flagged.sum(), 1)

    value, method, level, reached = detect.threshold_from_labels(scores, labels)
    best = max(f1_and_precision(t)[0] for t in candidates)
    assert (method, level) == ("f1", None) and f1_and_precision(value)[0] == pytest.approx(best)
    assert reached["f1"] == pytest.approx(best)
    value, method, level, reached = detect.threshold_from_labels(scores, labels, precision=0.8)
    lowest = min(t for t in candidates if f1_and_precision(t)[1] >= 0.8)
    assert (method, level) == ("precision", 0.8) and reached["precision"] >= 0.8
    assert np.array_equal(scores > value, scores > lowest)  # the same images flagged
    assert np.sort(scores)[np.searchsorted(np.sort(scores), value) - 1] <= value  # between scores
    top_is_normal = labels.copy()
    top_is_normal[np.argmax(scores)] = 0
    with pytest.raises(ValueError, match="precision 1 is not reached on the labelled images"):
        detect.threshold_from_labels(scores, top_is_normal, precision=1.0)
    for bad, message in [(np.zeros(200), "labels are all normal"), (labels * 2, "found 2"),
                         (labels[:5], "found 5 labels for 200 images")]:
        with pytest.raises(DataError, match=message):
            detect.threshold_from_labels(scores, bad)


def test_p_values_of_held_out_normal_images_are_uniform(ae, normal):
    from scipy.stats import kstest

    threshold = detect.fit_threshold(ae, normal[:1200], fpr=0.05)
    assert threshold.normal_images == 1200 and len(threshold.normal_scores) == 1200
    found = detect.detect(ae, normal[1200:2400], threshold=threshold)  # not the fitting images
    # the conformal p-value of a new normal image is uniform: on 1200 images the KS statistic
    # is below 0.06 (its 1 % critical value is 0.047) and the share below 0.1 is 0.1 +- 0.05
    statistic = kstest(found.p_values, "uniform").statistic
    assert statistic < 0.06, statistic
    assert abs(np.mean(found.p_values < 0.1) - 0.1) < 0.05
    exact = (1 + (np.asarray(threshold.normal_scores)[None, :] >= found.scores[:, None]).sum(1)) / 1201
    np.testing.assert_allclose(found.p_values, exact, rtol=1e-6)
    # flagged means a small p-value: at most the rate the threshold was fitted for, about
    assert found.p_values[found.is_anomaly].max() <= 0.05 + 2 / 1201
    noise = detect.detect(ae, noise_images(50), threshold=threshold)
    assert np.all(noise.p_values == np.float32(1 / 1201))


def test_many_normal_scores_are_kept_as_quantiles():
    scores = np.random.default_rng(0).gamma(2.0, size=50_000).astype("float32")
    kept, n = detect.reference_scores(scores)
    assert n == 50_000 and len(kept) == detect.REFERENCE_SCORES and kept == sorted(kept)
    threshold = detect.Threshold(score="reconstruction", threshold=5.0, method="fpr", level=0.05,
                                 images=n, normal_scores=tuple(kept), normal_images=n)
    assert len(json.dumps(threshold.to_dict())) < 40_000  # detector.json stays small
    new = np.random.default_rng(1).gamma(2.0, size=1000).astype("float32")
    exact = (1 + (scores[None, :] >= new[:, None]).sum(1)) / (n + 1)
    assert np.max(np.abs(threshold.p_values(new) - exact)) < 1.5 / detect.REFERENCE_SCORES


def test_error_maps_average_to_the_reconstruction_score(ae, vae, normal):
    images = np.concatenate([normal[:20], noise_images(5)])
    for model in (ae, vae):
        maps = detect.error_maps(model, images, batch_size=7)
        assert maps.shape == (25, 12, 12) and maps.dtype == np.float32
        np.testing.assert_allclose(maps.mean(axis=(1, 2)), detect.anomaly_scores(model, images),
                                   rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("n", [3, 7, 40, 999])
@pytest.mark.parametrize("method, strict", [("percentile", 99.99), ("fpr", 1e-5),
                                            ("contamination", 1e-4)])
def test_too_few_images_error_names_a_level_those_images_allow(n, method, strict):
    scores = np.arange(float(n))
    with pytest.raises(ValueError, match=rf"got {n}; with {n}, an? {method} of at (most|least) ") as err:
        detect.threshold_from_scores(scores, **{method: strict})
    allowed = float(str(err.value).rsplit(" ", 1)[1])
    detect.threshold_from_scores(scores, **{method: allowed})  # accepted
