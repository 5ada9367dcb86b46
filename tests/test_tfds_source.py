"""keras_ae.data.tfds_source: tensorflow-datasets names — mocked MNIST, failing fast offline
(also behind a refusing proxy), unknown or image-less datasets, and splits read from disk."""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest
import tensorflow as tf

from keras_ae import data
from keras_ae.data import DataError, autoencoder_dataset, load_arrays, open_data, open_split
from keras_ae.data import tfds_source
from keras_ae.data.images import conform_array

from image_files import pixels

pytestmark = pytest.mark.usefixtures("fresh_data_cache")


def test_tfds_mock_mnist(monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")
    from keras_ae.data import tfds_source

    # The mocked builder is never "prepared"; let its no-op download run.
    monkeypatch.setattr(tfds_source, "network_reachable", lambda *a, **k: True)
    with tfds.testing.mock_data(num_examples=40):
        train_x, train_y = load_arrays("mnist", "train")
        val_x, val_y = load_arrays("mnist", "validation", validation_fraction=0.25)
        test_x, test_y = load_arrays("mnist", "test")
        sliced_x, _ = load_arrays("mnist", "train[:10%]", with_labels=False)
        pool_x, pool_y = tfds_source.load_tfds("mnist", "train", None)
        batch = next(iter(autoencoder_dataset("mnist", batch_size=8, seed=0)))
    assert train_x.shape == (36, 28, 28, 1) and train_x.dtype == np.uint8
    assert train_y.dtype == np.int64 and set(train_y) <= set(range(10))
    assert val_x.shape == (10, 28, 28, 1)
    assert test_x.shape == (40, 28, 28, 1) and sliced_x.shape[1:] == (28, 28, 1)
    _, val_idx = data.splits.carve_indices(40, 0.25)
    np.testing.assert_array_equal(val_x, pool_x[val_idx])
    np.testing.assert_array_equal(val_y, pool_y[val_idx])
    assert batch[0].shape == (8, 28, 28, 1) and batch[0].dtype == tf.float32


def test_tfds_offline_fails_fast(monkeypatch):
    pytest.importorskip("tensorflow_datasets")

    def no_network(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    start = time.monotonic()
    with pytest.raises(DataError) as info:
        load_arrays("fashion_mnist", "train")  # mnist would fall back to the bundled digits
    assert time.monotonic() - start < 15
    message = str(info.value)
    assert message.startswith("could not download 'fashion_mnist' with tensorflow-datasets (offline?)")
    assert "--data-dir DIR" in message and "\n" not in message


def test_tfds_unknown_name():
    pytest.importorskip("tensorflow_datasets")
    with pytest.raises(DataError, match="unknown dataset 'no_such_dataset_xyz'"):
        load_arrays("no_such_dataset_xyz")


def test_tfds_dataset_without_images():
    pytest.importorskip("tensorflow_datasets")
    with pytest.raises(DataError, match="has no 'image' feature"):
        load_arrays("imdb_reviews")


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
        builder = tfds.builder("keras_ae_tiny_images", data_dir=dirs[fmt], file_format=fmt)
        # generated here: no look-up of a prepared copy on tfds's GCS bucket (which can hang)
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(try_download_gcs=False))
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
