"""Fuzzing the readers of user files with hypothesis: whatever the bytes or the JSON, each reader
gives a valid result or the library's own error (DataError for data, ValueError raised by
keras_ae for configs, thresholds and inputs), never another exception.

KERAS_AE_FUZZ_EXAMPLES=2000 runs each fuzzer on more examples (the suite's default is 60).
"""

from __future__ import annotations

import atexit
import gzip
import io
import json
import os
import shutil
import struct
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from keras_ae.analysis.detect import Threshold
from keras_ae.data import DataError
from keras_ae.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx_images, read_idx_labels
from keras_ae.data.arrays import read_npy, read_npz, read_npz_arrays, read_npz_images
from keras_ae.models.config import RunConfig
from keras_ae.data.inputs import read_inputs

from bad_input_cases import raised_by_keras_ae

EXAMPLES = int(os.environ.get("KERAS_AE_FUZZ_EXAMPLES", "60"))  # more for a longer hunt
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=max(1, EXAMPLES // 2), deadline=None, database=None,
               suppress_health_check=[HealthCheck.too_slow])
SCRATCH = Path(tempfile.mkdtemp(prefix="keras_ae_fuzz."))
atexit.register(shutil.rmtree, SCRATCH, ignore_errors=True)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children,
                                                                      max_size=4),
    max_leaves=12)


def _file(name: str, content: bytes) -> Path:
    path = SCRATCH / name
    path.write_bytes(content)
    return path


def _check_images(x: np.ndarray) -> None:
    assert x.ndim == 4 and x.size > 0
    assert x.dtype == np.uint8 or (x.dtype == np.float32 and np.isfinite(x).all()
                                   and x.min() >= 0 and x.max() <= 1)


# --- IDX ----------------------------------------------------------------------------------------
def _read_idx(content: bytes, reader=read_idx_images):
    try:
        return reader(_file("fuzz-idx3-ubyte", content))
    except DataError:
        return None


@FUZZ
@given(st.binary(max_size=300))
def test_idx_any_bytes(content):
    for raw in (content, gzip.compress(content)):
        for reader, ndim in ((read_idx_images, 3), (read_idx_labels, 1)):
            result = _read_idx(raw, reader)
            assert result is None or (result.dtype == np.uint8 and result.ndim == ndim and result.size)


@FUZZ
@given(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 40), st.integers(0, 40)),
       st.integers(-20, 20), st.booleans(), st.booleans())
def test_idx_forged_headers(dims, extra, labels_magic, compress):
    """Headers of any dimensions (up to 2**32 - 1, whose product overflows int64) over a payload
    of about the right length."""
    magic = LABELS_MAGIC if labels_magic else IMAGES_MAGIC
    size = dims[1] * dims[2] * min(dims[0], 50)
    raw = struct.pack(">I", IMAGES_MAGIC) + struct.pack(">3I", *dims) + bytes(max(0, size + extra))
    if magic == LABELS_MAGIC:
        raw = struct.pack(">II", LABELS_MAGIC, dims[0]) + bytes(max(0, min(dims[0], 50) + extra))
    if compress:
        raw = gzip.compress(raw)
    result = _read_idx(raw, read_idx_labels if labels_magic else read_idx_images)
    assert result is None or result.size > 0


# --- npz ----------------------------------------------------------------------------------------
def _other_readers(path) -> None:
    """The batch and named-array readers of the same archive: an array, or a DataError."""
    for read in (read_npz_images, lambda p: read_npz_arrays(p, ("images", "labels"), "fuzz")):
        try:
            read(path)
        except DataError:
            pass


def _read_npz(content: bytes):
    path = _file("fuzz.npz", content)
    _other_readers(path)
    try:
        pools = read_npz(path)
    except DataError:
        return None
    _check_images(pools.train_x)
    if pools.train_y is not None:
        assert pools.train_y.dtype == np.int64 and len(pools.train_y) == len(pools.train_x)
    if pools.test_x is not None:
        _check_images(pools.test_x)
    return pools


@FUZZ
@given(st.binary(max_size=400))
def test_npy_any_bytes(content):
    for raw in (content, np.lib.format.MAGIC_PREFIX + content):
        try:
            array = read_npy(_file("fuzz.npy", raw))
        except DataError:
            continue
        assert isinstance(array, np.ndarray) and array.size > 0


@FUZZ
@given(st.binary(max_size=400))
def test_npz_any_bytes(content):
    _read_npz(content)
    _read_npz(b"PK\x03\x04" + content)  # what a zip file starts with


KEYS = ("x_train", "y_train", "x_test", "y_test", "images", "labels", "x", "y", "other")
DTYPES = ("uint8", "int16", "int64", "float32", "float64", "bool", "complex64", "<U2", "object")


@st.composite
def archives(draw):
    """npz archives of arrays of any of these dtypes and shapes under the keys readers look for."""
    content = {}
    for key in draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=4)):
        dtype = draw(st.sampled_from(DTYPES))
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4))
        if dtype == "object":
            array = np.empty(shape, dtype=object)
        else:
            array = draw(hnp.arrays(np.dtype(dtype), shape))
        content[key] = array
    buffer = io.BytesIO()
    np.savez(buffer, **content)
    return buffer.getvalue()


@FUZZ
@given(archives())
def test_npz_any_arrays(content):
    _read_npz(content)


@FEW
@given(archives(), st.data())
def test_npz_corrupted_bytes(content, data):
    raw = bytearray(content)
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    _read_npz(bytes(raw[:cut]) if data.draw(st.booleans()) else bytes(raw))


def test_an_npz_of_a_valid_archive_reads():
    buffer = io.BytesIO()
    np.savez(buffer, x_train=np.zeros((3, 4, 4), "uint8"), y_train=np.arange(3))
    pools = _read_npz(buffer.getvalue())
    assert pools.train_x.shape == (3, 4, 4, 1) and list(pools.train_y) == [0, 1, 2]


# --- config.json --------------------------------------------------------------------------------
def _load_config(content: bytes):
    try:
        return RunConfig.load(_file("config.json", content))
    except ValueError as err:
        assert raised_by_keras_ae(err), repr(err)
        assert "\n" not in str(err)
        return None


@FUZZ
@given(json_values)
def test_config_any_json(value):
    _load_config(json.dumps(value).encode())


@FUZZ
@given(st.sampled_from([f for f in RunConfig().to_dict()] + ["options.beta", "options.loss",
                                                               "options.denoise", "options.sparsity"]),
       json_values)
def test_config_one_field_of_any_value(field, value):
    config = RunConfig().to_dict()
    if field.startswith("options."):
        config["options"] = {field.split(".", 1)[1]: value}
    else:
        config[field] = value
    loaded = _load_config(json.dumps(config).encode())
    if loaded is not None:  # a config that loads also saves and loads back the same
        loaded.save(SCRATCH / "again.json")
        assert RunConfig.load(SCRATCH / "again.json") == loaded


@FUZZ
@given(st.binary(max_size=200))
def test_config_any_bytes(content):
    _load_config(content)


# --- detector.json ------------------------------------------------------------------------------
@FEW
@given(st.dictionaries(st.sampled_from(["score", "threshold", "method", "level", "images",
                                        "elbo_samples", "seed", "fitted_on", "model_sha256",
                                        "normal_scores", "normal_images", "labelled", "x"]),
                       json_values, max_size=12))
def test_threshold_any_fields(values):
    try:
        Threshold.from_dict(values)
    except ValueError as err:
        assert raised_by_keras_ae(err), repr(err)


# --- input files of predict and detect -----------------------------------------------------------
def _read_input(name: str, content: bytes):
    try:
        images = read_inputs([_file(name, content)])
    except ValueError as err:
        assert raised_by_keras_ae(err), repr(err)
        return None
    assert images.dtype == np.float32 and images.ndim == 4 and len(images)
    assert np.isfinite(images).all() and images.min() >= 0 and images.max() <= 1
    return images


@FUZZ
@given(st.binary(max_size=300))
def test_npy_and_png_inputs_any_bytes(content):
    _read_input("input.npy", content)
    _read_input("input.npy", b"\x93NUMPY" + content)
    _read_input("input.png", content)
    _read_input("input.png", b"\x89PNG\r\n\x1a\n" + content)


@FUZZ
@given(st.sampled_from(DTYPES[:-1]).flatmap(
    lambda dtype: hnp.arrays(np.dtype(dtype), hnp.array_shapes(min_dims=0, max_dims=5, max_side=5))))
def test_npy_inputs_any_array(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    _read_input("input.npy", buffer.getvalue())


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"])
def test_png_inputs_of_every_mode_pillow_writes(mode):
    from PIL import Image

    buffer = io.BytesIO()
    Image.new(mode, (5, 4)).save(buffer, format="PNG")
    images = _read_input("input.png", buffer.getvalue())
    assert images is not None and images.shape[1:3] == (4, 5)


def test_zip_of_a_keras_file_is_no_npz():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.json", "{}")
    with pytest.raises(DataError, match="has no image arrays"):
        read_npz(_file("model.npz", buffer.getvalue()))


# --- image folders ------------------------------------------------------------------------------
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".bmp": "BMP", ".gif": "GIF"}
_folders = iter(range(10**9))


@st.composite
def image_files(draw):
    """An image file of any format, mode and size, valid, cut short or with bytes changed."""
    from PIL import Image

    suffix = draw(st.sampled_from(sorted(FORMATS)))
    mode = draw(st.sampled_from(["L", "RGB", "RGBA", "P", "1"] if suffix != ".jpg" else ["L", "RGB"]))
    height, width = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    pixels = np.frombuffer(draw(st.binary(min_size=height * width * 4, max_size=height * width * 4)),
                           np.uint8)
    image = Image.fromarray(pixels.reshape(height, width, 4)).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=FORMATS[suffix])
    raw = bytearray(buffer.getvalue())
    damage = draw(st.sampled_from(["none", "cut", "flip"]))
    if damage == "cut":
        raw = raw[:draw(st.integers(0, len(raw)))]
    elif damage == "flip":
        for _ in range(draw(st.integers(1, 4))):
            raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
    return suffix, bytes(raw)


@FEW
@given(st.lists(image_files(), min_size=1, max_size=3), st.booleans())
def test_image_folder_any_files(files, skip_bad):
    from keras_ae.data import load_arrays

    folder = SCRATCH / f"images{next(_folders)}"
    folder.mkdir()
    for k, (suffix, content) in enumerate(files):
        (folder / f"{k}{suffix}").write_bytes(content)
    try:
        images, _ = load_arrays(str(folder), "all", image_size=(4, 4), skip_bad_images=skip_bad)
    except DataError:
        return
    _check_images(images)
    assert images.shape[1:3] == (4, 4) and len(images) <= len(files)
