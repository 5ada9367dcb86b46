"""keras_ae.data.folder: folders of image files — class subfolders as labels, every format,
sizes, and unreadable or damaged files named or skipped."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from keras_ae.data import DataError, load_arrays, open_data
from keras_ae.data.images import conform_array

from image_files import pixels, save, write_folder

pytestmark = pytest.mark.usefixtures("fresh_data_cache")


def test_class_subfolders_give_sorted_labels(tmp_path, caplog):
    cats, dogs = pixels(3, (6, 5, 3), seed=1), pixels(2, (6, 5, 3), seed=2)
    save(tmp_path / "dog", "b.png", dogs[1])
    save(tmp_path / "dog" / "puppies", "a.png", dogs[0])  # nested: still a dog
    for i, cat in enumerate(cats):
        save(tmp_path / "cat", f"{i}.png", cat)
    save(tmp_path, "loose.png", cats[0])
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    (tmp_path / "empty_class").mkdir()
    with caplog.at_level(logging.WARNING, logger="keras_ae.data"):
        images, labels = load_arrays(tmp_path, "all")
    assert images.shape == (5, 6, 5, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(images[:3], cats)
    np.testing.assert_array_equal(images[3], dogs[1])  # dog/b.png sorts before dog/puppies/
    np.testing.assert_array_equal(images[4], dogs[0])
    assert open_data(tmp_path).train.class_names == ("cat", "dog", "empty_class")
    assert any("1 image files directly in" in r.getMessage() for r in caplog.records)


def test_flat_folder_of_every_format_has_no_labels(tmp_path):
    gray = pixels(4, (7, 9, 1), seed=3)
    for image, suffix in zip(gray, (".png", ".bmp", ".gif", ".jpeg")):
        save(tmp_path, f"{suffix[1:]}{suffix}", image)
    images, labels = load_arrays(tmp_path, "all")
    assert labels is None and images.shape == (4, 7, 9, 1)
    order = {name: i for i, name in enumerate(sorted(["png.png", "bmp.bmp", "gif.gif", "jpeg.jpeg"]))}
    for i, suffix in enumerate((".png", ".bmp", ".gif")):  # lossless formats
        np.testing.assert_array_equal(images[order[f"{suffix[1:]}{suffix}"]], gray[i])
    jpeg = images[order["jpeg.jpeg"]].astype(int)
    assert np.abs(jpeg - gray[3]).mean() < 40  # lossy, but the same picture
    with pytest.raises(DataError, match=r"a single pool of images, not a test set; use split 'validation'"):
        load_arrays(tmp_path, "test")


def test_sizes_that_agree_are_kept_and_disagreeing_sizes_need_image_size(tmp_path):
    write_folder(tmp_path / "same", pixels(3, (5, 7, 3)))
    assert load_arrays(tmp_path / "same", "all")[0].shape == (3, 5, 7, 3)

    mixed = tmp_path / "mixed"
    big = pixels(2, (8, 8, 3), seed=4)
    write_folder(mixed, big)
    save(mixed, "small.png", pixels(1, (4, 6, 3), seed=5)[0])
    with pytest.raises(DataError) as info:
        load_arrays(mixed, "all")
    message = str(info.value)
    assert "have 2 different sizes" in message and "--image-size HxW" in message
    assert "8x8" in message and "4x6" in message and "small.png" in message

    resized, _ = load_arrays(mixed, "all", image_size="6x6")
    assert resized.shape == (3, 6, 6, 3) and resized.dtype == np.uint8
    np.testing.assert_array_equal(resized[:2], conform_array(big, (6, 6), 3))
    assert load_arrays(mixed, "all", image_size=(4, 5))[0].shape == (3, 4, 5, 3)


def test_unreadable_image_is_named_and_can_be_skipped(tmp_path, caplog):
    good = write_folder(tmp_path, pixels(4, (6, 6, 3), seed=10))
    (tmp_path / "zero.png").write_bytes(b"")
    (tmp_path / "text.jpg").write_bytes(b"this is not a jpeg at all")
    truncated = good[1].read_bytes()
    good[1].write_bytes(truncated[: len(truncated) // 2])
    with pytest.raises(DataError) as info:
        load_arrays(tmp_path, "all")
    message = str(info.value)
    assert str(good[1]) in message and "(2 more unreadable files)" in message
    assert "--skip-bad-images" in message and "\n" not in message

    with caplog.at_level(logging.WARNING, logger="keras_ae.data"):
        images, _ = load_arrays(tmp_path, "all", skip_bad_images=True)
    assert images.shape == (3, 6, 6, 3)
    notes = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(notes) == 1 and notes[0].startswith("skipped 3 unreadable or damaged images of 6 in")


def test_damaged_pixels_behind_a_good_header_are_named_or_skipped(tmp_path, caplog):
    paths = write_folder(tmp_path, pixels(5, (64, 64, 3), seed=11), suffix=".jpg")
    whole = paths[2].read_bytes()
    paths[2].write_bytes(whole[: len(whole) * 3 // 4])  # the header is intact, the scan is cut
    with pytest.raises(DataError, match=rf"cannot decode image {paths[2]}; .*--skip-bad-images"):
        load_arrays(tmp_path, "all")
    with caplog.at_level(logging.WARNING, logger="keras_ae.data"):
        images, _ = load_arrays(tmp_path, "all", skip_bad_images=True)
    assert images.shape == (4, 64, 64, 3)
    assert any("skipped 1 unreadable or damaged image of 5" in r.getMessage() for r in caplog.records)
