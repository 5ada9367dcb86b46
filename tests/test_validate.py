"""keras_ae.data.validate: what images are accepted, and the dtypes they are given."""

from __future__ import annotations

import numpy as np
import pytest

from keras_ae.data import DataError, validate_images

pytestmark = pytest.mark.usefixtures("fresh_data_cache")


@pytest.mark.parametrize(
    "array, message",
    [
        (np.full((2, 3, 3), np.inf, np.float32), "inf"),
        (np.full((2, 3, 3), np.nan), "NaN"),
        (np.full((2, 3, 3), 1.5), r"float images must lie in \[0, 1\]"),
        (np.full((2, 3, 3), 300, np.int32), r"integer images must lie in \[0, 255\]"),
        (np.full((2, 3, 3), "a"), "must be numeric"),
        (np.zeros((3, 3)), r"got shape \(3, 3\)"),
        (np.zeros((0, 3, 3)), "empty"),
    ],
)
def test_validate_images_rejects(array, message):
    with pytest.raises(DataError, match=message):
        validate_images(array)


def test_validate_images_normalises():
    assert validate_images(np.full((2, 3, 3), 7, np.int64)).dtype == np.uint8
    assert validate_images(np.zeros((2, 3, 3), np.float64)).dtype == np.float32
    assert validate_images(np.zeros((2, 3, 3, 3), np.uint8)).shape == (2, 3, 3, 3)
