"""Shared fixtures: the real MNIST / Fashion-MNIST files, small .npz datasets and a trained run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# the precision measurements of `mixed_precision="auto"`, shared by the suite's processes (the
# tests that check the cache set their own)
os.environ.setdefault("KERAS_AE_CACHE_DIR", os.path.join(
    os.environ.get("TMPDIR", "/tmp"), f"keras_ae-test-cache-{os.getuid()}"))

REPO_ROOT = Path(__file__).resolve().parents[1]


LONGEST_FIRST = ("test_presets.py", "test_docs.py", "test_end_to_end.py", "test_examples.py",
                 "test_train.py", "test_distributed.py")
"""Test files whose tests run one after another for minutes, longest first: a worker takes the
next file when it is done with one, so that the short files fill the time at the end."""


PARALLEL = {"numprocesses": 2, "dist": "loadfile", "loadscopereorder": False}
"""With pytest-xdist installed and no `-n` given, the options `-n 2 --dist loadfile
--no-loadscope-reorder`: two worker processes, one per core, each taking whole files (module
fixtures built once), in the order `pytest_collection_modifyitems` gives them. Without
pytest-xdist (or with `-p no:xdist`, `-n 0`) the tests run in one process."""


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which turns these options into workers
def pytest_cmdline_main(config) -> None:
    if (not config.pluginmanager.hasplugin("xdist") or hasattr(config, "workerinput")
            or config.option.numprocesses is not None):
        return  # no xdist, an xdist worker, or `-n` given
    config.option.numprocesses = PARALLEL["numprocesses"]
    if config.option.dist == "no":
        config.option.dist = PARALLEL["dist"]
    config.option.loadscopereorder = PARALLEL["loadscopereorder"]


def pytest_collection_modifyitems(items) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order kept within


def _missing(message: str) -> None:
    if os.environ.get("KERAS_AE_REQUIRE_DATA") == "1":
        pytest.fail(f"{message} (KERAS_AE_REQUIRE_DATA=1)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """Folder holding mnist/ and fashion-mnist/ IDX files.

    Taken from KERAS_AE_DATA_DIR, else ``<repo>/../shared/data``. Tests using
    it skip when it is missing, or fail when KERAS_AE_REQUIRE_DATA=1.
    """
    raw = os.environ.get("KERAS_AE_DATA_DIR")
    path = Path(raw).expanduser() if raw else REPO_ROOT.parent / "shared" / "data"
    if not path.is_dir():
        _missing(f"real data folder not found: {path} (set KERAS_AE_DATA_DIR)")
    return path


@pytest.fixture(scope="session")
def real_dataset_dir(real_data_dir: Path):
    """Return ``real_data_dir / name``, skipping (or failing) when it is missing."""

    def get(name: str) -> Path:
        path = real_data_dir / name
        if not path.is_dir():
            _missing(f"real data folder not found: {path}")
        return path

    return get


def _two_logical_cpus() -> None:
    """Split the CPU into two logical devices before TensorFlow initialises them, so that
    distribution tests can place two replicas (single-device code uses the first)."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)


_two_logical_cpus()


@pytest.fixture
def fresh_data_cache():
    """keras_ae.data's caches emptied before and after the test (the data tests use it on
    every test: `pytestmark = pytest.mark.usefixtures("fresh_data_cache")`)."""
    from keras_ae import data

    data.clear_cache()
    yield
    data.clear_cache()


@pytest.fixture(scope="module")
def small_npz(tmp_path_factory) -> str:
    """An .npz dataset of 192 small structured uint8 images (160 train, 32 test)."""
    import numpy as np

    from harness import structured_images

    images = (structured_images(192) * 255).astype("uint8")
    path = tmp_path_factory.mktemp("data") / "small.npz"
    np.savez(path, x_train=images[:160], x_test=images[160:])
    return str(path)


@pytest.fixture(scope="session")
def npz_dataset(tmp_path_factory) -> str:
    """An .npz dataset of 320 structured uint8 images of MNIST's shape, 28x28x1 (256 train, 64
    test), for the command-line tests (a file may define its own under this name)."""
    import numpy as np

    from harness import structured_images

    images = (structured_images(320, shape=(28, 28, 1)) * 255).astype("uint8")
    path = tmp_path_factory.mktemp("data") / "digits.npz"
    np.savez(path, x_train=images[:256], y_train=np.zeros(256, "int64"),
             x_test=images[256:], y_test=np.zeros(64, "int64"))
    return str(path)


@pytest.fixture(scope="session")
def trained_run(npz_dataset, tmp_path_factory) -> Path:
    """A `seed` run trained on `npz_dataset` by `keras-ae train` (2 epochs, a code of 8, seed 3).
    Tests read it or copy it, never change it."""
    from keras_ae.cli import main

    run = tmp_path_factory.mktemp("runs") / "seed"
    assert main(["train", "--model", "seed", "--dataset", npz_dataset, "--epochs", "2",
                 "--latent-dim", "8", "--output", str(run), "--seed", "3", "--quiet"]) == 0
    return run
