"""keras_ae.data.sources: splits read from disk stream the batches of the same images in
memory, resume exactly, and stop a run on a damaged file with its path."""

from __future__ import annotations

import numpy as np
import pytest

from keras_ae.data import DataError, open_data

from image_files import pixels, save, write_folder
from test_train import CountEpochs, StopAtEpoch, config

pytestmark = pytest.mark.usefixtures("fresh_data_cache")


def test_damaged_image_stops_training_with_its_path(tmp_path):
    from keras_ae.training.train import train

    paths = write_folder(tmp_path / "images", pixels(24, (32, 32, 1), seed=12), suffix=".jpg")
    whole = paths[5].read_bytes()
    paths[5].write_bytes(whole[: len(whole) * 3 // 4])
    with pytest.raises(DataError, match=rf"cannot decode image {paths[5]}"):
        train(config(str(tmp_path / "images"), epochs=1, batch_size=8), verbose=0)


def test_folder_pipelines_give_the_batches_of_the_same_images_in_memory(tmp_path):
    images = pixels(23, (5, 5, 3), seed=13)
    labels = np.arange(23) % 4
    for i, (image, label) in enumerate(zip(images, labels)):
        save(tmp_path / f"class{label}", f"{i:03d}.png", image)
    order = np.argsort(labels, kind="stable")  # files are read class by class
    on_disk = open_data(tmp_path).split("train", 0.2)
    in_memory = open_data((images[order], labels[order])).split("train", 0.2)
    np.testing.assert_array_equal(on_disk.indices, in_memory.indices)

    disk_epochs, steps = on_disk.epochs(4, seed=3, epochs=3)
    memory_epochs, same_steps = in_memory.epochs(4, seed=3, epochs=3)
    assert steps == same_steps == 5
    disk_batches = [b.numpy() for b in disk_epochs]
    memory_batches = [b.numpy() for b in memory_epochs]
    assert len(disk_batches) == len(memory_batches) == 15
    for a, b in zip(disk_batches, memory_batches):
        np.testing.assert_array_equal(a, b)
    shuffled = [list(s.batches(5, shuffle=True, seed=9, with_labels=True)) for s in (on_disk, in_memory)]
    for (xa, ya), (xb, yb) in zip(*shuffled):
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())


def test_folder_run_resumes_exactly(tmp_path):
    from keras_ae.training.train import train

    folder = tmp_path / "images"
    write_folder(folder, (pixels(40, (6, 6, 1), seed=14) // 2 + 64).astype(np.uint8))
    cfg = config(str(folder), epochs=3, batch_size=8)
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(cfg, run, verbose=0, callbacks=[StopAtEpoch(2)])
    counter = CountEpochs()
    resumed = train(cfg, run, verbose=0, callbacks=[counter])
    assert resumed.resumed and counter.epochs == [2]
    whole = train(cfg, tmp_path / "whole", verbose=0)
    for a, b in zip(whole.model.get_weights(), resumed.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert [r["val_loss"] for r in whole.history] == [r["val_loss"] for r in resumed.history]
