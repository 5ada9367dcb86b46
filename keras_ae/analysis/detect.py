"""Anomaly detection with a trained autoencoder: per-image scores, a threshold fitted on normal
data, and decisions.

    threshold = fit_threshold(model, normal_images, fpr=0.01)    # or percentile=99
    threshold = fit_threshold(model, mixed_images, contamination=0.05)  # data with anomalies
    threshold = fit_threshold(model, images, labels=labels)      # best F1 (or precision=0.9)
    threshold.save(run_dir)                                      # run_dir/detector.json
    found = detect(run_dir, images)          # found.scores, .is_anomaly, .p_values

Scores (higher = more anomalous): ``reconstruction``, the per-pixel reconstruction error; for
VAEs ``elbo``, the negative evidence lower bound in nats; for the one-class autoencoder
``neighbours``, the mean distance to the nearest training images it remembers. A model's
`default_score` (what its `anomaly_score` computes) is the one used when none is named. The
threshold is a quantile of the scores of normal images, the way alibi-detect's `infer_threshold`
(a percentile) and PyOD's `contamination` (an expected outlier fraction) fit theirs: an image is
an anomaly when its score is above it, so about `fpr` of new normal images are flagged.
A threshold also keeps (up to `REFERENCE_SCORES` quantiles of) the normal scores it was fitted
on, so that each new score has a conformal p-value, (1 + #{normal >= score}) / (n + 1).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from keras_ae.analysis.baselines import isolation_forest_scores, knn_scores, pca_scores
from keras_ae.data.arrays import read_npz_arrays
from keras_ae.data.errors import DataError
from keras_ae.utils.arguments import check_int
from keras_ae.utils.io import atomic_write_text
from keras_ae.utils.text import with_article

__all__ = [
    "DEFAULT_PERCENTILE", "DETECTOR_FILE", "ELBO_SAMPLES", "REFERENCE_SCORES", "SCORES",
    "Detection", "NoPValuesError", "NoThresholdError", "Threshold", "anomaly_scores",
    "check_labels", "check_level", "detect", "detection_outputs", "elbo_noise", "error_maps", "fit_threshold",
    "isolation_forest_scores", "knn_scores", "load_threshold", "model_fingerprint", "negative_elbo",
    "pca_scores", "ranking_metrics", "read_labelled", "reference_scores", "score_function",
    "threshold_from_labels", "threshold_from_scores", "threshold_path",
]

SCORES = ("reconstruction", "elbo", "neighbours")
METHODS = ("percentile", "fpr", "contamination", "f1", "precision")
LABELLED_METHODS = ("f1", "precision")
DETECTOR_FILE = "detector.json"
DEFAULT_PERCENTILE = 99.0
ELBO_SAMPLES = 8
BATCH_SIZE = 256
DECODES_PER_BATCH = 2048  # bounds the memory of the elbo score: batch * elbo_samples decodes
REFERENCE_SCORES = 2000  # normal scores kept for p-values; quantiles of them beyond that
LABELLED_FIELDS = ("anomalies", "precision", "recall", "f1", "fpr")


class NoThresholdError(ValueError):
    """A run (or model file) has no fitted threshold."""


class NoPValuesError(ValueError):
    """A threshold saved without its normal scores (an older detector.json) has no p-values."""


# --- the threshold -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Threshold:
    """A fitted decision rule: an image is an anomaly when its `score` is above `threshold`.

    `method` and `level` say how it was fitted: `percentile` P of normal scores, a target
    false-positive rate `fpr` F (percentile 100 (1 - F)), `contamination` C (percentile
    100 (1 - C) of images of which a share C is expected to be anomalous), or from labelled
    images, the best `f1` (level None) or the lowest threshold of `precision` P; `images` is how
    many images it was fitted on and `labelled` what it reached on labelled ones. `elbo_samples`
    and `seed` fix the noise of the ``elbo`` score; `model_sha256` ties it to the model file it
    was fitted for (None: not tied). `normal_scores` (sorted; None in files of older versions)
    stand for `normal_images` normal scores, the reference of `p_values`.
    """

    score: str
    threshold: float
    method: str
    level: float | None
    images: int
    elbo_samples: int = ELBO_SAMPLES
    seed: int = 0
    fitted_on: str | None = None
    model_sha256: str | None = None
    normal_scores: tuple[float, ...] | None = None
    normal_images: int | None = None
    labelled: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.score not in SCORES:
            raise ValueError(f"unknown score {self.score!r}; choose one of {', '.join(SCORES)}")
        if self.method not in METHODS:
            raise ValueError(f"unknown threshold method {self.method!r}; choose one of {', '.join(METHODS)}")
        if self.method == "f1":
            if self.level is not None:
                raise ValueError(f"the f1 method has no level, got {self.level!r}")
        else:
            check_level(self.method, self.level)
        if not (isinstance(self.threshold, (int, float)) and math.isfinite(self.threshold)):
            raise ValueError(f"threshold must be a finite number, got {self.threshold!r}")
        if not (isinstance(self.images, int) and self.images >= 1):
            raise ValueError(f"images must be a positive count, got {self.images!r}")
        if not (isinstance(self.elbo_samples, int) and self.elbo_samples >= 1):
            raise ValueError(f"elbo_samples must be >= 1, got {self.elbo_samples!r}")
        check_int(self.seed, "seed", minimum=0)
        for name in ("fitted_on", "model_sha256"):
            if not isinstance(getattr(self, name), (str, type(None))):
                raise ValueError(f"{name} must be a string or null, got {getattr(self, name)!r}")
        self._check_reference()
        if self.method in LABELLED_METHODS and self.labelled is None:
            raise ValueError(f"the {self.method} method needs what it reached on the labelled "
                             "images (labelled)")
        if self.method not in LABELLED_METHODS and self.labelled is not None:
            raise ValueError(f"labelled results go with the f1 and precision methods, not {self.method}")
        if self.labelled is not None and (
                not isinstance(self.labelled, dict) or sorted(self.labelled) != sorted(LABELLED_FIELDS)
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                           for v in self.labelled.values())):
            raise ValueError(f"labelled must hold the numbers {', '.join(LABELLED_FIELDS)}, "
                             f"got {self.labelled!r}")

    def _check_reference(self) -> None:
        scores, n = self.normal_scores, self.normal_images
        if scores is None and n is None:
            return
        if scores is None or n is None:
            raise ValueError("normal_scores and normal_images go together")
        try:
            values = np.asarray(scores, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError("normal_scores must be a list of numbers") from None
        if values.ndim != 1 or not values.size or not np.isfinite(values).all():
            raise ValueError("normal_scores must be a non-empty list of finite numbers")
        if np.any(np.diff(values) < 0):
            raise ValueError("normal_scores must be sorted")
        if not (isinstance(n, int) and n >= values.size):
            raise ValueError(f"normal_images must be a count >= {values.size}, got {n!r}")
        object.__setattr__(self, "normal_scores", tuple(float(v) for v in values))

    @property
    def expected_fpr(self) -> float | None:
        """The share of normal images expected above the threshold (from labelled images: the
        share of their normal ones above it; None for `contamination`, which says the share of
        the fitting images above it, anomalies included)."""
        if self.method in LABELLED_METHODS:
            return self.labelled["fpr"]
        if self.method == "contamination":
            return None
        return self.level if self.method == "fpr" else 1.0 - self.level / 100.0

    @property
    def has_p_values(self) -> bool:
        """Whether the normal scores were saved (thresholds fitted before them were not)."""
        return self.normal_scores is not None

    def decide(self, scores: Any) -> np.ndarray:
        """True where `scores` are above the threshold."""
        return np.asarray(scores) > self.threshold

    def p_values(self, scores: Any) -> np.ndarray:
        """Conformal p-values of `scores` against the normal ones, (1 + n G(s)) / (n + 1),
        G(s) the share of the saved normal scores at or above s (float32 comparisons, as the
        exports make them): (1 + #{normal >= s}) / (n + 1) when all n are saved. Small means
        anomalous; a normal image's p-value is uniform on (0, 1]."""
        if not self.has_p_values:
            raise NoPValuesError(
                "this threshold has no normal scores (it was fitted by an older keras-ae): "
                "p-values are unavailable; refit it (keras-ae detect RUN --fit --overwrite)")
        reference = np.asarray(self.normal_scores, dtype=np.float32)
        s = np.asarray(scores, dtype=np.float32).ravel()
        above = reference.size - np.searchsorted(reference, s, side="left")
        n = self.normal_images
        return ((1.0 + n * above / reference.size) / (n + 1.0)).astype(np.float32)

    def describe(self) -> str:
        """One line: the score, the threshold and how it was fitted."""
        where = f" of {self.fitted_on}" if self.fitted_on else ""
        head = f"{self.score} score > {self.threshold:.6g}"
        if self.method in LABELLED_METHODS:
            r = self.labelled
            how = "best F1" if self.method == "f1" else f"precision >= {self.level:g}"
            return (f"{head} ({how} on {self.images} labelled images{where}, {r['anomalies']} "
                    f"anomalies: precision {r['precision']:.3g}, recall {r['recall']:.3g}, "
                    f"F1 {r['f1']:.3g})")
        if self.method == "contamination":
            return (f"{head} (contamination {self.level:g} of {self.images} images{where}: "
                    f"{100 * self.level:.3g} % of them flagged)")
        how = (f"fpr {self.level:g}" if self.method == "fpr" else f"percentile {self.level:g}")
        return (f"{head} ({how} of {self.images} normal images{where}: "
                f"{100 * self.expected_fpr:.3g} % expected false positives)")

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict (the content of detector.json)."""
        values = asdict(self)
        if self.normal_scores is not None:
            values["normal_scores"] = list(self.normal_scores)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Threshold:
        """A Threshold from `to_dict`'s output; unknown or missing fields are a ValueError
        (the p-value fields may be missing: files of older versions)."""
        if not isinstance(values, dict):
            raise ValueError(f"a threshold is a JSON object, got {type(values).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown threshold field(s): {', '.join(unknown)}")
        try:
            return cls(**values)
        except TypeError as err:
            raise ValueError(f"incomplete threshold: {err}") from None

    def save(self, run_or_model: str | os.PathLike) -> Path:
        """Write the threshold atomically as JSON (see `threshold_path`); returns the file."""
        path = threshold_path(run_or_model)
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")
        return path


def check_level(method: str, level: Any) -> None:
    """A ValueError unless `level` is a valid level of the threshold `method`."""
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not math.isfinite(level):
        raise ValueError(f"{method} must be a number, got {level!r}")
    if method == "percentile" and not 0 < level <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {level:g}")
    if method == "fpr" and not 0 <= level < 1:
        raise ValueError(f"fpr must be in [0, 1), got {level:g}")
    if method == "contamination" and not 0 < level < 0.5:
        raise ValueError(f"contamination must be in (0, 0.5), got {level:g}")
    if method == "precision" and not 0 < level <= 1:
        raise ValueError(f"precision must be in (0, 1], got {level:g}")


def threshold_path(run_or_model: str | os.PathLike) -> Path:
    """Where a run's threshold lives: RUN/detector.json for a run folder or its model.keras,
    NAME.detector.json beside any other `.keras` file, or the given `.json` path itself."""
    path = Path(run_or_model)
    if path.suffix == ".json":
        return path
    if path.is_dir():
        return path / DETECTOR_FILE
    if path.name == "model.keras":
        return path.parent / DETECTOR_FILE
    if path.suffix == ".keras":
        return path.with_name(f"{path.stem}.{DETECTOR_FILE}")
    raise ValueError(f"{path} is neither a run folder nor a .keras model file")


def model_fingerprint(model_file: str | os.PathLike) -> str:
    """The SHA-256 of a model file, to tie a threshold to the weights it was fitted for."""
    digest = hashlib.sha256()
    with open(model_file, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_threshold(run_or_model: str | os.PathLike, *, check_model: bool = True) -> Threshold:
    """The threshold saved for a run folder or model file.

    Raises NoThresholdError when none was fitted, and ValueError when the file is unreadable or
    was fitted for another model file (with `check_model`, for a run folder or `.keras` path).
    """
    path = threshold_path(run_or_model)
    if not path.is_file():
        run = Path(run_or_model)
        run = run.parent if run.name == "model.keras" else run
        raise NoThresholdError(f"{run} has no fitted threshold ({path.name}); fit one on normal "
                               f"images with `keras-ae detect {run} --fit` (or fit_threshold)")
    try:
        threshold = Threshold.from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not a threshold file: {err}") from None
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    model_file = _model_file_of(Path(run_or_model))
    if check_model and threshold.model_sha256 and model_file is not None and model_file.is_file():
        if model_fingerprint(model_file) != threshold.model_sha256:
            raise ValueError(
                f"{path} was fitted for another {model_file.name} (the model changed since); "
                f"refit it with `keras-ae detect {run_or_model} --fit`")
    return threshold


def _model_file_of(path: Path) -> Path | None:
    if path.is_dir():
        return path / "model.keras"
    return path if path.suffix == ".keras" else None


# --- scores ------------------------------------------------------------------------------------
def _check_score(model, score: str | None) -> str:
    """`score`, or the model's default one when None; a ValueError unless the model has it."""
    from keras_ae.models import BaseAutoencoder, OneClassAutoencoder, VariationalAutoencoder

    if not isinstance(model, BaseAutoencoder):
        raise ValueError(f"expected a keras_ae Autoencoder, got {type(model).__name__}")
    if score is None:
        return model.default_score
    if score not in SCORES:
        raise ValueError(f"unknown score {score!r}; choose one of {', '.join(SCORES)}")
    if score == "elbo" and not isinstance(model, VariationalAutoencoder):
        raise ValueError(f"the elbo score needs a VariationalAutoencoder; {model.name!r} is "
                         f"{with_article(type(model).__name__)} (use the reconstruction score)")
    if score == "neighbours" and not isinstance(model, OneClassAutoencoder):
        raise ValueError(f"the neighbours score needs a OneClassAutoencoder (the one_class "
                         f"preset); {model.name!r} is {with_article(type(model).__name__)} "
                         f"(use the {model.default_score} score)")
    return score


def elbo_noise(latent_dim: int, samples: int = ELBO_SAMPLES, seed: int = 0) -> np.ndarray:
    """The fixed N(0, I) draws of the ``elbo`` score: shape (samples, latent_dim)."""
    latent_dim, samples = check_int(latent_dim, "latent_dim"), check_int(samples, "samples")
    seed = check_int(seed, "seed", minimum=0)
    return np.random.default_rng(seed).standard_normal((samples, latent_dim)).astype(np.float32)


def negative_elbo(model, x, noise):
    """-ELBO per image in nats, `model.elbo` at the fixed `noise` draws (samples, latent) for
    every image: deterministic and free of random ops, so an image's score does not depend on
    its batch and exports compute it too."""
    return -model.elbo(x, noise=noise)


def score_function(model, score: str | None = None, *, elbo_samples: int = ELBO_SAMPLES,
                   seed: int = 0):
    """A function from a float image batch to per-image scores (a tensor of shape (batch,)):
    `score`, or the model's `default_score`."""
    score = _check_score(model, score)
    if score == "reconstruction":
        return lambda x: model.reconstruction_score(x)
    if score == "neighbours":
        return lambda x: model.anomaly_score(x)
    noise = elbo_noise(model.latent_dim, elbo_samples, seed)
    return lambda x: negative_elbo(model, x, noise)


def _checked_images(model, images: Any) -> np.ndarray:
    from keras_ae.data import validate_images

    images = validate_images(images)
    expected = tuple(int(d) for d in model.encoder.inputs[0].shape[1:])
    if tuple(images.shape[1:]) != expected:
        raise DataError(f"images have shape {tuple(images.shape[1:])} but the model takes {expected}")
    return images


def anomaly_scores(model, images: Any, *, score: str | None = None,
                   elbo_samples: int = ELBO_SAMPLES, seed: int = 0, batch_size: int = BATCH_SIZE,
                   verbose: int = 0) -> np.ndarray:
    """Per-image anomaly scores of `images` (uint8, or float in [0, 1]; (N, H, W[, C])), the
    model's default score unless `score` names another, in batches of `batch_size` (for
    ``elbo``, at most 2048 / `elbo_samples`), as float32 of shape (N,). `verbose=1` shows a
    progress bar."""
    import keras
    import tensorflow as tf

    from keras_ae.data import as_float_images

    batch_size = check_int(batch_size, "batch_size")
    elbo_samples = check_int(elbo_samples, "elbo_samples")
    score = _check_score(model, score)
    function = score_function(model, score, elbo_samples=elbo_samples, seed=seed)
    if score == "elbo":
        batch_size = max(1, min(batch_size, DECODES_PER_BATCH // elbo_samples))
    images = _checked_images(model, images)
    spec = tf.TensorSpec((None, *images.shape[1:]), tf.float32)
    compiled = tf.function(lambda x: tf.cast(function(x), tf.float32), input_signature=[spec])
    progress = keras.utils.Progbar(len(images), unit_name="image") if verbose else None
    scores = []
    for start in range(0, len(images), batch_size):
        batch = as_float_images(images[start:start + batch_size])
        scores.append(compiled(tf.constant(batch)).numpy())
        if progress:
            progress.update(start + len(batch))
    return np.concatenate(scores).astype(np.float32, copy=False)


# --- fitting and detecting ---------------------------------------------------------------------
def _rule(percentile: float | None, fpr: float | None, n: int,
          contamination: float | None = None) -> tuple[str, float, float]:
    """(method, level, share of the images above the threshold) of a percentile, fpr or
    contamination for `n` images (default: percentile 99); refuses a share that `n` images
    cannot estimate."""
    given = [(name, value) for name, value in (("percentile", percentile), ("fpr", fpr),
                                               ("contamination", contamination)) if value is not None]
    if len(given) > 1:
        raise ValueError(f"give one of percentile, fpr and contamination, not "
                         f"{' and '.join(name for name, _ in given)}")
    method, level = given[0] if given else ("percentile", DEFAULT_PERCENTILE)
    check_level(method, level)
    if n == 0:
        raise ValueError("no normal images to fit a threshold on")
    above = 1.0 - level / 100.0 if method == "percentile" else level
    if 0 < above and n * above < 1:
        # the strictest level these images allow, rounded (to 4 decimals) towards allowed ones
        possible = (f"a percentile of at most {math.floor(1e6 * (1 - 1 / n) + 1e-6) / 1e4:g}"
                    if method == "percentile" else
                    f"{'an' if method == 'fpr' else 'a'} {method} of at least "
                    f"{math.ceil(1e4 / n - 1e-6) / 1e4:g}")
        raise ValueError(
            f"{method} {level:g} needs at least {math.ceil(1 / above)} "
            f"{'' if method == 'contamination' else 'normal '}images (one expected above the "
            f"threshold), got {n}; with {n}, {possible}")
    return method, float(level), above


def threshold_from_scores(scores: Any, *, percentile: float | None = None,
                          fpr: float | None = None,
                          contamination: float | None = None) -> tuple[float, str, float]:
    """(threshold, method, level) from scores: the `percentile`-th percentile of normal scores,
    the 100 (1 - `fpr`)-th, or the 100 (1 - `contamination`)-th of scores of which a share
    `contamination` is expected to be anomalous (PyOD's rule; default: percentile 99)."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    method, level, above = _rule(percentile, fpr, scores.size, contamination)
    if not np.all(np.isfinite(scores)):
        raise ValueError("the normal scores contain NaN or inf")
    return float(np.percentile(scores, 100.0 * (1.0 - above))), method, level


def check_labels(labels: Any, n: int) -> np.ndarray:
    """Anomaly labels for `n` images as int64 (N,): 1 = anomaly, 0 = normal, both present."""
    from keras_ae.data.validate import validate_labels

    labels = validate_labels(labels, n)
    if not np.isin(labels, (0, 1)).all():
        odd = sorted(set(np.unique(labels).tolist()) - {0, 1})
        raise DataError(f"labels must be 1 (anomaly) or 0 (normal), found {', '.join(map(str, odd[:3]))}")
    if labels.min() == labels.max():
        raise DataError(f"labels are all {'anomalies (1)' if labels[0] else 'normal (0)'}; a "
                        "threshold from labels needs both normal and anomalous images")
    return labels


def threshold_from_labels(scores: Any, labels: Any, *, precision: float | None = None
                          ) -> tuple[float, str, float | None, dict[str, Any]]:
    """(threshold, method, level, what it reaches) from the scores of labelled images (1 =
    anomaly): the threshold of the best F1, or with `precision` the lowest threshold whose
    precision reaches it. A threshold lies halfway between the scores it separates."""
    scores = np.asarray(scores, dtype=np.float32).ravel()
    labels = check_labels(labels, scores.size)
    if precision is not None:
        check_level("precision", precision)
    if not np.all(np.isfinite(scores)):
        raise ValueError("the scores contain NaN or inf")
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    flagged = np.arange(1, len(s) + 1)
    tp = np.cumsum(y)
    cut = np.r_[s[:-1] > s[1:], True]  # a threshold can fall only between distinct scores
    anomalies = int(y.sum())
    precisions, recalls = tp / flagged, tp / anomalies
    f1 = 2 * tp / (flagged + anomalies)
    if precision is None:
        method, level, k = "f1", None, int(np.argmax(np.where(cut, f1, -1.0)))
    else:
        reached = cut & (precisions >= precision - 1e-12)
        if not reached.any():
            raise ValueError(f"precision {precision:g} is not reached on the labelled images "
                             f"(at most {precisions[cut].max():.3g} at any threshold)")
        method, level, k = "precision", float(precision), int(np.flatnonzero(reached)[-1])
    if k + 1 < len(s):
        value = np.float32((np.float64(s[k]) + np.float64(s[k + 1])) / 2)
        value = value if value < s[k] else s[k + 1]
    else:  # every image flagged
        value = np.nextafter(s[-1], np.float32(-np.inf))
    normal = len(s) - anomalies
    reached = {"anomalies": anomalies, "precision": float(precisions[k]),
               "recall": float(recalls[k]), "f1": float(f1[k]),
               "fpr": float((flagged[k] - tp[k]) / normal)}
    return float(value), method, level, reached


def reference_scores(normal_scores: Any) -> tuple[list[float], int]:
    """What a threshold keeps of normal scores for p-values: all of them sorted, or beyond
    `REFERENCE_SCORES` that many evenly spaced order statistics; and how many they stand for."""
    values = np.sort(np.asarray(normal_scores, dtype=np.float32).ravel())
    n = int(values.size)
    if n > REFERENCE_SCORES:
        values = values[np.floor((np.arange(REFERENCE_SCORES) + 0.5) * n / REFERENCE_SCORES).astype(int)]
    return [float(f"{v:.9g}") for v in values.tolist()], n  # 9 digits: the float32 exactly


def fit_threshold(model, images: Any, *, percentile: float | None = None, fpr: float | None = None,
                  contamination: float | None = None, labels: Any = None,
                  precision: float | None = None, score: str | None = None,
                  elbo_samples: int = ELBO_SAMPLES, seed: int = 0,
                  batch_size: int = BATCH_SIZE, verbose: int = 0, fitted_on: str | None = None,
                  model_file: str | os.PathLike | None = None) -> Threshold:
    """Fit a threshold on `images`: normal ones (e.g. the run's validation split) at the given
    `percentile` of their scores or the percentile that flags a share `fpr` of them (default:
    percentile 99); images of which a share `contamination` is anomalous at the percentile
    that flags that share; or, with `labels` (1 = anomaly, 0 = normal), at the best F1 or the
    lowest threshold reaching `precision`. The normal scores (below the threshold, for
    `contamination`; labelled 0, with `labels`) are kept for p-values. `model_file` ties the
    threshold to that file's weights. `score` defaults to the model's `default_score`."""
    score = _check_score(model, score)
    images = _checked_images(model, images)
    if labels is None:  # fail before scoring thousands of images
        if precision is not None:
            raise ValueError("precision applies to a threshold from labels (give labels)")
        _rule(percentile, fpr, len(images), contamination)
    else:
        given = [name for name, value in (("percentile", percentile), ("fpr", fpr),
                                          ("contamination", contamination)) if value is not None]
        if given:
            raise ValueError(f"a threshold from labels takes no {' or '.join(given)}")
        labels = check_labels(labels, len(images))
        if precision is not None:
            check_level("precision", precision)
    scores = anomaly_scores(model, images, score=score, elbo_samples=elbo_samples, seed=seed,
                            batch_size=batch_size, verbose=verbose)
    reached = None
    if labels is None:
        value, method, level = threshold_from_scores(scores, percentile=percentile, fpr=fpr,
                                                     contamination=contamination)
        normal = scores[scores <= value] if method == "contamination" else scores
    else:
        value, method, level, reached = threshold_from_labels(scores, labels, precision=precision)
        normal = scores[labels == 0]
    kept, n = reference_scores(normal)
    return Threshold(score=score, threshold=value, method=method, level=level,
                     images=int(len(scores)), elbo_samples=elbo_samples, seed=seed,
                     fitted_on=fitted_on,
                     model_sha256=model_fingerprint(model_file) if model_file else None,
                     normal_scores=tuple(kept), normal_images=n, labelled=reached)


LABELLED_KEYS = ("images", "labels")


def read_labelled(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """The images and labels of a labelled file: an `.npz` with `images` (N, H, W[, C]; uint8,
    or floats in [0, 1]) and `labels` (N,), 1 = anomaly and 0 = normal (checked by
    `fit_threshold`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no labelled file {path}" + (" (it is a folder)" if path.is_dir() else ""))
    if path.suffix.lower() != ".npz":
        raise ValueError(f"{path}: labelled images are an .npz file with arrays "
                         f"{' and '.join(LABELLED_KEYS)}, got {path.suffix or 'no suffix'}")
    return read_npz_arrays(path, LABELLED_KEYS, "labelled images are an .npz with images and "
                           "labels (1 = anomaly, 0 = normal)")


@dataclass(frozen=True)
class Detection:
    """Per-image `scores` (float32, (N,)), `is_anomaly` (bool, (N,)), `p_values` (float32,
    (N,); None when the threshold has no normal scores) and the `threshold` used."""

    scores: np.ndarray
    is_anomaly: np.ndarray
    threshold: Threshold
    p_values: np.ndarray | None = None


def detect(model_or_run: Any, images: Any, *, threshold: Threshold | None = None,
           batch_size: int = BATCH_SIZE, verbose: int = 0) -> Detection:
    """Score `images` and compare with a threshold.

    `model_or_run` is a model (then `threshold` is required) or a run folder / `.keras` file,
    whose saved threshold (see `load_threshold`) is used unless `threshold` is given.
    """
    if isinstance(model_or_run, (str, os.PathLike)):
        from keras_ae.models.saving import load_model

        if threshold is None:
            threshold = load_threshold(model_or_run)
        model = load_model(model_or_run, compile=False)
    else:
        model = model_or_run
        if threshold is None:
            raise NoThresholdError("detect(model, images) needs threshold= (from fit_threshold or "
                                   "load_threshold), or a run folder with a fitted threshold")
    scores = anomaly_scores(model, images, score=threshold.score,
                            elbo_samples=threshold.elbo_samples, seed=threshold.seed,
                            batch_size=batch_size, verbose=verbose)
    return Detection(scores=scores, is_anomaly=threshold.decide(scores), threshold=threshold,
                     p_values=threshold.p_values(scores) if threshold.has_p_values else None)


def detection_outputs(model, threshold: Threshold, image) -> dict[str, Any]:
    """What the exported `is_anomaly` signature computes, as tensors: `score` (float32),
    `is_anomaly` (bool) and, where the threshold kept its normal scores, `p_value` (float32),
    each of shape (batch,)."""
    from keras import ops

    function = score_function(model, threshold.score, elbo_samples=threshold.elbo_samples,
                              seed=threshold.seed)
    score = ops.cast(function(image), "float32")
    outputs = {"score": score,
               "is_anomaly": ops.greater(score, ops.cast(threshold.threshold, "float32"))}
    if threshold.has_p_values:
        reference = ops.convert_to_tensor(np.asarray(threshold.normal_scores, dtype=np.float32))
        above = ops.sum(ops.cast(ops.greater_equal(reference[None, :], score[:, None]), "float32"),
                        axis=1)
        n, k = float(threshold.normal_images), float(len(threshold.normal_scores))
        outputs["p_value"] = (1.0 + above * (n / k)) / (n + 1.0)
    return outputs


def error_maps(model, images: Any, *, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """Per-pixel reconstruction errors of `images`, the model's own error (its `loss`, MSE or
    BCE) of each pixel averaged over channels: float32 (N, H, W), whose mean over a map is the
    image's reconstruction score."""
    import tensorflow as tf

    from keras_ae.data import as_float_images
    from keras_ae.models.losses import reconstruction_error

    _check_score(model, "reconstruction")
    batch_size = check_int(batch_size, "batch_size")
    images = _checked_images(model, images)
    error = reconstruction_error(model.loss_name)
    h, w, c = images.shape[1:]
    maps = []
    for start in range(0, len(images), batch_size):
        x = tf.constant(as_float_images(images[start:start + batch_size]))
        x_hat = tf.cast(model(x, training=False), tf.float32)
        per_pixel = error(tf.reshape(x, (-1, c)), tf.reshape(x_hat, (-1, c)))  # one pixel a row
        maps.append(np.asarray(per_pixel, dtype=np.float32).reshape(-1, h, w))
    return np.concatenate(maps) if maps else np.zeros((0, h, w), np.float32)


# --- ranking metrics ---------------------------------------------------------------------------
def ranking_metrics(normal_scores: Any, anomalous_scores: Any) -> dict[str, float]:
    """ROC AUC and average precision (anomalies as the positive class) of scores that should
    rank anomalous images above normal ones."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    normal = np.ravel(np.asarray(normal_scores, dtype=np.float64))
    anomalous = np.ravel(np.asarray(anomalous_scores, dtype=np.float64))
    if not (normal.size and anomalous.size):
        raise ValueError(f"ranking needs normal and anomalous scores, got {normal.size} normal "
                         f"and {anomalous.size} anomalous")
    if not (np.isfinite(normal).all() and np.isfinite(anomalous).all()):
        raise ValueError("the scores contain NaN or inf")
    y = np.r_[np.zeros(len(normal)), np.ones(len(anomalous))]
    s = np.r_[normal, anomalous]
    return {"roc_auc": float(roc_auc_score(y, s)), "average_precision": float(average_precision_score(y, s))}
