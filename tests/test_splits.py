"""keras_ae.data.splits: the validation carve, the same whatever the global seeds."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from keras_ae.data import load_arrays

from idx_files import make_digits

pytestmark = pytest.mark.usefixtures("fresh_data_cache")


def test_validation_carve_is_deterministic_and_seed_independent():
    x, y = make_digits(100, seed=9)
    np.random.seed(1)
    tf.random.set_seed(1)
    a, _ = load_arrays((x, y), "validation")
    np.random.seed(2)
    tf.random.set_seed(2)
    b, _ = load_arrays((x, y), "validation")
    np.testing.assert_array_equal(a, b)
    assert len(a) == 10
