"""Anomaly detection with a trained autoencoder: per-image scores, a threshold fitted on normal
data, and decisions.

    threshold = fit_threshold(model, normal_images, fpr=0.01)    # or percentile=99
    threshold.save(run_dir)                                      # run_dir/detector.json
    found = detect(run_dir, images)                              # found.scores, found.is_anomaly

Scores (higher = more anomalous): ``reconstruction``, the model's `anomaly_score` (per-pixel
reconstruction error), and for VAEs ``elbo``, the negative evidence lower bound in nats. The
threshold is a quantile of the scores of normal images, the way alibi-detect's `infer_threshold`
(a percentile) and PyOD's `contamination` (an expected outlier fraction) fit theirs: an image is
an anomaly when its score is above it, so about `fpr` of new normal images are flagged.
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

from keras_ae.analysis.baselines import isolation_forest_scores, pca_scores
from keras_ae.data.errors import DataError

from keras_ae.utils.arguments import check_int
from keras_ae.utils.io import atomic_write_text
from keras_ae.utils.text import with_article

__all__ = [
    "DEFAULT_PERCENTILE", "DETECTOR_FILE", "ELBO_SAMPLES", "SCORES", "Detection",
    "NoThresholdError", "Threshold", "anomaly_scores", "detect", "detection_outputs",
    "elbo_noise", "fit_threshold", "isolation_forest_scores", "load_threshold",
    "model_fingerprint", "negative_elbo", "pca_scores", "ranking_metrics", "score_function",
    "threshold_from_scores", "threshold_path",
]

SCORES = ("reconstruction", "elbo")
METHODS = ("percentile", "fpr")
DETECTOR_FILE = "detector.json"
DEFAULT_PERCENTILE = 99.0
ELBO_SAMPLES = 8
BATCH_SIZE = 256
DECODES_PER_BATCH = 2048  # bounds the memory of the elbo score: batch * elbo_samples decodes


class NoThresholdError(ValueError):
    """A run (or model file) has no fitted threshold."""


# --- the threshold -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Threshold:
    """A fitted decision rule: an image is an anomaly when its `score` is above `threshold`.

    `method` and `level` say how it was fitted (`percentile` P of the normal scores, or a target
    false-positive rate `fpr` F, i.e. percentile 100 (1 - F)); `images` is how many normal images
    it was fitted on. `elbo_samples` and `seed` fix the noise of the ``elbo`` score;
    `model_sha256` ties it to the model file it was fitted for (None: not tied).
    """

    score: str
    threshold: float
    method: str
    level: float
    images: int
    elbo_samples: int = ELBO_SAMPLES
    seed: int = 0
    fitted_on: str | None = None
    model_sha256: str | None = None

    def __post_init__(self) -> None:
        if self.score not in SCORES:
            raise ValueError(f"unknown score {self.score!r}; choose one of {', '.join(SCORES)}")
        if self.method not in METHODS:
            raise ValueError(f"unknown threshold method {self.method!r}; choose one of {', '.join(METHODS)}")
        _check_level(self.method, self.level)
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

    @property
    def expected_fpr(self) -> float:
        """The share of normal images expected above the threshold."""
        return self.level if self.method == "fpr" else 1.0 - self.level / 100.0

    def decide(self, scores: Any) -> np.ndarray:
        """True where `scores` are above the threshold."""
        return np.asarray(scores) > self.threshold

    def describe(self) -> str:
        """One line: the score, the threshold and how it was fitted."""
        how = (f"fpr {self.level:g}" if self.method == "fpr" else f"percentile {self.level:g}")
        where = f" of {self.fitted_on}" if self.fitted_on else ""
        return (f"{self.score} score > {self.threshold:.6g} ({how} of {self.images} normal "
                f"images{where}: {100 * self.expected_fpr:.3g} % expected false positives)")

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict (the content of detector.json)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Threshold:
        """A Threshold from `to_dict`'s output; unknown or missing fields are a ValueError."""
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


def _check_level(method: str, level: Any) -> None:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not math.isfinite(level):
        raise ValueError(f"{method} must be a number, got {level!r}")
    if method == "percentile" and not 0 < level <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {level:g}")
    if method == "fpr" and not 0 <= level < 1:
        raise ValueError(f"fpr must be in [0, 1), got {level:g}")


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
def _check_score(model, score: str) -> None:
    from keras_ae.models import BaseAutoencoder, VariationalAutoencoder

    if not isinstance(model, BaseAutoencoder):
        raise ValueError(f"expected a keras_ae Autoencoder, got {type(model).__name__}")
    if score not in SCORES:
        raise ValueError(f"unknown score {score!r}; choose one of {', '.join(SCORES)}")
    if score == "elbo" and not isinstance(model, VariationalAutoencoder):
        raise ValueError(f"the elbo score needs a VariationalAutoencoder; {model.name!r} is "
                         f"{with_article(type(model).__name__)} (use the reconstruction score)")


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


def score_function(model, score: str = "reconstruction", *, elbo_samples: int = ELBO_SAMPLES,
                   seed: int = 0):
    """A function from a float image batch to per-image scores (a tensor of shape (batch,))."""
    _check_score(model, score)
    if score == "reconstruction":
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


def anomaly_scores(model, images: Any, *, score: str = "reconstruction",
                   elbo_samples: int = ELBO_SAMPLES, seed: int = 0, batch_size: int = BATCH_SIZE,
                   verbose: int = 0) -> np.ndarray:
    """Per-image anomaly scores of `images` (uint8, or float in [0, 1]; (N, H, W[, C])), in
    batches of `batch_size` (for ``elbo``, at most 2048 / `elbo_samples`), as float32 of shape
    (N,). `verbose=1` shows a progress bar."""
    import keras
    import tensorflow as tf

    from keras_ae.data import as_float_images

    batch_size = check_int(batch_size, "batch_size")
    elbo_samples = check_int(elbo_samples, "elbo_samples")
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
def _rule(percentile: float | None, fpr: float | None, n: int) -> tuple[str, float, float]:
    """(method, level, expected false-positive rate) of a percentile or fpr for `n` normal
    images (default: percentile 99); refuses a rate that `n` images cannot estimate."""
    if percentile is not None and fpr is not None:
        raise ValueError("give percentile or fpr, not both")
    method, level = ("fpr", fpr) if fpr is not None else (
        "percentile", DEFAULT_PERCENTILE if percentile is None else percentile)
    _check_level(method, level)
    if n == 0:
        raise ValueError("no normal images to fit a threshold on")
    expected_fpr = level if method == "fpr" else 1.0 - level / 100.0
    if 0 < expected_fpr and n * expected_fpr < 1:
        raise ValueError(
            f"{method} {level:g} needs at least {math.ceil(1 / expected_fpr)} normal images "
            f"(one expected above the threshold), got {n}")
    return method, float(level), expected_fpr


def threshold_from_scores(scores: Any, *, percentile: float | None = None,
                          fpr: float | None = None) -> tuple[float, str, float]:
    """(threshold, method, level) from the scores of normal images: their `percentile`-th
    percentile, or the 100 (1 - `fpr`)-th (default: percentile 99)."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    method, level, expected_fpr = _rule(percentile, fpr, scores.size)
    if not np.all(np.isfinite(scores)):
        raise ValueError("the normal scores contain NaN or inf")
    return float(np.percentile(scores, 100.0 * (1.0 - expected_fpr))), method, level


def fit_threshold(model, images: Any, *, percentile: float | None = None, fpr: float | None = None,
                  score: str = "reconstruction", elbo_samples: int = ELBO_SAMPLES, seed: int = 0,
                  batch_size: int = BATCH_SIZE, verbose: int = 0, fitted_on: str | None = None,
                  model_file: str | os.PathLike | None = None) -> Threshold:
    """Fit a threshold on normal `images` (e.g. the run's validation split): the given
    `percentile` of their scores, or the percentile that flags a share `fpr` of them (default:
    percentile 99). `model_file` ties the threshold to that file's weights."""
    _check_score(model, score)
    images = _checked_images(model, images)
    _rule(percentile, fpr, len(images))  # fail before scoring thousands of images
    scores = anomaly_scores(model, images, score=score, elbo_samples=elbo_samples, seed=seed,
                            batch_size=batch_size, verbose=verbose)
    value, method, level = threshold_from_scores(scores, percentile=percentile, fpr=fpr)
    return Threshold(score=score, threshold=value, method=method, level=level,
                     images=int(len(scores)), elbo_samples=elbo_samples, seed=seed,
                     fitted_on=fitted_on,
                     model_sha256=model_fingerprint(model_file) if model_file else None)


@dataclass(frozen=True)
class Detection:
    """Per-image `scores` (float32, (N,)), `is_anomaly` (bool, (N,)) and the `threshold` used."""

    scores: np.ndarray
    is_anomaly: np.ndarray
    threshold: Threshold


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
    return Detection(scores=scores, is_anomaly=threshold.decide(scores), threshold=threshold)


def detection_outputs(model, threshold: Threshold, image) -> dict[str, Any]:
    """What the exported `is_anomaly` signature computes, as tensors: `score` (float32) and
    `is_anomaly` (bool), both of shape (batch,)."""
    from keras import ops

    function = score_function(model, threshold.score, elbo_samples=threshold.elbo_samples,
                              seed=threshold.seed)
    score = ops.cast(function(image), "float32")
    return {"score": score, "is_anomaly": ops.greater(score, ops.cast(threshold.threshold, "float32"))}


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
