"""What the detection tests share: images nothing like the structured ones the models learn,
and how many of the true anomalies a detector flagged."""

from __future__ import annotations

import numpy as np

from harness import SMALL


def noise_images(n, seed=1):
    """Random black and white pixels: nothing like the structured images the models learn."""
    return (np.random.default_rng(seed).random((n, *SMALL)) > 0.5).astype("float32")


def recall_precision(flagged, truth):
    hits = np.sum(flagged & truth)
    return hits / truth.sum(), hits / max(flagged.sum(), 1)


def f1(flagged, truth):
    return 2 * np.sum(flagged & truth) / (flagged.sum() + truth.sum())
