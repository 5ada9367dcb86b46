"""keras_ae.data.idx: reading IDX image and label files, gzipped or plain, and the errors of
damaged ones."""

from __future__ import annotations

import numpy as np
import pytest

from keras_ae.data import DataError
from keras_ae.data import idx as idx_module

from idx_files import make_digits, write_idx

pytestmark = pytest.mark.usefixtures("fresh_data_cache")


@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip(tmp_path, gz):
    x, y = make_digits(7, seed=3, h=5, w=4)
    images = idx_module.read_idx_images(write_idx(tmp_path / "img", x, gz=gz))
    labels = idx_module.read_idx_labels(write_idx(tmp_path / "lbl", y, gz=gz))
    np.testing.assert_array_equal(images, x)
    np.testing.assert_array_equal(labels, y)
    assert images.dtype == np.uint8 and images.shape == (7, 5, 4)


def test_gzip_detected_by_content_not_name(tmp_path):
    x, _ = make_digits(3, seed=0)
    gz_named_plain = write_idx(tmp_path / "a.gz", x, gz=False)
    plain_named_gz = write_idx(tmp_path / "b", x, gz=True)
    np.testing.assert_array_equal(idx_module.read_idx_images(gz_named_plain), x)
    np.testing.assert_array_equal(idx_module.read_idx_images(plain_named_gz), x)


def test_idx_wrong_magic(tmp_path):
    _, y = make_digits(4, seed=0)
    labels_file = write_idx(tmp_path / "labels", y, gz=True)
    with pytest.raises(DataError, match=r"wrong IDX magic number 0x00000801") as info:
        idx_module.read_idx_images(labels_file)
    assert str(labels_file) in str(info.value)
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"hello world, not idx")
    with pytest.raises(DataError, match="magic"):
        idx_module.read_idx_labels(garbage)


def test_idx_truncated_plain(tmp_path):
    x, _ = make_digits(4, seed=0)
    path = write_idx(tmp_path / "img", x, gz=False)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match=r"truncated IDX file .*needs 3136 data bytes, found 3126") as info:
        idx_module.read_idx_images(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_idx_truncated_gzip(tmp_path):
    x, _ = make_digits(4, seed=0)
    path = write_idx(tmp_path / "img.gz", x, gz=True)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(DataError, match="corrupt or truncated gzip file") as info:
        idx_module.read_idx_images(path)
    assert str(path) in str(info.value)


def test_idx_missing_file(tmp_path):
    with pytest.raises(DataError, match="IDX file not found"):
        idx_module.read_idx_images(tmp_path / "nope")
