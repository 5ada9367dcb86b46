"""keras_ae.data.noise: the corruptions and their amounts, and parsing their specs."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from keras_ae.data import DataError, Noise, parse_noise

pytestmark = pytest.mark.usefixtures("fresh_data_cache")


def test_noise_amounts():
    x = tf.fill([4, 50, 50, 1], 0.5)
    masked = Noise("masking", 0.3).apply(x, seed=1).numpy()
    assert set(np.unique(masked)) <= {0.0, 0.5}
    assert abs((masked == 0).mean() - 0.3) < 0.03
    sp = parse_noise("salt_pepper:0.2").apply(x, seed=2).numpy()
    assert abs((sp == 0).mean() - 0.1) < 0.02 and abs((sp == 1).mean() - 0.1) < 0.02
    gauss = parse_noise("gaussian:0.1").apply(x, seed=3).numpy()
    assert abs(float(gauss.std()) - 0.1) < 0.01
    rgb = parse_noise("masking:0.5").apply(tf.fill([2, 8, 8, 3], 0.5), seed=4).numpy()
    zeroed = rgb == 0
    assert (zeroed.all(axis=-1) == zeroed.any(axis=-1)).all()  # whole pixels are masked
    np.testing.assert_array_equal(
        Noise("gaussian", 0.2).apply(x, seed=7).numpy(), Noise("gaussian", 0.2).apply(x, seed=7).numpy()
    )


def test_parse_noise():
    assert parse_noise("gaussian:0.5") == Noise("gaussian", 0.5)
    assert parse_noise(" Salt-Pepper:0.1 ") == Noise("salt_pepper", 0.1)
    assert str(parse_noise("masking:0.3")) == "masking:0.3"
    with pytest.raises(DataError, match="unknown noise kind 'speckle'; choose from gaussian, masking, salt_pepper"):
        parse_noise("speckle:0.1")
    with pytest.raises(DataError, match="needs an amount"):
        parse_noise("gaussian")
    with pytest.raises(DataError, match="not a number"):
        parse_noise("gaussian:lots")
    with pytest.raises(DataError, match=r"fraction must be in \(0, 1\]"):
        parse_noise("masking:1.5")
    with pytest.raises(DataError, match="stddev must be > 0"):
        parse_noise("gaussian:0")
