"""Data sources read from disk: image folders, tfds datasets, the bundled digits, and the
pipelines that stream them (same batches as in memory, exact resume)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_ae import data
from keras_ae.cli import main
from keras_ae.data import DataError, load_arrays, open_data, open_split
from keras_ae.data import tfds_source
from keras_ae.data.images import conform_array

from test_train import CountEpochs, StopAtEpoch, config


@pytest.fixture(autouse=True)
def _fresh_cache():
    data.clear_cache()
    yield
    data.clear_cache()


def pixels(n: int, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


def save(folder: Path, name: str, array: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(path)
    return path


def write_folder(root: Path, images: np.ndarray, suffix: str = ".png") -> list[Path]:
    return [save(root, f"img{i:03d}{suffix}", image) for i, image in enumerate(images)]


# --------------------------------------------------------------------------- image folders


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


def test_resize_matches_keras_bilinear_resizing(tmp_path):
    image = pixels(1, (16, 16, 1), seed=6)
    write_folder(tmp_path, image)
    got, _ = load_arrays(tmp_path, "all", image_size=(32, 32))
    want = tf.image.resize(image.astype("float32"), (32, 32), method="bilinear", antialias=True)
    np.testing.assert_array_equal(got, np.clip(np.round(want.numpy()), 0, 255).astype(np.uint8))


def test_color_modes(tmp_path):
    rgb = pixels(2, (4, 4, 3), seed=7)
    write_folder(tmp_path / "rgb", rgb)
    luminance = np.round(rgb.astype(float) @ [0.299, 0.587, 0.114]).astype(np.uint8)[..., None]
    gray, _ = load_arrays(tmp_path / "rgb", "all", color_mode="grayscale")
    assert np.abs(gray.astype(int) - luminance).max() <= 1  # float32 rounding at .5
    rgba, _ = load_arrays(tmp_path / "rgb", "all", color_mode="rgba")
    np.testing.assert_array_equal(rgba[..., :3], rgb)
    assert (rgba[..., 3] == 255).all()

    alpha = pixels(2, (4, 4, 4), seed=8)
    write_folder(tmp_path / "rgba", alpha)
    default, _ = load_arrays(tmp_path / "rgba", "all")  # colour images default to rgb
    np.testing.assert_array_equal(default, alpha[..., :3])
    kept, _ = load_arrays(tmp_path / "rgba", "all", color_mode="rgba")
    np.testing.assert_array_equal(kept, alpha)

    gray_images = pixels(2, (4, 4, 1), seed=9)
    write_folder(tmp_path / "gray", gray_images)
    default, _ = load_arrays(tmp_path / "gray", "all")  # grayscale images stay grayscale
    np.testing.assert_array_equal(default, gray_images)
    tiled, _ = load_arrays(tmp_path / "gray", "all", color_mode="rgb")
    np.testing.assert_array_equal(tiled, np.repeat(gray_images, 3, axis=-1))
    with pytest.raises(DataError, match="unknown color mode 'cmyk'; choose from grayscale, rgb, rgba"):
        load_arrays(tmp_path / "gray", "all", color_mode="cmyk")


@pytest.mark.parametrize("value, size", [("64x48", (64, 48)), ("32", (32, 32)), ((5, 6), (5, 6)),
                                         (7, (7, 7))])
def test_parse_image_size(value, size):
    assert data.parse_image_size(value) == size


@pytest.mark.parametrize("value", ["64x", "axb", "0x4", (1, 2, 3), "99999x2"])
def test_parse_image_size_rejects(value):
    with pytest.raises(DataError, match="image size"):
        data.parse_image_size(value)


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


def test_damaged_image_stops_training_with_its_path(tmp_path):
    from keras_ae.training.train import train

    paths = write_folder(tmp_path / "images", pixels(24, (32, 32, 1), seed=12), suffix=".jpg")
    whole = paths[5].read_bytes()
    paths[5].write_bytes(whole[: len(whole) * 3 // 4])
    with pytest.raises(DataError, match=rf"cannot decode image {paths[5]}"):
        train(config(str(tmp_path / "images"), epochs=1, batch_size=8), verbose=0)


# --------------------------------------------------------------------------- streaming pipelines


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


# --------------------------------------------------------------------------- data dirs


def test_npz_file_as_data_dir(tmp_path):
    x = pixels(20, (6, 6))
    np.savez(tmp_path / "mine.npz", x_train=x[:16], x_test=x[16:])
    got, _ = load_arrays("mnist", "test", data_dir=tmp_path / "mine.npz")
    np.testing.assert_array_equal(got[..., 0], x[16:])


def test_empty_or_missing_data_dir_never_downloads(tmp_path, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(tfds_source, "network_reachable", no_download)
    (tmp_path / "empty").mkdir()
    for folder, extra in ((tmp_path / "empty", ""), (tmp_path / "absent", " (no such folder)")):
        with pytest.raises(DataError) as info:
            load_arrays("mnist", "train", data_dir=folder)
        assert str(info.value) == f"no IDX or image files found in {folder}{extra}"


def test_data_dir_holding_an_image_folder_named_like_the_dataset(tmp_path):
    write_folder(tmp_path / "flowers" / "rose", pixels(3, (4, 4, 3)))
    images, labels = load_arrays("flowers", "all", data_dir=tmp_path)
    assert images.shape == (3, 4, 4, 3) and list(labels) == [0, 0, 0]


# --------------------------------------------------------------------------- bundled digits


def test_offline_mnist_falls_back_to_the_bundled_digits(monkeypatch, caplog):
    monkeypatch.setattr(tfds_source, "network_reachable", lambda *a, **k: False)
    with caplog.at_level(logging.WARNING, logger="keras_ae.data"):
        train_x, train_y = load_arrays("mnist", "train")
        val_x, _ = load_arrays("mnist", "validation")
    assert train_x.shape == (9000, 28, 28, 1) and val_x.shape == (1000, 28, 28, 1)
    assert set(np.unique(train_y)) == set(range(10))
    notes = [r.getMessage() for r in caplog.records if "bundled" in r.getMessage()]
    assert len(notes) == 1 and "\n" not in notes[0]
    assert notes[0].startswith("tensorflow-datasets cannot download MNIST (offline?)")
    with pytest.raises(DataError, match="bundled MNIST digits .* evaluate on split 'validation'"):
        load_arrays("mnist", "test")


def test_a_proxy_refusing_tfds_downloads_is_offline_and_asked_once(monkeypatch):
    """A proxy that accepts connections but refuses the download host counts as offline (tfds
    would retry for minutes), and a process asks only once."""
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    connections = []

    def refuse():
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            connections.append(client.recv(4096))
            client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            client.close()

    threading.Thread(target=refuse, daemon=True).start()
    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{server.getsockname()[1]}")
    tfds_source.forget_offline()  # an earlier test of this process may have found no network
    try:
        assert tfds_source.network_reachable() is False
        assert tfds_source.network_reachable() is False
        load_arrays("mnist", "validation")  # offline: the bundled digits, with no further probe
        deadline = time.monotonic() + 30  # on a busy machine the probe may give up before
        while not connections and time.monotonic() < deadline:  # its request reaches the proxy
            time.sleep(0.05)
    finally:
        server.close()
    assert len(connections) == 1 and connections[0].startswith(b"CONNECT storage.googleapis.com")


def test_main_job_runs_offline_on_the_bundled_digits(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(tfds_source, "network_reachable", lambda *a, **k: False)
    run = tmp_path / "runs" / "seed"
    assert main(["train", "--model", "seed", "--dataset", "mnist", "--epochs", "1",
                 "--output", str(run), "--quiet"]) == 0
    printed = capsys.readouterr()  # keras_ae's notes go to stderr, stdout is for results
    assert "keras-ae: note: tensorflow-datasets cannot download MNIST" in printed.err
    assert "bundled with keras_ae" in printed.err and "keras-ae: note" not in printed.out
    # README's "See what it learned": no test split, so the commands use the validation split
    done = subprocess.run(
        [str(Path(sys.executable).with_name("keras-ae")), "plot", str(run), "--what",
         "reconstructions", "--output", str(tmp_path / "r.png")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**os.environ, "https_proxy": "http://127.0.0.1:9",  # offline, whatever the machine
             "TFDS_DATA_DIR": str(tmp_path / "tfds")})
    assert done.returncode == 0, done.stderr
    said = done.stdout + done.stderr
    assert said.count("keras-ae: note: no test split in the bundled MNIST digits: using the "
                      "validation split\n") == 1
    assert (tmp_path / "r.png").is_file()
    assert main(["evaluate", str(run), "--json", "--no-features"]) == 0
    said = capsys.readouterr()
    assert (said.out + said.err).count("no test split in the bundled MNIST digits") == 1
    assert '"split": "validation", "images": 1000' in said.out
    for command in (["evaluate", str(run), "--split", "test"],
                    ["detect", str(run), "--fit", "--split", "test"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert err == ("keras-ae: error: --split test: no test split in the bundled MNIST digits; "
                       "its splits are train, validation, all\n")
    assert main(["detect", str(run), "--fit", "--json"]) == 0  # validation, as by default
    assert '"fitted_on": "mnist [validation]"' in capsys.readouterr().out


# --------------------------------------------------------------------------- command line


def test_cli_trains_and_evaluates_on_a_folder(tmp_path, capsys):
    write_folder(tmp_path / "photos", pixels(30, (10, 12, 3), seed=15))
    run = tmp_path / "run"
    assert main(["train", "--model", "conv", "--dataset", str(tmp_path / "photos"),
                 "--image-size", "8x8", "--color-mode", "grayscale", "--epochs", "1",
                 "--batch-size", "4", "--latent-dim", "4", "--output", str(run), "--quiet"]) == 0
    saved = (run / "config.json").read_text()
    assert '"image_size": [\n    8,\n    8\n  ]' in saved and '"color_mode": "grayscale"' in saved
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0  # a folder has no test split
    said = capsys.readouterr()
    note = f"no test split in {tmp_path / 'photos'}: using the validation split"
    assert note in said.out + said.err
    assert '"split": "validation", "images": 3,' in said.out and '"fit_images": 27' in said.out
    assert main(["plot", str(run), "--what", "errors", "-n", "2",
                 "--output", str(tmp_path / "errors.png")]) == 0
    said = capsys.readouterr()
    assert note in said.out + said.err and (tmp_path / "errors.png").is_file()
    assert main(["plot", str(run), "--what", "errors", "--split", "test"]) == 2
    assert capsys.readouterr().err == (f"keras-ae: error: --split test: no test split in "
                                       f"{tmp_path / 'photos'}; its splits are train, "
                                       "validation, all\n")
    assert main(["train", "--dataset", str(tmp_path / "photos"), "--image-size", "8y8"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "image size must be HxW" in err


# --------------------------------------------------------------------------- tensorflow-datasets


def _register_tiny_builder() -> None:
    """A tiny tfds image dataset, prepared locally (no download) for the tests below."""
    import tensorflow_datasets as tfds

    class KerasAeTinyImages(tfds.core.GeneratorBasedBuilder):  # registered as keras_ae_tiny_images
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(6, 6, 1)),
                "label": tfds.features.ClassLabel(num_classes=3)}))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(30, 0), "test": self._generate_examples(8, 1)}

        def _generate_examples(self, n, seed):
            for i, image in enumerate(pixels(n, (6, 6, 1), seed=seed)):
                yield i, {"image": image, "label": i % 3}


@pytest.fixture(scope="module")
def tiny_tfds(tmp_path_factory):
    pytest.importorskip("tensorflow_datasets")
    import tensorflow_datasets as tfds

    _register_tiny_builder()
    dirs = {}
    for fmt in ("array_record", "tfrecord"):
        dirs[fmt] = tmp_path_factory.mktemp(fmt)
        tfds.builder("keras_ae_tiny_images", data_dir=dirs[fmt], file_format=fmt).download_and_prepare()
    return dirs


@pytest.mark.parametrize("fmt, kind", [("array_record", "IndexedSplit"), ("tfrecord", "StreamedSplit")])
def test_tfds_splits_read_from_disk(tiny_tfds, fmt, kind, monkeypatch):
    import tensorflow_datasets as tfds

    monkeypatch.setattr(tfds_source, "_MIN_SHUFFLE", 8)  # streamed epochs: blocks of 8 images
    monkeypatch.setattr(tfds_source, "_SHUFFLE_BYTES", 1)
    data_dir = tiny_tfds[fmt]
    builder = tfds.builder("keras_ae_tiny_images", data_dir=data_dir)
    if fmt == "array_record":
        examples = list(builder.as_data_source("train"))
    else:
        examples = list(tfds.as_numpy(builder.as_dataset(split="train", shuffle_files=False)))
    pool = np.stack([ex["image"] for ex in examples])
    pool_labels = np.array([ex["label"] for ex in examples])
    train = open_split("keras_ae_tiny_images", "train", data_dir=data_dir, validation_fraction=0.2)
    val = open_split("keras_ae_tiny_images", "validation", data_dir=data_dir, validation_fraction=0.2)
    assert type(train).__name__ == kind and len(train) == 24 and len(val) == 6
    train_idx, val_idx = data.splits.carve_indices(30, 0.2)
    np.testing.assert_array_equal(train.images(), pool[train_idx])
    np.testing.assert_array_equal(val.images(), pool[val_idx])
    np.testing.assert_array_equal(val.labels, pool_labels[val_idx])
    test = open_split("keras_ae_tiny_images", "test", data_dir=data_dir)
    assert test.images().shape == (8, 6, 6, 1)
    splits = open_data("keras_ae_tiny_images", data_dir=data_dir).splits
    assert sorted(splits) == ["all", "test", "train", "validation"]
    assert open_split("keras_ae_tiny_images", "train[:10]", data_dir=data_dir).images().shape[0] == 10
    resized = open_split("keras_ae_tiny_images", "validation", data_dir=data_dir,
                         validation_fraction=0.2, image_size=(3, 3), color_mode="rgb")
    np.testing.assert_array_equal(resized.images(), conform_array(pool[val_idx], (3, 3), 3))

    # an epoch depends only on (seed, epoch): a resumed run sees the same batches
    whole, steps = train.epochs(5, seed=4, epochs=3)
    later, _ = train.epochs(5, seed=4, epochs=3, first_epoch=2)
    batches = [b.numpy() for b in whole]
    assert steps == 5 and len(batches) == 15
    for a, b in zip(batches[10:], later):
        np.testing.assert_array_equal(a, b.numpy())
    first_epoch = np.concatenate(batches[:5])
    assert sorted(map(bytes, first_epoch)) == sorted(map(bytes, pool[train_idx]))
    assert not np.array_equal(first_epoch, np.concatenate(batches[5:10]))
