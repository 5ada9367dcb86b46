"""Loading image datasets from tensorflow-datasets into NumPy arrays."""

from __future__ import annotations

import functools
import socket
import threading
import urllib.parse
import urllib.request

import numpy as np

from .errors import DataError, first_line
from .validate import validate_images, validate_labels

_PROBE_HOST = ("storage.googleapis.com", 443)
_PROBE_TIMEOUT_S = 5.0
_CHUNK = 4096


def _why(exc: BaseException) -> str:
    return first_line(exc, 160, with_type=True)


def tfds_name(source: str) -> str:
    """The tfds spelling of a dataset name (``fashion-mnist`` -> ``fashion_mnist``)."""
    return source.strip().lower().replace("-", "_")


def offline_message(name: str) -> str:
    return (
        f"could not download {name!r} with tensorflow-datasets (offline?); pass --data-dir DIR "
        "pointing to a folder of IDX files (train-images-idx3-ubyte.gz …) or an .npz file"
    )


def _probe_target() -> tuple[str, int]:
    proxy = urllib.request.getproxies().get("https")
    if proxy:
        parsed = urllib.parse.urlsplit(proxy if "//" in proxy else f"//{proxy}")
        if parsed.hostname:
            return parsed.hostname, parsed.port or 443
    return _PROBE_HOST


def network_reachable(timeout: float = _PROBE_TIMEOUT_S) -> bool:
    """Whether the tfds download host (or the HTTPS proxy) accepts a connection.

    Name resolution cannot be given a timeout, so the attempt runs in a
    daemon thread and counts as a failure if it has not finished in time.
    """
    result: list[bool] = []
    host, port = _probe_target()

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=attempt, name="keras_ae-network-probe", daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    return bool(result and result[0])


def _import_tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError as exc:
        raise DataError(f"tensorflow-datasets is not available ({_why(exc)})") from None
    return tfds


def _builder(tfds, name: str, data_dir: str | None):
    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise DataError(
            f"unknown dataset {name!r}: not an existing file or folder, and "
            "tensorflow-datasets has no dataset by that name"
        ) from None
    except Exception as exc:
        raise DataError(f"cannot open tensorflow-datasets dataset {name!r} ({_why(exc)})") from None


def _prepare(builder, name: str) -> None:
    if not network_reachable():
        raise DataError(offline_message(name))
    try:
        builder.download_and_prepare()
    except Exception as exc:
        raise DataError(f"{offline_message(name)} [{_why(exc)}]") from None


def load_tfds(name: str, split: str, data_dir: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Load one tfds split (any tfds split string) as images ``(N, H, W, C)`` and labels.

    Downloads the dataset if it is not prepared yet; raises DataError when
    that is impossible. Repeated loads come from a cache (read-only arrays).
    """
    return _cached_tfds(tfds_name(name), split, None if data_dir is None else str(data_dir))


@functools.lru_cache(maxsize=8)
def _cached_tfds(name: str, split: str, data_dir: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    tfds = _import_tfds()
    builder = _builder(tfds, name, data_dir)
    try:
        features = builder.info.features
        keys = list(features.keys()) if hasattr(features, "keys") else []
    except Exception as exc:
        raise DataError(f"cannot read the features of {name!r} ({_why(exc)})") from None
    if "image" not in keys:
        raise DataError(
            f"tensorflow-datasets dataset {name!r} has no 'image' feature (features: {', '.join(keys) or 'none'})"
        )
    shape = tuple(features["image"].shape)
    if None in shape:
        raise DataError(f"tensorflow-datasets dataset {name!r} has images of varying size {shape}")
    with_labels = "label" in keys
    if not builder.is_prepared():
        _prepare(builder, name)
    try:
        ds = builder.as_dataset(split=split, shuffle_files=False)
    except Exception as exc:
        raise DataError(f"cannot read split {split!r} of {name!r} ({_why(exc)})") from None

    def pick(example):
        return (example["image"], example["label"]) if with_labels else (example["image"],)

    images, labels = [], []
    try:
        for batch in tfds.as_numpy(ds.map(pick).batch(_CHUNK)):
            images.append(batch[0])
            if with_labels:
                labels.append(batch[1])
    except Exception as exc:
        raise DataError(f"cannot read split {split!r} of {name!r} ({_why(exc)})") from None
    if not images:
        raise DataError(f"split {split!r} of {name!r} is empty")
    x = validate_images(np.concatenate(images))
    y = validate_labels(np.concatenate(labels), len(x)) if with_labels else None
    x.flags.writeable = False
    if y is not None:
        y.flags.writeable = False
    return x, y


def clear_tfds_cache() -> None:
    """Forget cached tfds splits."""
    _cached_tfds.cache_clear()
