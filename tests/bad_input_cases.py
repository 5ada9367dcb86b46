"""The table of bad inputs: what a user may get wrong, through the Python API and the command
line, and the one-line answer each gets (tests/test_bad_inputs.py runs them all).

`python tests/bad_input_cases.py` prints the number of cases by category (docs/bad-inputs.md).

Each case runs against one small "world" of a user's files (`build_world`): data files, two
trained runs, exported models, model files, configs and input files, good and bad. The test
snapshots the whole world before and after each case: no file may be created, changed or
deleted by a refused input.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import shutil
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

IMAGE = (8, 8, 1)


@dataclasses.dataclass(frozen=True)
class ApiCase:
    category: str
    name: str
    call: Callable[[Any], Any]  # called with the world
    error: type | tuple[type, ...]
    message: str  # a part of the one-line message


@dataclasses.dataclass(frozen=True)
class CliCase:
    category: str
    name: str
    argv: Callable[[Any], list[str]]  # built from the world
    message: str  # a part of the one line on stderr


def raised_by_keras_ae(err: BaseException) -> bool:
    """Whether `err` was raised by keras_ae's own code (its traceback ends in the package), not
    from inside TensorFlow, Keras or NumPy."""
    import keras_ae

    tb = err.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    package = Path(keras_ae.__file__).resolve().parent
    return Path(tb.tb_frame.f_code.co_filename).resolve().is_relative_to(package)


# --- the world: a user's files ------------------------------------------------------------------
def _images(n: int, shape=IMAGE, seed: int = 0) -> np.ndarray:
    """uint8 images on a low-dimensional manifold (learnable in one epoch)."""
    rng = np.random.default_rng(seed)
    basis = np.random.default_rng(1234).normal(size=(4, int(np.prod(shape)))) * 1.5
    codes = rng.normal(size=(n, 4))
    return ((1 / (1 + np.exp(-(codes @ basis)))) * 255).astype("uint8").reshape((n, *shape))


def _idx(dims: tuple[int, ...], magic: int = 0x803, data: bytes | None = None) -> bytes:
    header = struct.pack(">I", magic) + struct.pack(f">{len(dims)}I", *dims)
    return header + (bytes(int(np.prod(dims))) if data is None else data)


def build_world(root: Path, hold_lock) -> SimpleNamespace:
    """Write the world's files under `root` (a few seconds: two one-epoch runs, one export).
    `hold_lock(run_dir)` keeps the lock of runs/busy held (as if a process trained there)."""
    import keras

    import keras_ae
    from keras_ae.analysis.detect import fit_threshold
    from keras_ae.models.config import RunConfig
    from keras_ae.serving.export import export_saved_model, export_tflite
    from keras_ae.training.train import train

    w = SimpleNamespace(root=root)
    for name in ("data", "runs", "exports", "models", "inputs", "configs", "work"):
        setattr(w, name, root / name)
        (root / name).mkdir()

    # data
    images = _images(140)
    w.npz = w.data / "small.npz"
    np.savez(w.npz, x_train=images[:120], y_train=np.arange(120) % 3, x_test=images[120:],
             y_test=np.arange(20) % 3)
    np.savez(w.data / "pool.npz", images=images[:60])  # one pool: no test split
    np.savez(w.data / "wide.npz", x_train=_images(20, (12, 12, 1)), x_test=_images(5, (12, 12, 1)))
    (w.data / "text.npz").write_text("x_train,y_train\n1,2\n")
    (w.data / "zero.npz").write_bytes(b"")
    np.savez(w.data / "objects.npz", x_train=np.array([None, "a"], dtype=object))
    nan = images[:20].astype("float32") / 255
    nan[0, 0, 0, 0] = np.nan
    np.savez(w.data / "nan.npz", x_train=nan)
    np.savez(w.data / "big.npz", x_train=images[:20].astype("float32"))
    np.savez(w.data / "rank2.npz", x_train=images[:20].reshape(20, -1))
    np.savez(w.data / "noimages.npz", a=np.zeros(3), b=np.ones(3))
    np.savez(w.data / "mismatch.npz", x_train=images[:20], y_train=np.zeros(19, "int64"))
    np.savez(w.data / "emptyarr.npz", x_train=np.zeros((0, 8, 8), "uint8"))
    np.savez(w.data / "tiny.npz", x_train=images[:3])
    np.savez(w.data / "strings.npz", x_train=np.array([["a"]]))
    for folder, content in {
        "idx_none": None,
        "idx_magic": _idx((5,), magic=0x801),
        "idx_truncated": _idx((5, 8, 8))[:-10],
        "idx_trailing": _idx((5, 8, 8)) + b"extra",
        "idx_zero": _idx((0, 8, 8)),
    }.items():
        (w.data / folder).mkdir()
        if content is not None:
            (w.data / folder / "train-images-idx3-ubyte").write_bytes(content)
    (w.data / "idx_none" / "readme.txt").write_text("no IDX files here")
    from PIL import Image

    for folder, names in {"folder_bad": ("good.png", "bad.png"), "folder_sizes": ("a.png", "b.png")}.items():
        (w.data / folder).mkdir()
        for k, name in enumerate(names):
            if name == "bad.png":
                (w.data / folder / name).write_text("not a PNG")
            else:
                side = 8 + k if folder == "folder_sizes" else 8
                Image.fromarray(np.zeros((side, side), "uint8")).save(w.data / folder / name)
    (w.data / "idx_gzip").mkdir()
    (w.data / "idx_gzip" / "train-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(_idx((5, 8, 8)))[:-12])

    # runs: a plain and a variational autoencoder, one epoch each; an interrupted run
    w.config = RunConfig(dataset=str(w.npz), hidden_units=(8,), latent_dim=2, epochs=1,
                         batch_size=32, seed=0, validation_fraction=0.2)
    w.run, w.vae_run = w.runs / "ae", w.runs / "vae"
    train(w.config, w.run, verbose=0)
    train(w.config.replace(preset="vae", objective="vae"), w.vae_run, verbose=0)

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    w.interrupted = w.runs / "interrupted"
    try:
        train(w.config.replace(epochs=2), w.interrupted, verbose=0, callbacks=[Interrupt()])
    except KeyboardInterrupt:
        pass
    w.ae = keras_ae.load_model(w.run)
    w.vae = keras_ae.load_model(w.vae_run)
    w.vq = keras_ae.build("vq_vae", input_shape=IMAGE, conv_filters=(4,), latent_dim=2,
                          codebook_size=8)
    w.x = images[120:126].astype("float32") / 255
    w.threshold = fit_threshold(w.ae, images[:30], percentile=90,
                                model_file=w.run / "model.keras")
    w.threshold.save(w.run)
    # labelled images for thresholds from labels (1 = anomaly, 0 = normal), good and bad
    labelled, labels = images[:20], np.arange(20) % 2
    np.savez(w.data / "labelled.npz", images=labelled, labels=labels)
    np.savez(w.data / "labelled_one_class.npz", images=labelled, labels=np.zeros(20, "int64"))
    np.savez(w.data / "labelled_twos.npz", images=labelled, labels=labels * 2)
    np.savez(w.data / "labelled_short.npz", images=labelled, labels=labels[:19])
    np.savez(w.data / "labelled_wide.npz", images=_images(20, (12, 12, 1)), labels=labels)
    np.savez(w.data / "labelled_no_labels.npz", images=labelled)
    top_is_normal = labels.copy()  # no threshold reaches precision 1
    top_is_normal[int(np.argmax(np.asarray(w.ae.anomaly_score(labelled / 255))))] = 0
    np.savez(w.data / "labelled_unreachable.npz", images=labelled, labels=top_is_normal)
    w.busy = w.runs / "busy"
    shutil.copytree(w.run, w.busy)
    hold_lock(w.busy)
    w.broken = w.runs / "broken"
    shutil.copytree(w.run, w.broken)
    broken = json.loads((w.broken / "config.json").read_text())
    (w.broken / "config.json").write_text(json.dumps({**broken, "epochs": "3"}))
    w.stale = w.runs / "stale"
    shutil.copytree(w.run, w.stale)
    detector = json.loads((w.stale / "detector.json").read_text())
    (w.stale / "detector.json").write_text(json.dumps({**detector, "model_sha256": "0" * 64}))
    (w.runs / "foreign").mkdir()
    (w.runs / "foreign" / "notes.txt").write_text("my notes")
    w.interrupted_config = w.interrupted / "config.json"

    # exported models
    w.saved = export_saved_model(w.ae, w.exports / "ae_savedmodel")
    w.tflite = export_tflite(w.saved, w.exports / "ae.tflite")
    (w.exports / "empty.tflite").write_bytes(b"")
    (w.exports / "folder.tflite").mkdir()
    (w.exports / "text.tflite").write_text("not a flatbuffer")
    (w.exports / "not_a_savedmodel").mkdir()
    (w.exports / "not_a_savedmodel" / "notes.txt").write_text("mine")

    # model files
    (w.models / "empty.keras").write_bytes(b"")
    (w.models / "text.keras").write_text("I am not a model")
    with zipfile.ZipFile(w.models / "zip.keras", "w") as archive:
        archive.writestr("notes.txt", "a zip, but not a Keras archive")
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    plain.save(w.models / "plain.keras")
    shutil.copy(w.run / "model.keras", w.models / "ae_copy.keras")
    (w.models / "model.h5").write_text("HDF5? no")

    # input files
    good = w.x[:2]
    np.save(w.inputs / "good.npy", good)
    (w.inputs / "text.npy").write_text("0.1, 0.2, 0.3\n")
    np.save(w.inputs / "pickled.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(w.inputs / "nan.npy", np.where(good > 0.5, np.nan, good).astype("float32"))
    np.save(w.inputs / "big.npy", good * 255)
    np.save(w.inputs / "negative.npy", good - 1)
    np.save(w.inputs / "int16.npy", (good * 255).astype("int16"))
    np.save(w.inputs / "empty.npy", np.zeros((0, 8, 8, 1), "float32"))
    np.save(w.inputs / "wrong.npy", np.zeros((2, 12, 12), "float32"))
    np.save(w.inputs / "codes.npy", np.zeros((2, 2), "float32"))
    Image.fromarray(images[0, ..., 0]).save(w.inputs / "good.png")
    Image.fromarray(np.stack([images[0, ..., 0]] * 3, axis=-1)).save(w.inputs / "rgb.png")
    (w.inputs / "bad.png").write_text("not a PNG")
    (w.inputs / "notes.txt").write_text("my notes")
    (w.inputs / "empty_folder").mkdir()
    np.save(w.inputs / "noise.npy", (np.random.default_rng(0).random(IMAGE) > 0.5).astype("float32"))

    # config files (train --config)
    good_config = w.config.to_dict()
    for name, content in {
        "epochs_string": {**good_config, "epochs": "3"},
        "epochs_float": {**good_config, "epochs": 3.0},
        "latent_null": {**good_config, "latent_dim": None},
        "hidden_number": {**good_config, "hidden_units": 5},
        "hidden_fraction": {**good_config, "hidden_units": [1.5]},
        "hidden_zero": {**good_config, "hidden_units": [0]},
        "rate_string": {**good_config, "learning_rate": "fast"},
        "options_list": {**good_config, "options": []},
        "option_elsewhere": {**good_config, "options": {"beta": 1.0}},
        "objective_unknown": {**good_config, "objective": "gan"},
        "architecture_unknown": {**good_config, "architecture": "rnn"},
        "key_unknown": {**good_config, "lr": 0.1},
        "a_list": [1, 2],
        "mixed_yes": {**good_config, "mixed_precision": "yes"},
        "seed_negative": {**good_config, "seed": -1},
        "activation_unknown": {**good_config, "latent_activation": "wobble"},
        "dataset_number": {**good_config, "dataset": 3},
        "batch_zero": {**good_config, "batch_size": 0},
        "noise_number": {**good_config, "options": {"denoise": 5}},
    }.items():
        (w.configs / f"{name}.json").write_text(json.dumps(content))
    (w.configs / "not_json.json").write_text("{epochs: 3")
    (w.configs / "empty.json").write_text("")
    (w.configs / "binary.json").write_bytes(b"\xff\xfe\x00\x81")

    # what a user keeps in the working folder
    (w.work / "existing.png").write_bytes(b"my picture")
    (w.work / "out.tflite").write_bytes(b"my file")
    (w.work / "foreign_out").mkdir()
    (w.work / "foreign_out" / "notes.txt").write_text("mine")
    (w.work / "done").mkdir()
    np.save(w.work / "done" / "image.npy", good)
    (w.work / "maps_done").mkdir()  # the error maps of an earlier `detect --maps`
    np.save(w.work / "maps_done" / "noise.npy", np.zeros(IMAGE[:2], "float32"))
    Image.fromarray(np.zeros(IMAGE[:2], "uint8")).save(w.work / "maps_done" / "noise.png")
    return w


# --- the Python API -----------------------------------------------------------------------------
def _api_cases() -> list[ApiCase]:
    import keras_ae
    from keras_ae import data
    from keras_ae.analysis import detect, evaluate, features
    from keras_ae.analysis.detect import NoThresholdError, Threshold
    from keras_ae.data import DataError
    from keras_ae.data.idx import read_idx_images
    from keras_ae.models.config import RunConfig
    from keras_ae.models.presets import build, preset_config
    from keras_ae.models.saving import save_model
    from keras_ae.data import inputs
    from keras_ae.serving import export, outputs, predict
    from keras_ae.serving.export import ExportError
    from keras_ae.training.runlock import RunInUseError
    from keras_ae.training.train import RunFolderError, train
    from keras_ae.visualization import plots

    def imgs(value, shape=(2, *IMAGE), dtype="float32"):
        return np.full(shape, value, dtype)

    nan, inf, big = imgs(np.nan), imgs(np.inf), imgs(255.0)

    def with_nan(x):
        x = np.array(x, dtype="float32")
        x[0, 0, 0, 0] = np.nan
        return x

    cases: list[ApiCase] = []

    def add(category, name, call, error, message):
        cases.append(ApiCase(category, name, call, error, message))

    # model inputs
    c = "model inputs"
    for method in ("__call__", "encode", "anomaly_score", "predict"):
        def run(w, value, method=method):
            return getattr(w.ae, method)(value)

        add(c, f"{method}: int32 pixels", lambda w, run=run: run(w, imgs(0, dtype="int32")),
            ValueError, "float32 in [0, 1] or uint8 in [0, 255], got dtype int32")
        add(c, f"{method}: 0-255 floats", lambda w, run=run: run(w, big), DataError,
            "float images must lie in [0, 1], found values in [255, 255]")
        add(c, f"{method}: NaN", lambda w, run=run: run(w, nan), DataError,
            "images contain NaN values")
        add(c, f"{method}: one image without a batch axis", lambda w, run=run: run(w, imgs(0, IMAGE)),
            ValueError, "takes a batch of images, shape (batch, 8, 8, 1), got an array of shape (8, 8, 1)")
        add(c, f"{method}: wrong image size", lambda w, run=run: run(w, imgs(0, (2, 9, 8, 1))),
            ValueError, "takes images of shape (8, 8, 1), got images of shape (9, 8, 1)")
        add(c, f"{method}: empty batch", lambda w, run=run: run(w, imgs(0, (0, *IMAGE))),
            ValueError, "empty")
    add(c, "call: infinite pixels", lambda w: w.ae(inf), DataError, "images contain inf values")
    add(c, "call: negative floats", lambda w: w.ae(imgs(-0.5)), DataError, "found values in [-0.5, -0.5]")
    add(c, "call: strings", lambda w: w.ae(np.full((2, *IMAGE), "a")), ValueError, "got dtype string")
    add(c, "call: rank 5", lambda w: w.ae(imgs(0, (1, 2, *IMAGE))), ValueError, "takes a batch of images")
    add(c, "call: three channels", lambda w: w.ae(imgs(0, (2, 8, 8, 3))), ValueError,
        "got images of shape (8, 8, 3)")
    add(c, "fit: 0-255 floats", lambda w: w.ae.fit(big, epochs=1, verbose=0), DataError,
        "float images must lie in [0, 1]")
    add(c, "fit: NaN", lambda w: w.ae.fit(nan, epochs=1, verbose=0), DataError, "NaN")
    add(c, "fit: NaN targets", lambda w: w.ae.fit(w.x, with_nan(w.x), epochs=1, verbose=0),
        DataError, "NaN")
    add(c, "fit: NaN validation data", lambda w: w.ae.fit(w.x, epochs=1, verbose=0,
                                                          validation_data=(nan, nan)), DataError, "NaN")
    add(c, "fit: int64 pixels", lambda w: w.ae.fit(imgs(0, dtype="int64"), epochs=1, verbose=0),
        ValueError, "got dtype int64")
    add(c, "fit: wrong image size", lambda w: w.ae.fit(imgs(0, (2, 12, 12, 1)), epochs=1, verbose=0),
        ValueError, "takes images of shape (8, 8, 1)")
    add(c, "evaluate: 0-255 floats", lambda w: w.ae.evaluate(big, verbose=0), DataError, "[255, 255]")

    def dataset(*values):
        import tensorflow as tf

        return tf.data.Dataset.from_tensor_slices(values if len(values) > 1 else values[0]).batch(2)

    add(c, "fit: 0-255 floats from tf.data", lambda w: w.ae.fit(dataset(big), epochs=1, verbose=0),
        DataError, "float images must lie in [0, 1], found values in [255, 255]")
    add(c, "fit: NaN from tf.data", lambda w: w.ae.fit(dataset(nan), epochs=1, verbose=0),
        DataError, "images contain NaN values")
    add(c, "evaluate: 0-255 floats from tf.data", lambda w: w.ae.evaluate(dataset(big), verbose=0),
        DataError, "float images must lie in [0, 1]")
    add(c, "fit: (images, labels) from tf.data",
        lambda w: w.ae.fit(dataset(w.x, np.zeros(len(w.x), "int32")), epochs=1, verbose=0),
        ValueError, "got (images, labels): an autoencoder learns from images alone; drop the labels "
                    "(image_dataset_from_directory(..., labels=None), ds.map(lambda x, y: x)")
    add(c, "fit: images and labels", lambda w: w.ae.fit(w.x, np.zeros(len(w.x), "int32"), epochs=1, verbose=0),
        ValueError, "got (images, labels)")
    add(c, "fit: class_weight", lambda w: w.ae.fit(w.x, epochs=1, verbose=0, class_weight={0: 1.0}),
        ValueError, "class_weight has no meaning")
    add(c, "evaluate: infinite pixels", lambda w: w.ae.evaluate(inf, verbose=0), DataError, "inf")
    add(c, "VAE encode_distribution: NaN", lambda w: w.vae.encode_distribution(nan), DataError, "NaN")
    add(c, "VAE elbo: 0-255 floats", lambda w: w.vae.elbo(big), DataError, "[255, 255]")
    add(c, "VAE nll: wrong image size", lambda w: w.vae.nll(imgs(0, (2, 4, 4, 1)), k=2), ValueError,
        "takes images of shape (8, 8, 1)")

    # model arguments
    c = "model arguments"
    for n in (0, -1, 2.5, "3", True):
        add(c, f"sample({n!r})", lambda w, n=n: w.vae.sample(n), ValueError,
            f"the number of samples must be a positive integer, got {n!r}")
    for k in (0, -3, 1.5):
        add(c, f"nll(k={k!r})", lambda w, k=k: w.vae.nll(w.x, k=k), ValueError,
            f"k (importance samples) must be a positive integer, got {k!r}")
    add(c, "elbo(samples=0)", lambda w: w.vae.elbo(w.x, samples=0), ValueError,
        "samples must be a positive integer, got 0")
    add(c, "decode: codes of the wrong size", lambda w: w.ae.decode(np.zeros((2, 3), "float32")),
        ValueError, "decodes codes of shape (batch, 2), got an array of shape (2, 3)")
    add(c, "decode: one code without a batch axis", lambda w: w.ae.decode(np.zeros(2, "float32")),
        ValueError, "got an array of shape (2,)")
    add(c, "decode: integer codes", lambda w: w.ae.decode(np.zeros((2, 2), "int32")), ValueError,
        "decodes float latent codes, got dtype int32")
    add(c, "decode: NaN codes", lambda w: w.ae.decode(np.full((2, 2), np.nan, "float32")),
        ValueError, "NaN or infinite latent codes")
    add(c, "decode: no codes", lambda w: w.ae.decode(np.zeros((0, 2), "float32")), ValueError,
        "no codes to decode")
    add(c, "VQ-VAE decode: float codes", lambda w: w.vq.decode(np.zeros((1, 4, 4), "float32")),
        ValueError, "decodes code indices (integers), got dtype float32")
    add(c, "VQ-VAE decode: indices beyond the codebook", lambda w: w.vq.decode(np.full((1, 4, 4), 8)),
        ValueError, "code indices must be in [0, 8), got values in [8, 8]")
    add(c, "VQ-VAE decode: a map of another shape", lambda w: w.vq.decode(np.zeros((1, 3, 3), "int32")),
        ValueError, "decodes code indices of shape (batch, 4, 4), got (1, 3, 3)")
    add(c, "VQ-VAE encode: NaN", lambda w: w.vq.encode(nan), DataError, "images contain NaN values")
    add(c, "VQ-VAE call: 0-255 floats", lambda w: w.vq(big), DataError, "float images must lie in [0, 1]")
    add(c, "VQ-VAE: a codebook larger than memory", lambda w: keras_ae.build("vq_vae", codebook_size=10**9),
        ValueError, "codebook_size 1,000,000,000 needs about 797.2 GiB in a training step (16-d codes, one image)")
    add(c, "VQ-VAE: more codes than the training data has",
        lambda w: keras_ae.build("vq_vae", input_shape=IMAGE, codebook_size=16).check_training(3, 2), ValueError,
        "codebook_size 16 is more codes than the 12 code vectors of the training images (3 × 2×2); give at most 12")

    # data arrays
    c = "data arrays"
    for name, value, message in [
        ("one image (rank 2)", np.zeros((8, 8), "uint8"), "images must have shape (N, H, W) or (N, H, W, C), got shape (8, 8)"),
        ("rank 5", np.zeros((1, 2, 8, 8, 1), "uint8"), "got shape (1, 2, 8, 8, 1)"),
        ("no images", np.zeros((0, 8, 8), "uint8"), "images array is empty: shape (0, 8, 8, 1)"),
        ("strings", np.full((2, 8, 8), "a"), "images must be numeric, got dtype <U1"),
        ("objects", np.array([[[None]]]), "images must be numeric, got dtype object"),
        ("NaN", np.full((2, 8, 8), np.nan, "float32"), "images contain NaN values (128 of 128 pixels)"),
        ("inf", np.full((2, 8, 8), np.inf, "float32"), "images contain inf values"),
        ("0-255 floats", np.full((2, 8, 8), 200.0), "float images must lie in [0, 1], found values in [200, 200]"),
        ("negative integers", np.full((2, 8, 8), -1, "int16"), "integer images must lie in [0, 255], found values in [-1, -1] (int16)"),
        ("integers above 255", np.full((2, 8, 8), 300, "int32"), "found values in [300, 300] (int32)"),
        ("ragged lists", [[[0, 1]], [[0]]], "images cannot be converted to an array"),
    ]:
        add(c, f"validate_images: {name}", lambda w, v=value: data.validate_images(v), DataError, message)
    for name, value, message in [
        ("too few", np.zeros(5), "found 5 labels for 6 images"),
        ("one-hot", np.zeros((6, 3)), "labels must have shape (N,), got shape (6, 3)"),
        ("fractions", np.full(6, 0.5), "labels must be whole numbers"),
        ("NaN", np.full(6, np.nan), "labels contain NaN or inf values"),
        ("strings", np.array(list("abcdef")), "labels must be integers, got dtype <U1"),
    ]:
        add(c, f"validate_labels: {name}", lambda w, v=value: data.validate_labels(v, 6), DataError, message)
    for name, value, message in [
        ("0-255 floats", np.full((2, 8, 8, 1), 255.0), "float images must lie in [0, 1]"),
        ("NaN", np.full((2, 8, 8, 1), np.nan), "images contain NaN values"),
        ("empty", np.zeros((0, 8, 8, 1), "uint8"), "images array is empty"),
        ("strings", np.array(["a"]), "images must be numeric, got dtype <U1"),
        ("integers above 255", np.array([256]), "integer images must lie in [0, 255]"),
    ]:
        add(c, f"as_float_images: {name}", lambda w, v=value: data.as_float_images(v), DataError, message)
    for size in (0, "32", 1.5, True):
        add(c, f"make_pipeline(batch_size={size!r})",
            lambda w, size=size: data.make_pipeline(w.x, batch_size=size, shuffle=False), DataError,
            f"batch_size must be a positive integer, got {size!r}")
    add(c, "epoch_pipeline(batch_size=0)", lambda w: data.epoch_pipeline(w.x, batch_size=0, seed=0, epochs=1),
        DataError, "batch_size must be a positive integer, got 0")
    for spec, message in [("blur:1", "unknown noise kind 'blur'"), ("gaussian", "needs an amount"),
                          ("masking:2", "masking noise fraction must be in (0, 1], got 2.0"),
                          ("gaussian:-1", "gaussian noise stddev must be > 0"),
                          (3, "noise must be a string like")]:
        add(c, f"noise {spec!r}", lambda w, spec=spec: data.make_pipeline(w.x, batch_size=2, shuffle=False, noise=spec),
            DataError, message)

    # data sources
    c = "data sources"
    load = data.load_arrays
    add(c, "unknown split", lambda w: load(str(w.npz), "training"), DataError,
        "unknown split 'training'; choose from train, validation, test, all")
    add(c, "split not a string", lambda w: load(str(w.npz), 3), DataError, "split must be a string, got int")
    add(c, "source of another type", lambda w: load(3.5), DataError, "unsupported data source of type float")
    add(c, "empty source name", lambda w: load("  "), DataError, "empty data source name")
    add(c, "validation_fraction 1", lambda w: load(str(w.npz), validation_fraction=1.0), DataError,
        "validation_fraction must be in [0, 1), got 1.0")
    add(c, "validation_fraction text", lambda w: load(str(w.npz), validation_fraction="a"), DataError,
        "validation_fraction must be a number, got 'a'")
    add(c, "missing file", lambda w: load(str(w.data / "missing.npz")), DataError, "data source not found")
    add(c, "missing folder/", lambda w: load("missing_folder/"), DataError,
        "data source not found: missing_folder (no such folder)")
    add(c, "missing folder/path", lambda w: load("My Photos/cats"), DataError,
        "data source not found: My Photos/cats (no such file or folder)")
    add(c, "skip_bad_images of an .npz file", lambda w: load(str(w.npz), skip_bad_images=True), DataError,
        "skip_bad_images / --skip-bad-images leaves damaged files out of a folder of images, and")
    add(c, "unsupported file", lambda w: load(str(w.inputs / "notes.txt")), DataError,
        "expected an .npz file or a folder of IDX")
    for name, message in [
        ("text.npz", "is not an .npz archive"), ("zero.npz", "cannot read npz file"),
        ("objects.npz", "[x_train] holds Python objects (a pickled object array), which are never loaded"),
        ("nan.npz", "[x_train]: images contain NaN values"),
        ("big.npz", "[x_train]: float images must lie in [0, 1], found values in [0, 25"),
        ("rank2.npz", "images must have shape (N, H, W) or (N, H, W, C), got shape (20, 64)"),
        ("noimages.npz", "has no image arrays: expected keys x_train/y_train/x_test/y_test, images/labels or x/y, found a, b"),
        ("mismatch.npz", "[y_train]: found 19 labels for 20 images"),
        ("emptyarr.npz", "images array is empty"),
        ("strings.npz", "images must have shape"),
    ]:
        add(c, name, lambda w, name=name: load(str(w.data / name)), DataError, message)
    add(c, "too few images for a validation split", lambda w: load(str(w.data / "tiny.npz"), "validation"),
        DataError, "validation split is empty: validation_fraction=0.1 of 3 images")
    add(c, "test split of a single pool", lambda w: load(str(w.data / "pool.npz"), "test"), DataError,
        "holds a single pool ('images'), not a test set; use split 'validation'")
    add(c, "labels asked of a source without", lambda w: data.load_dataset(str(w.data / "pool.npz"), with_labels=True),
        DataError, "data source has no labels")
    add(c, "folder without IDX or image files", lambda w: load(str(w.data / "idx_none")), DataError,
        "no IDX or image files found in")
    add(c, "image folder with an unreadable image", lambda w: load(str(w.data / "folder_bad")), DataError,
        "bad.png: cannot identify image file")
    add(c, "image folder of two sizes", lambda w: load(str(w.data / "folder_sizes")), DataError,
        "have 2 different sizes")
    for folder, message in [("idx_magic", "wrong IDX magic number 0x00000801"),
                            ("idx_truncated", "truncated IDX file"),
                            ("idx_trailing", "corrupt (trailing bytes) IDX file"),
                            ("idx_zero", "holds no data (shape (0, 8, 8))"),
                            ("idx_gzip", "corrupt or truncated gzip file")]:
        add(c, f"IDX: {folder}", lambda w, folder=folder: load(str(w.data / folder)), DataError, message)
    add(c, "read_idx_images: missing", lambda w: read_idx_images(w.data / "nothing"), DataError, "IDX file not found")
    add(c, "read_idx_images: empty file", lambda w: read_idx_images(w.models / "empty.keras"), DataError,
        "not an IDX file (too short, 0 bytes)")
    add(c, "data dir missing", lambda w: load("mnist", data_dir=str(w.data / "nowhere")), DataError,
        "nowhere (no such folder)")

    # configs and presets
    c = "configs and presets"
    for field, value, message in [
        ("epochs", "3", "epochs must be an integer, got '3'"), ("epochs", 0, "epochs must be >= 1, got 0"),
        ("epochs", 2.0, "epochs must be an integer, got 2.0"), ("latent_dim", 0, "latent_dim must be >= 1"),
        ("batch_size", -1, "batch_size must be >= 1"), ("learning_rate", 0, "learning_rate must be a finite number > 0"),
        ("learning_rate", float("nan"), "learning_rate must be a finite number > 0, got nan"),
        ("learning_rate", float("inf"), "got inf"), ("learning_rate", "fast", "learning_rate must be a number"),
        ("validation_fraction", 1.0, "validation_fraction must be in (0, 1)"),
        ("validation_fraction", 0, "validation_fraction must be in (0, 1), got 0"),
        ("architecture", "rnn", "unknown architecture 'rnn'"), ("objective", "gan", "unknown objective 'gan'"),
        ("hidden_units", [0], "lists of integers >= 1, got hidden_units=[0]"),
        ("hidden_units", "5", "got hidden_units='5'"), ("conv_filters", [3.5], "got conv_filters=[3.5]"),
        ("seed", -1, "seed must be in [0, 2**32), got -1"), ("mixed_precision", "yes", "mixed_precision is true (\"on\"), false (\"off\") or \"auto\""),
        ("latent_activation", "wobble", "unknown latent_activation 'wobble'"),
        ("early_stopping", 0, "early_stopping (patience) must be >= 1"), ("dataset", "", "dataset must name a dataset"),
        ("options", {"beta": 1.0}, "option 'beta' does not apply to the autoencoder objective"),
        ("options", [], "options is a JSON object"),
    ]:
        add(c, f"RunConfig({field}={value!r})", lambda w, f=field, v=value: RunConfig(**{f: v}), ValueError, message)
    add(c, "from_dict: a list", lambda w: RunConfig.from_dict([1, 2]), ValueError, "a config is a JSON object, got list")
    add(c, "from_dict: unknown key", lambda w: RunConfig.from_dict({"lr": 0.1}), ValueError, "unknown config keys: lr")
    add(c, "load: missing file", lambda w: RunConfig.load(w.configs / "missing.json"), ValueError,
        "cannot read config")
    add(c, "load: not JSON", lambda w: RunConfig.load(w.configs / "not_json.json"), ValueError, "cannot read config")
    add(c, "load: not UTF-8", lambda w: RunConfig.load(w.configs / "binary.json"), ValueError, "cannot read config")
    add(c, "load: epochs as text", lambda w: RunConfig.load(w.configs / "epochs_string.json"), ValueError,
        "epochs must be an integer, got '3'")
    add(c, "unknown preset", lambda w: preset_config("huge"), ValueError, "unknown model 'huge'; choose one of seed")
    add(c, "option of another objective", lambda w: preset_config("seed", beta=2.0), ValueError,
        "option 'beta' does not apply to the autoencoder objective")
    add(c, "linear with bce", lambda w: preset_config("linear", loss="bce"), ValueError,
        "the linear architecture has an unbounded code and output")
    add(c, "build: image shape without channels", lambda w: build("seed", input_shape=(8, 8)), ValueError,
        "input_shape must be (height, width, channels), got (8, 8)")
    add(c, "build: zero-sized images", lambda w: build("seed", input_shape=(0, 8, 1)), ValueError,
        "input_shape must be (height, width, channels)")
    add(c, "build: overcomplete without a regulariser", lambda w: build("seed", input_shape=IMAGE, latent_dim=64),
        ValueError, "latent_dim 64 >= input size 64 makes an overcomplete autoencoder that can copy its "
                    "input; add a regulariser (sparsity= or denoise=")
    for value in (None, 42):
        add(c, f"build({value!r})", lambda w, v=value: build(v), TypeError,
            "build takes a preset name (seed, dense, denoising, ")
    add(c, "build: a misspelt option", lambda w: build("seed", latnt_dim=8), ValueError,
        "unknown option 'latnt_dim'; did you mean 'latent_dim'?")
    add(c, "build: an unknown option", lambda w: build("seed", wobble=8), ValueError,
        "unknown option 'wobble'; the fields: architecture, batch_size")
    add(c, "build: a model larger than memory", lambda w: build("sparse", latent_dim=10**9), ValueError,
        "parameters, about")

    # model files
    c = "model files"
    add(c, "missing", lambda w: keras_ae.load_model(w.models / "missing.keras"), FileNotFoundError,
        "no model at")
    add(c, "a folder without a model", lambda w: keras_ae.load_model(w.inputs), FileNotFoundError,
        "model.keras (expected a .keras file or a run folder)")
    add(c, "zero bytes", lambda w: keras_ae.load_model(w.models / "empty.keras"), ValueError,
        "is not a .keras model file: it is an empty file")
    add(c, "text", lambda w: keras_ae.load_model(w.models / "text.keras"), ValueError,
        "is not a .keras model file: it is a 16-byte file that is not a zip archive")
    add(c, "a zip that is not a model", lambda w: keras_ae.load_model(w.models / "zip.keras"), ValueError,
        "cannot load model")
    add(c, "a plain Keras model", lambda w: keras_ae.load_model(w.models / "plain.keras"), ValueError,
        "holds a plain Keras model (Sequential), not a keras_ae autoencoder")
    add(c, "another suffix", lambda w: keras_ae.load_model(w.models / "model.h5"), ValueError,
        "is not a .keras model file")
    add(c, "save: another suffix", lambda w: save_model(w.ae, w.work / "model.h5"), ValueError,
        "model files end in .keras")
    add(c, "Model.save: legacy HDF5", lambda w: w.ae.save(w.work / "model.h5"), ValueError,
        "keras_ae models save as .keras files, not legacy HDF5")
    add(c, "legacy HDF5 that is missing", lambda w: keras_ae.load_model(w.work / "missing.h5"), ValueError,
        "legacy HDF5 (.h5) is not supported; keras_ae models are saved and loaded as .keras files")
    add(c, "save: over a file", lambda w: save_model(w.ae, w.models / "text.keras"), FileExistsError,
        "already exists")

    # run folders (train)
    c = "run folders"
    add(c, "output is a file", lambda w: train(w.config, w.inputs / "notes.txt", verbose=0), RunFolderError,
        "exists and is not a folder")
    for overwrite in (False, True):
        add(c, f"a folder of the user's (overwrite={overwrite})",
            lambda w, o=overwrite: train(w.config, w.runs / "foreign", overwrite=o, verbose=0),
            RunFolderError, "is not empty and is not a keras-ae run folder (it holds notes.txt)")
    add(c, "a finished run, same options", lambda w: train(w.config, w.run, verbose=0), RunFolderError,
        "already holds a model trained for 1 epoch; pass --epochs N (more)")
    add(c, "a finished run, other options", lambda w: train(w.config.replace(latent_dim=3, epochs=2), w.run, verbose=0),
        RunFolderError, "option latent_dim differs: run has 2, command gives 3; pass --overwrite")
    add(c, "an interrupted run, other options", lambda w: train(w.config.replace(epochs=2, seed=7), w.interrupted, verbose=0),
        RunFolderError, "holds an interrupted run with different options: option seed differs: run has 0, command gives 7")
    add(c, "a run another process trains", lambda w: train(w.config, w.busy, verbose=0), RunInUseError,
        "is in use by process")
    add(c, "a run with a broken config.json", lambda w: train(w.config, w.broken, verbose=0), RunFolderError,
        "epochs must be an integer, got '3'")
    add(c, "missing data into a new folder", lambda w: train(w.config.replace(dataset=str(w.data / "gone.npz")),
                                                              w.work / "new_run", verbose=0),
        DataError, "data source not found")

    # evaluation
    c = "evaluation"
    add(c, "metrics of different shapes", lambda w: evaluate.reconstruction_metrics(w.x, w.x[:, :4]), ValueError,
        "and reconstructions of shape (6, 4, 8, 1) differ")
    add(c, "metrics of NaN images", lambda w: evaluate.reconstruction_metrics(nan, nan), DataError, "NaN")
    add(c, "reconstruct: not a model", lambda w: evaluate.reconstruct("model.keras", w.x), ValueError,
        "expected a keras_ae Autoencoder (from keras_ae.build or keras_ae.load_model), got str")
    add(c, "reconstruct: batch_size 0", lambda w: evaluate.reconstruct(w.ae, w.x, batch_size=0), ValueError,
        "batch_size must be >= 1, got 0")
    add(c, "reconstruct: 0-255 floats", lambda w: evaluate.reconstruct(w.ae, big), DataError, "[255, 255]")
    add(c, "vae_metrics of a plain autoencoder", lambda w: evaluate.vae_metrics(w.ae, w.x), ValueError,
        "-ELBO and NLL need a variational autoencoder, got Autoencoder")
    add(c, "vae_metrics(k=0)", lambda w: evaluate.vae_metrics(w.vae, w.x, k=0), ValueError,
        "k (importance samples) must be >= 1, got 0")
    add(c, "pca_baseline(n_components=0)", lambda w: evaluate.pca_baseline(w.x, w.x, 0), ValueError,
        "n_components must be >= 1, got 0")
    add(c, "pca_baseline of two shapes", lambda w: evaluate.pca_baseline(w.x, w.x[:, :4], 2), ValueError,
        "must be images of one shape")
    add(c, "evaluate_model: not a model", lambda w: evaluate.evaluate_model(None, w.x), ValueError,
        "expected a keras_ae Autoencoder")

    # export
    c = "export"
    add(c, "not a model", lambda w: export.export_saved_model("model", w.work / "sm"), ExportError,
        "cannot export a str: expected a keras_ae Autoencoder")
    add(c, "over a file", lambda w: export.export_saved_model(w.ae, w.work / "out.tflite"), FileExistsError,
        "already exists (pass overwrite to replace it)")
    add(c, "over a folder that is not a SavedModel", lambda w: export.export_saved_model(
        w.ae, w.exports / "not_a_savedmodel", overwrite=True), ExportError,
        "it exists and is not a SavedModel directory")
    add(c, "a threshold that is not one", lambda w: export.export_saved_model(w.ae, w.work / "sm", threshold=0.5),
        ValueError, "threshold must be a keras_ae.detect.Threshold")
    add(c, "TFLite file of another suffix", lambda w: export.export_tflite(w.ae, w.work / "m.onnx"), ValueError,
        "TFLite files end in .tflite")
    add(c, "unknown quantisation", lambda w: export.export_tflite(w.ae, w.work / "m.tflite", quantize="int4"),
        ValueError, "unknown quantize 'int4'; choose one of none, float16, dynamic, int8")
    add(c, "int8 without calibration images", lambda w: export.export_tflite(w.ae, w.work / "m.tflite", quantize="int8"),
        ValueError, "int8 quantisation needs representative_data")
    add(c, "calibration images without int8", lambda w: export.export_tflite(
        w.ae, w.work / "m.tflite", quantize="float16", representative_data=w.x), ValueError,
        "representative_data is only used by int8 quantisation")
    for name, value, message in [("NaN", nan, "representative_data holds NaN or infinite values"),
                                 ("0-255 floats", big, "must be float images in [0, 1] (got values in [255, 255])"),
                                 ("wrong shape", np.zeros((2, 4, 4, 1), "float32"), "has images of shape (4, 4, 1), the model takes (8, 8, 1)"),
                                 ("empty", np.zeros((0, 8, 8, 1), "float32"), "representative_data is empty")]:
        add(c, f"int8 calibration images: {name}", lambda w, v=value: export.export_tflite(
            w.ae, w.work / "m.tflite", quantize="int8", representative_data=v), ValueError, message)
    add(c, "threshold with a SavedModel", lambda w: export.export_tflite(w.saved, w.work / "m.tflite", threshold=w.threshold),
        ValueError, "threshold applies when exporting a model, not a SavedModel")
    add(c, "TFLite over a folder", lambda w: export.export_tflite(w.ae, w.exports / "folder.tflite", overwrite=True),
        ExportError, "it is a directory")
    add(c, "TFLite from a missing SavedModel", lambda w: export.export_tflite(w.work / "nowhere", w.work / "m.tflite"),
        ExportError, "no SavedModel at")
    add(c, "TFLite from a .keras file", lambda w: export.export_tflite(w.models / "ae_copy.keras", w.work / "m.tflite"),
        ExportError, "is a .keras model file, not a SavedModel")
    add(c, "signature of another objective", lambda w: export.reference_outputs(w.ae, "sample", noise=np.zeros((1, 2))),
        ValueError, "unknown signature 'sample'; 'seed' has encode, decode, reconstruct, anomaly_score")

    # exported models (predict)
    c = "exported models"
    add(c, "missing", lambda w: predict.load_exported(w.exports / "gone.tflite"), FileNotFoundError, "no exported model at")
    add(c, "a folder without saved_model.pb", lambda w: predict.load_exported(w.exports / "not_a_savedmodel"),
        ValueError, "is a directory without saved_model.pb, not a SavedModel")
    add(c, "a .keras file", lambda w: predict.load_exported(w.models / "ae_copy.keras"), ValueError,
        "is neither a SavedModel directory nor a .tflite file")
    add(c, "an empty .tflite", lambda w: predict.load_exported(w.exports / "empty.tflite"), ValueError,
        "cannot load TFLite model")
    add(c, "a text .tflite", lambda w: predict.load_exported(w.exports / "text.tflite"), ValueError,
        "cannot load TFLite model")

    def run(signature, **inputs):
        return lambda w: predict.load_exported(w.tflite).run(signature, **inputs)

    add(c, "unknown signature", run("sample", noise=np.zeros((1, 2), "float32")), ValueError,
        "has no signature 'sample'; it has anomaly_score, decode, encode, reconstruct")
    add(c, "wrong input name", run("reconstruct", z=np.zeros((1, 2), "float32")), ValueError,
        "signature 'reconstruct' takes inputs image, got z")
    add(c, "integer images", run("reconstruct", image=np.zeros((1, *IMAGE), "int32")), ValueError,
        "must be float32 (images in [0, 1]), got int32")
    add(c, "wrong image shape", run("reconstruct", image=np.zeros((1, 4, 4, 1), "float32")), ValueError,
        "must have shape (batch, 8, 8, 1), got (1, 4, 4, 1)")
    add(c, "empty batch", run("reconstruct", image=np.zeros((0, *IMAGE), "float32")), ValueError, "is an empty batch")
    add(c, "NaN images", run("anomaly_score", image=nan), ValueError, "holds NaN or infinite values")
    add(c, "0-255 images", run("encode", image=big), ValueError, "must be images in [0, 1], got values in [255, 255]")
    add(c, "NaN codes", run("decode", z=np.full((1, 2), np.nan, "float32")), ValueError, "holds NaN or infinite values")
    add(c, "ragged lists", run("decode", z=[[0.0, 1.0], [0.0]]), ValueError, "input 'z' of 'decode' is not an array")
    read = inputs.read_inputs
    add(c, "read_inputs: no files", lambda w: read([]), ValueError, "no input files given")
    add(c, "read_inputs: missing file", lambda w: read([w.inputs / "gone.npy"]), FileNotFoundError, "no input file")
    for name, message in [
        ("notes.txt", "unsupported input type .txt; use .npy, .npz"),
        ("text.npy", "not a NumPy .npy file (it does not start with the .npy header)"),
        ("pickled.npy", "holds Python objects (a pickled object array), which are never loaded"),
        ("nan.npy", "are NaN; pixels must be numbers in [0, 1]"),
        ("big.npy", "float pixels must be in [0, 1], got ["),
        ("negative.npy", "float pixels must be in [0, 1], got [-"),
        ("int16.npy", "unsupported pixel type int16"),
        ("empty.npy", "the array is empty (shape (0, 8, 8, 1))"),
        ("bad.png", "cannot read image"),
    ]:
        add(c, f"read_inputs: {name}", lambda w, name=name: read([w.inputs / name], image_shape=IMAGE),
            ValueError, message)
    add(c, "read_inputs: images of another size", lambda w: read([w.inputs / "wrong.npy"], image_shape=IMAGE),
        ValueError, "does not hold images of shape (8, 8, 1)")
    add(c, "read_inputs: colour for a grey model", lambda w: read([w.inputs / "rgb.png"], image_shape=IMAGE),
        ValueError, "image shape (8, 8, 3) does not match (8, 8, 1)")
    add(c, "read_inputs: image_shape without channels", lambda w: read([w.inputs / "good.npy"], image_shape=(8, 8)),
        ValueError, "image_shape must be (height, width, channels), got (8, 8)")
    write = outputs.write_outputs
    add(c, "write_outputs: nothing", lambda w: write({}, w.work / "out"), ValueError, "no outputs to write")
    add(c, "write_outputs: into a file", lambda w: write({"score": np.zeros(2)}, w.work / "out.tflite"), ValueError,
        "is a file, not a folder")
    add(c, "write_outputs: into a folder of the user's", lambda w: write({"score": np.zeros(2)}, w.work / "foreign_out"),
        ValueError, "holds files that predictions are not (notes.txt); choose a new or empty folder")
    add(c, "write_outputs: over earlier outputs", lambda w: write({"image": w.x[:2]}, w.work / "done"),
        FileExistsError, "image.npy already exists (pass overwrite to replace it)")
    add(c, "write_outputs: names of another count", lambda w: write({"score": np.zeros(2)}, w.work / "out", names=["a"]),
        ValueError, "1 names for outputs of batch size 2")
    add(c, "write_outputs: duplicate names", lambda w: write({"score": np.zeros(2)}, w.work / "out", names=["a", "a"]),
        ValueError, "output names must be unique")
    add(c, "write_outputs: unusable name", lambda w: write({"score": np.zeros(1)}, w.work / "out", names=["../.."]),
        ValueError, "has no usable characters")

    # pictures
    c = "pictures"
    add(c, "reconstructions: not a model", lambda w: plots.reconstructions(None, w.x), ValueError,
        "expected a keras_ae Autoencoder")
    add(c, "reconstructions: NaN images", lambda w: plots.reconstructions(w.ae, nan), DataError, "NaN")
    add(c, "reconstructions: images of another size", lambda w: plots.reconstructions(w.ae, np.zeros((2, 4, 4, 1), "uint8")),
        ValueError, "images have shape (4, 4, 1) but the model expects (8, 8, 1)")
    add(c, "reconstructions: negative seed", lambda w: plots.reconstructions(w.ae, w.x, seed=-1), ValueError,
        "seed must be >= 0, got -1")
    add(c, "latent: labels of another count", lambda w: plots.latent(w.ae, w.x, np.zeros(3)), DataError,
        "found 3 labels for 6 images")
    add(c, "latent: unknown method", lambda w: plots.latent(w.ae, w.x, method="isomap"), ValueError,
        "unknown method 'isomap'; choose one of tsne, pca, umap, raw")
    add(c, "latent: too few images for a map", lambda w: plots.latent(w.ae, w.x[:3], method="pca"), ValueError,
        "a 2-d map needs at least 5 codes, got 3")
    add(c, "manifold of a plain autoencoder", lambda w: plots.manifold(w.ae), ValueError,
        "manifold needs a variational autoencoder with a 2-d latent space")
    add(c, "manifold: n 1", lambda w: plots.manifold(w.vae, n=1), ValueError, "the grid's n must be >= 2, got 1")
    add(c, "manifold: quantiles reversed", lambda w: plots.manifold(w.vae, quantiles=(0.9, 0.1)), ValueError,
        "quantiles must be two numbers with 0 < low < high < 1, got (0.9, 0.1)")
    add(c, "manifold: quantiles text", lambda w: plots.manifold(w.vae, quantiles="ab"), ValueError,
        "quantiles must be two numbers")
    add(c, "interpolate: unpaired images", lambda w: plots.interpolate(w.ae, w.x[:2], w.x[:3]), ValueError,
        "got 2 start images but 3 end images")
    add(c, "interpolate: one step", lambda w: plots.interpolate(w.ae, w.x[:2], w.x[2:4], steps=1), ValueError,
        "interpolation steps must be >= 2, got 1")
    add(c, "samples of a plain autoencoder", lambda w: plots.samples(w.ae), ValueError,
        "samples need a variational autoencoder; 'seed' (Autoencoder) has no prior to draw from")
    add(c, "samples: n 0", lambda w: plots.samples(w.vae, n=0), ValueError,
        "the number of samples must be >= 1, got 0")
    add(c, "draw_samples: n as text", lambda w: plots.draw_samples(w.vae, "8"), ValueError, "the number of samples must be an integer, got '8'")
    add(c, "curves: missing history", lambda w: plots.curves(w.work / "history.csv"), ValueError, "no training history at")
    add(c, "curves: no epochs", lambda w: plots.curves([]), ValueError, "the training history has no epochs")
    add(c, "curves: not a history", lambda w: plots.curves(w.inputs / "notes.txt"), ValueError,
        "is not a training history written by keras-ae")
    add(c, "curves: a number", lambda w: plots.curves(3), ValueError, "history must be a run folder")
    add(c, "errors: n 0", lambda w: plots.errors(w.ae, w.x, n=0), ValueError, "n must be >= 1, got 0")
    many = np.zeros((33, *IMAGE), "uint8")
    for name, call, message in [
        ("reconstructions of 33 images", lambda w: plots.reconstructions(w.ae, many),
         "reconstructions shows at most 32 images, got 33"),
        ("errors: n 33", lambda w: plots.errors(w.ae, w.x, n=33), "errors shows at most 32 images, got 33"),
        ("interpolate: 17 pairs", lambda w: plots.interpolate(w.ae, many[:17], many[16:]),
         "interpolate shows at most 16 pairs, got 17"),
        ("manifold: n 51", lambda w: plots.manifold(w.vae, n=51), "manifold shows at most 50 cells per side, got 51"),
        ("samples: n 10**9", lambda w: plots.samples(w.vae, n=10**9),
         "samples shows at most 256 samples, got 1,000,000,000"),
    ]:
        add(c, name, call, ValueError, message)
    add(c, "image_grid: cols 0", lambda w: plots.image_grid(w.x, cols=0), ValueError, "cols must be >= 1, got 0")
    add(c, "image_grid: no images", lambda w: plots.image_grid(np.zeros((0, 8, 8, 1))), DataError, "images array is empty")
    add(c, "latent_codes: batch_size 0", lambda w: plots.latent_codes(w.ae, w.x, batch_size=0), ValueError,
        "batch_size must be >= 1, got 0")
    add(c, "worst_scored: n -1", lambda w: plots.worst_scored(w.ae, w.x, -1), ValueError, "n must be >= 1, got -1")

    def save_jpg(w):
        from matplotlib.figure import Figure

        plots.save_figure(Figure(), w.work / "figure.jpg")

    add(c, "save_figure: a JPEG name", save_jpg, ValueError, "pictures are written as .png files")

    # anomaly detection
    c = "anomaly detection"
    good = dict(score="reconstruction", threshold=0.1, method="percentile", level=99.0, images=100)
    for field, value, message in [("score", "mahalanobis", "unknown score 'mahalanobis'; choose one of reconstruction, elbo"),
                                  ("method", "sigma", "unknown threshold method 'sigma'"),
                                  ("level", 0.0, "percentile must be in (0, 100], got 0"),
                                  ("threshold", float("nan"), "threshold must be a finite number, got nan"),
                                  ("images", 0, "images must be a positive count, got 0"),
                                  ("seed", -1, "seed must be >= 0, got -1"),
                                  ("fitted_on", 3, "fitted_on must be a string or null, got 3")]:
        add(c, f"Threshold({field}={value!r})", lambda w, f=field, v=value: Threshold(**{**good, f: v}),
            ValueError, message)
    add(c, "Threshold: fpr 1", lambda w: Threshold(**{**good, "method": "fpr", "level": 1.0}), ValueError,
        "fpr must be in [0, 1), got 1")
    add(c, "from_dict: a list", lambda w: Threshold.from_dict([]), ValueError, "a threshold is a JSON object, got list")
    add(c, "from_dict: unknown field", lambda w: Threshold.from_dict({**good, "x": 1}), ValueError, "unknown threshold field(s): x")
    add(c, "from_dict: incomplete", lambda w: Threshold.from_dict({"score": "elbo"}), ValueError, "incomplete threshold")
    add(c, "no threshold fitted", lambda w: detect.load_threshold(w.vae_run), NoThresholdError,
        "has no fitted threshold (detector.json); fit one on normal images with `keras-ae detect")
    add(c, "threshold of another model", lambda w: detect.load_threshold(w.stale), ValueError,
        "was fitted for another model.keras (the model changed since)")
    add(c, "threshold file that is not JSON", lambda w: detect.load_threshold(w.configs / "not_json.json"), ValueError,
        "is not a threshold file")
    add(c, "elbo score of a plain autoencoder", lambda w: detect.anomaly_scores(w.ae, w.x, score="elbo"), ValueError,
        "the elbo score needs a VariationalAutoencoder; 'seed' is an Autoencoder")
    add(c, "unknown score", lambda w: detect.anomaly_scores(w.ae, w.x, score="psnr"), ValueError, "unknown score 'psnr'")
    add(c, "scores: batch_size 0", lambda w: detect.anomaly_scores(w.ae, w.x, batch_size=0), ValueError,
        "batch_size must be >= 1, got 0")
    add(c, "scores: NaN images", lambda w: detect.anomaly_scores(w.ae, nan), DataError, "NaN")
    add(c, "scores: images of another size", lambda w: detect.anomaly_scores(w.ae, np.zeros((2, 4, 4, 1), "uint8")),
        DataError, "images have shape (4, 4, 1) but the model takes (8, 8, 1)")
    add(c, "fit: percentile 101", lambda w: detect.fit_threshold(w.ae, w.x, percentile=101), ValueError,
        "percentile must be in (0, 100], got 101")
    add(c, "fit: too few images for the rate", lambda w: detect.fit_threshold(w.ae, w.x, fpr=0.01), ValueError,
        "fpr 0.01 needs at least 100 normal images (one expected above the threshold), got 6")
    add(c, "fit: percentile and fpr", lambda w: detect.fit_threshold(w.ae, w.x, percentile=90, fpr=0.1), ValueError,
        "give one of percentile, fpr and contamination, not percentile and fpr")
    add(c, "fit: NaN images", lambda w: detect.fit_threshold(w.ae, nan, percentile=50), DataError, "NaN")
    add(c, "threshold_from_scores: NaN", lambda w: detect.threshold_from_scores([np.nan] * 10, percentile=50),
        ValueError, "the normal scores contain NaN or inf")
    add(c, "threshold_from_scores: none", lambda w: detect.threshold_from_scores([]), ValueError,
        "no normal images to fit a threshold on")
    add(c, "detect without a threshold", lambda w: detect.detect(w.ae, w.x), NoThresholdError,
        "detect(model, images) needs threshold=")
    add(c, "pca_scores: n_components 0", lambda w: detect.pca_scores(w.x, w.x, 0), ValueError,
        "n_components must be >= 1, got 0")
    add(c, "ranking_metrics: no anomalies", lambda w: detect.ranking_metrics([0.1, 0.2], []), ValueError,
        "ranking needs normal and anomalous scores, got 2 normal and 0 anomalous")
    add(c, "elbo_noise: latent_dim 0", lambda w: detect.elbo_noise(0), ValueError, "latent_dim must be >= 1, got 0")
    for value in (0, 0.5, -0.1):
        add(c, f"fit: contamination {value}", lambda w, v=value: detect.fit_threshold(w.ae, w.x, contamination=v),
            ValueError, f"contamination must be in (0, 0.5), got {value:g}")
    add(c, "fit: contamination and percentile", lambda w: detect.fit_threshold(w.ae, w.x, percentile=90, contamination=0.1),
        ValueError, "give one of percentile, fpr and contamination, not percentile and contamination")
    add(c, "fit: too few images for the contamination", lambda w: detect.fit_threshold(w.ae, w.x, contamination=0.1),
        ValueError, "contamination 0.1 needs at least 10 images (one expected above the threshold), got 6")
    labels = np.arange(6) % 2
    for name, bad, message in [("one class", np.zeros(6), "labels are all normal (0); a threshold from labels needs both"),
                               ("all anomalies", np.ones(6), "labels are all anomalies (1)"),
                               ("not 0/1", labels * 2, "labels must be 1 (anomaly) or 0 (normal), found 2"),
                               ("another count", labels[:5], "found 5 labels for 6 images"),
                               ("a matrix", np.zeros((6, 2)), "labels must have shape (N,), got shape (6, 2)"),
                               ("fractions", labels * 0.5, "labels must be whole numbers")]:
        add(c, f"fit: labels {name}", lambda w, b=bad: detect.fit_threshold(w.ae, w.x, labels=b), DataError, message)
    add(c, "fit: labels and percentile", lambda w: detect.fit_threshold(w.ae, w.x, labels=labels, percentile=90),
        ValueError, "a threshold from labels takes no percentile")
    add(c, "fit: precision without labels", lambda w: detect.fit_threshold(w.ae, w.x, precision=0.9), ValueError,
        "precision applies to a threshold from labels (give labels)")
    for value in (0, 1.5):
        add(c, f"fit: precision {value}", lambda w, v=value: detect.fit_threshold(w.ae, w.x, labels=labels, precision=v),
            ValueError, f"precision must be in (0, 1], got {value:g}")

    def unreachable(w):
        images, labels = detect.read_labelled(w.data / "labelled_unreachable.npz")
        detect.fit_threshold(w.ae, images, labels=labels, precision=1.0)

    add(c, "fit: an unreachable precision", unreachable, ValueError,
        "precision 1 is not reached on the labelled images (at most")
    add(c, "threshold_from_labels: NaN scores", lambda w: detect.threshold_from_labels([np.nan, 1.0], [0, 1]),
        ValueError, "the scores contain NaN or inf")
    for name, message, error in [("missing.npz", "no labelled file", FileNotFoundError),
                                 ("pool.npz", "has no labels array (it has images)", DataError),
                                 ("labelled_no_labels.npz", "has no labels array", DataError),
                                 ("text.npz", "is not an .npz archive", DataError),
                                 ("objects.npz", "has no images and no labels array", DataError)]:
        add(c, f"read_labelled: {name}", lambda w, n=name: detect.read_labelled(w.data / n), error, message)
    add(c, "read_labelled: an .npy file", lambda w: detect.read_labelled(w.inputs / "good.npy"), ValueError,
        "labelled images are an .npz file with arrays images and labels, got .npy")
    add(c, "p_values of an old threshold", lambda w: Threshold(**good).p_values([0.1]), detect.NoPValuesError,
        "p-values are unavailable; refit it")
    for name, extra, message in [
            ("unsorted", dict(normal_scores=(0.2, 0.1), normal_images=2), "normal_scores must be sorted"),
            ("without their count", dict(normal_scores=(0.1,)), "normal_scores and normal_images go together"),
            ("fewer images than scores", dict(normal_scores=(0.1, 0.2), normal_images=1),
             "normal_images must be a count >= 2, got 1"),
            ("NaN", dict(normal_scores=(float("nan"),), normal_images=1), "a non-empty list of finite numbers"),
            ("strings", dict(normal_scores=("a",), normal_images=1), "normal_scores must be a list of numbers")]:
        add(c, f"Threshold: normal scores {name}", lambda w, e=extra: Threshold(**{**good, **e}), ValueError, message)
    add(c, "Threshold: f1 with a level", lambda w: Threshold(**{**good, "method": "f1", "level": 0.5}), ValueError,
        "the f1 method has no level, got 0.5")
    add(c, "Threshold: f1 without labelled results", lambda w: Threshold(**{**good, "method": "f1", "level": None}),
        ValueError, "the f1 method needs what it reached on the labelled images")
    add(c, "Threshold: percentile with labelled results",
        lambda w: Threshold(**good, labelled=dict(anomalies=1, precision=1, recall=1, f1=1, fpr=0)),
        ValueError, "labelled results go with the f1 and precision methods, not percentile")
    add(c, "error_maps: images of another size", lambda w: detect.error_maps(w.ae, np.zeros((2, 4, 4, 1), "uint8")),
        DataError, "images have shape (4, 4, 1) but the model takes (8, 8, 1)")
    add(c, "error_maps: a number as the model", lambda w: detect.error_maps(3, w.x), ValueError,
        "expected a keras_ae Autoencoder, got int")

    from keras_ae.serving.error_maps import write_error_maps

    some_maps = np.zeros((1, 8, 8), "float32")
    for name, target, error, message in [
            ("a file", "out.tflite", ValueError, "is a file, not a folder"),
            ("a folder of the user's", "foreign_out", ValueError, "holds files that error maps are not (notes.txt)"),
            ("a folder of predictions", "done", ValueError, "holds files that error maps are not (image.npy)"),
            ("earlier maps", "maps_done", FileExistsError, "noise.npy and 1 more already exist (pass overwrite")]:
        add(c, f"write_error_maps into {name}", lambda w, t=target: write_error_maps(some_maps, ["noise"], w.work / t),
            error, message)
    add(c, "write_error_maps: images, not maps", lambda w: write_error_maps(np.zeros((1, 8, 8, 1)), ["a"], w.work / "m"),
        ValueError, "error maps have shape (N, H, W), got (1, 8, 8, 1)")
    add(c, "write_error_maps: too few names", lambda w: write_error_maps(some_maps, [], w.work / "m"), ValueError,
        "1 maps need as many unique names, got 0")

    # the latent space as features
    c = "features"
    labels = np.arange(6) % 2
    codes = np.zeros((6, 2), "float32")
    add(c, "encoder_layer of a number", lambda w: features.encoder_layer(3), ValueError,
        "expected a keras_ae autoencoder, got int")
    add(c, "encode: NaN images", lambda w: features.encode(w.ae, nan), DataError, "images contain NaN values")
    add(c, "encode: images of another size", lambda w: features.encode(w.ae, np.zeros((2, 4, 4, 1), "uint8")),
        ValueError, "images have shape (4, 4, 1) but the model expects (8, 8, 1)")
    add(c, "cluster: NaN codes", lambda w: features.cluster(np.full((6, 2), np.nan), labels), ValueError,
        "codes contain NaN or inf values")
    add(c, "cluster: k 0", lambda w: features.cluster(codes, labels, k=0), ValueError, "k must be >= 1, got 0")
    add(c, "cluster: k as text", lambda w: features.cluster(codes, labels, k="2"), ValueError,
        "k must be an integer, got '2'")
    add(c, "cluster: more clusters than codes", lambda w: features.cluster(codes, labels, k=7), ValueError,
        "k must be between 1 and the number of samples (6), got 7")
    add(c, "cluster: labels of another count", lambda w: features.cluster(codes, labels[:3]), DataError,
        "found 3 labels for 6 images")
    add(c, "few_labels: per_class 0", lambda w: features.few_labels(labels, per_class=0), ValueError,
        "per_class must be >= 1, got 0")
    add(c, "linear_probe: one class", lambda w: features.linear_probe(codes, np.zeros(6), codes, labels),
        ValueError, "a probe needs training labels of at least two classes")
    add(c, "classifier: one class", lambda w: features.classifier(w.ae, 1), ValueError,
        "num_classes must be >= 2, got 1")
    add(c, "fine_tune: epochs 0", lambda w: features.fine_tune(w.ae, w.x, labels, w.x, labels, epochs=0),
        ValueError, "epochs must be >= 1, got 0")
    add(c, "fine_tune: batch_size as text", lambda w: features.fine_tune(w.ae, w.x, labels, w.x, labels,
                                                                        batch_size="32"),
        ValueError, "batch_size must be an integer, got '32'")
    return cases


# --- the command line ---------------------------------------------------------------------------
def _cli_cases() -> list[CliCase]:
    cases: list[CliCase] = []

    def add(category, name, argv, message):
        cases.append(CliCase(category, name, argv, message))

    def new_run(w, *extra):
        return ["train", "--dataset", str(w.npz), "--output", str(w.work / "new_run"), "--quiet", *extra]

    # command line syntax
    c = "command line syntax"
    for argv, message in [
        ([], "the following arguments are required: command"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["train", "--epochs", "three"], "train: argument --epochs: invalid int value: 'three'"),
        (["train", "--learning-rate", "fast"], "argument --learning-rate: invalid float value: 'fast'"),
        (["train", "--model", "gan"], "argument --model: invalid choice: 'gan'"),
        (["train", "--loss", "l3"], "argument --loss: invalid choice: 'l3'"),
        (["train", "--likelihood", "poisson"], "argument --likelihood: invalid choice: 'poisson'"),
        (["train", "--seed", "1.5"], "argument --seed: invalid int value: '1.5'"),
        (["train", "--colour"], "unrecognized arguments: --colour"),
        (["evaluate"], "the following arguments are required: RUN_DIR_OR_MODEL"),
        (["evaluate", "run", "--nll-samples", "x"], "argument --nll-samples: invalid int value: 'x'"),
        (["export", "run", "--format", "onnx"], "argument --format: invalid choice: 'onnx'"),
        (["export", "run", "--quantize", "int4"], "argument --quantize: invalid choice: 'int4'"),
        (["predict", "model.tflite"], "the following arguments are required: --input"),
        (["detect", "run", "--percentile", "50", "--fpr", "0.1"], "argument --fpr: not allowed with argument --percentile"),
        (["detect", "run", "--score", "mahalanobis"], "argument --score: invalid choice: 'mahalanobis'"),
        (["plot", "run"], "the following arguments are required: --what"),
        (["plot", "run", "--what", "everything"], "argument --what: invalid choice: 'everything'"),
        (["plot", "run", "--what", "latent", "--method", "isomap"], "argument --method: invalid choice: 'isomap'"),
        (["sample", "run", "-n", "many"], "argument -n: invalid int value: 'many'"),
    ]:
        add(c, " ".join(argv) or "(nothing)", lambda w, a=argv: a, message)

    # train options
    c = "train options"
    for extra, message in [
        (["--epochs", "0"], "epochs must be >= 1, got 0"), (["--epochs", "-1"], "epochs must be >= 1, got -1"),
        (["--batch-size", "0"], "batch_size must be >= 1, got 0"), (["--latent-dim", "0"], "latent_dim must be >= 1"),
        (["--learning-rate", "0"], "learning_rate must be a finite number > 0, got 0.0"),
        (["--learning-rate", "-1"], "learning_rate must be a finite number > 0, got -1.0"),
        (["--learning-rate", "nan"], "got nan"), (["--learning-rate", "inf"], "got inf"),
        (["--validation-fraction", "0"], "validation_fraction must be in (0, 1), got 0.0"),
        (["--validation-fraction", "1"], "validation_fraction must be in (0, 1), got 1.0"),
        (["--early-stopping", "0"], "early_stopping (patience) must be >= 1, got 0"),
        (["--seed", "-1"], "seed must be in [0, 2**32), got -1"),
        (["--seed", str(2**32)], "seed must be in [0, 2**32)"),
        (["--model", "vae", "--beta", "-1"], "beta must be a finite number >= 0, got -1.0"),
        (["--model", "vae", "--sigma", "0"], "sigma must be a finite number > 0, got 0.0"),
        (["--beta", "2"], "option 'beta' does not apply to the autoencoder objective"),
        (["--model", "vae", "--sparse", "l1:0.1"], "option 'sparsity' does not apply to the vae objective"),
        (["--denoise", "blur:1"], "unknown noise kind 'blur'"), (["--denoise", "gaussian"], "needs an amount"),
        (["--denoise", "masking:2"], "masking noise fraction must be in (0, 1], got 2.0"),
        (["--sparse", "l2:1"], "bad sparsity spec 'l2:1'"),
        (["--model", "linear", "--loss", "bce"], "the linear architecture has an unbounded code and output"),
        (["--latent-dim", "64"], "latent_dim 64 >= input size 64 makes an overcomplete autoencoder that "
                                 "can copy its input; add a regulariser (sparsity= or denoise=; on the "
                                 "command line --sparse or --denoise)"),
        (["--latent-dim", "1000000000", "--sparse", "l1:0.0001"], "parameters, about"),
        (["--model", "vq_vae", "--codebook-size", "1000000000"],
         "codebook_size 1,000,000,000 needs about 294.3 GiB in a training step (16-d codes, one image)"),
        (["--model", "vq_vae", "--codebook-size", "500000"], "(16-d codes, a batch of 108 images); at most"),
        (["--model", "vq_vae", "--codebook-size", "1000"],
         "codebook_size 1,000 is more codes than the 432 code vectors of the training images (108 × 2×2)"),
        (["--model", "seed", "--config", "config.json"], "give one of --model, --config and --resume, not both --model and --config"),
    ]:
        add(c, " ".join(extra), lambda w, e=extra: new_run(w, *e), message)
    add(c, "--resume with --model", lambda w: ["train", "--resume", str(w.run), "--model", "seed"],
        "not both --model and --resume")
    add(c, "--resume of no run", lambda w: ["train", "--resume", str(w.inputs), "--epochs", "3"],
        "no keras-ae run there (no config.json)")
    add(c, "--resume into another --output", lambda w: ["train", "--resume", str(w.run), "--output", str(w.work / "x")],
        "--resume continues the run in its own folder; leave out --output")
    add(c, "--resume with --overwrite", lambda w: ["train", "--resume", str(w.run), "--epochs", "3", "--overwrite"],
        "--resume continues a run; --overwrite would replace it")

    # config.json
    c = "config.json"
    for name, message in [
        ("epochs_string", "epochs must be an integer, got '3'"), ("epochs_float", "epochs must be an integer, got 3.0"),
        ("latent_null", "latent_dim must be an integer, got None"), ("hidden_number", "got hidden_units=5"),
        ("hidden_fraction", "got hidden_units=[1.5]"), ("hidden_zero", "got hidden_units=[0]"),
        ("rate_string", "learning_rate must be a number, got 'fast'"), ("options_list", "options is a JSON object"),
        ("option_elsewhere", "option 'beta' does not apply to the autoencoder objective"),
        ("objective_unknown", "unknown objective 'gan'"), ("architecture_unknown", "unknown architecture 'rnn'"),
        ("key_unknown", "unknown config keys: lr"), ("a_list", "a config is a JSON object, got list"),
        ("mixed_yes", "mixed_precision is true (\"on\"), false (\"off\") or \"auto\", got 'yes'"), ("seed_negative", "seed must be in [0, 2**32)"),
        ("activation_unknown", "unknown latent_activation 'wobble'"), ("dataset_number", "dataset must be a string, got 3"),
        ("batch_zero", "batch_size must be >= 1, got 0"), ("noise_number", "noise must be a string like"),
        ("not_json", "cannot read config"), ("empty", "cannot read config"), ("binary", "cannot read config"),
        ("missing", "cannot read config"),
    ]:
        add(c, name, lambda w, n=name: ["train", "--config", str(w.configs / f"{n}.json"),
                                        "--output", str(w.work / "new_run")], message)

    # datasets
    c = "datasets"
    for name, message in [
        ("missing.npz", "data source not found"), ("text.npz", "is not an .npz archive"),
        ("zero.npz", "cannot read npz file"), ("objects.npz", "holds Python objects (a pickled object array)"),
        ("nan.npz", "images contain NaN values"), ("big.npz", "float images must lie in [0, 1], found values in [0, 25"),
        ("rank2.npz", "got shape (20, 64)"), ("noimages.npz", "has no image arrays"),
        ("mismatch.npz", "found 19 labels for 20 images"), ("emptyarr.npz", "images array is empty"),
        ("tiny.npz", "validation split is empty"), ("idx_none", "no IDX or image files found in"),
        ("folder_bad", "bad.png: cannot identify image file"), ("folder_sizes", "have 2 different sizes"),
        ("idx_magic", "wrong IDX magic number"), ("idx_truncated", "truncated IDX file"),
        ("idx_gzip", "corrupt or truncated gzip file"), ("idx_zero", "holds no data"),
    ]:
        add(c, name, lambda w, n=name: ["train", "--dataset", str(w.data / n), "--output",
                                        str(w.work / "new_run"), "--quiet"], message)
    add(c, "a text file", lambda w: ["train", "--dataset", str(w.inputs / "notes.txt"), "--output",
                                     str(w.work / "new_run")], "expected an .npz file or a folder of IDX")
    add(c, "data dir missing", lambda w: ["train", "--dataset", "mnist", "--data-dir", str(w.data / "nowhere"),
                                          "--output", str(w.work / "new_run")], "nowhere (no such folder)")
    add(c, "a missing folder/", lambda w: ["train", "--dataset", "missing_folder/", "--output", str(w.work / "new_run")],
        "data source not found: missing_folder (no such folder)")
    add(c, "a missing folder/path", lambda w: ["train", "--dataset", "My Photos/cats", "--output", str(w.work / "new_run")],
        "data source not found: My Photos/cats (no such file or folder)")
    for name in ("mnist", "small.npz", "idx_trailing"):
        add(c, f"--skip-bad-images of {name}", lambda w, n=name: [
            "train", "--dataset", n if n == "mnist" else str(w.data / n), "--skip-bad-images",
            "--output", str(w.work / "new_run")], "--skip-bad-images leaves damaged files out of a folder")
    add(c, "evaluate --skip-bad-images of an .npz run", lambda w: ["evaluate", str(w.run), "--skip-bad-images"],
        "--skip-bad-images leaves damaged files out of a folder of images, and")
    add(c, "evaluate on images of another size", lambda w: ["evaluate", str(w.run), "--dataset", str(w.data / "wide.npz")],
        "images have shape (12, 12, 1) but the model expects (8, 8, 1)")
    add(c, "evaluate on the test split of a single pool",
        lambda w: ["evaluate", str(w.run), "--dataset", str(w.data / "pool.npz"), "--split", "test"],
        "--split test: no test split in")
    add(c, "detect --fit on the test split of a single pool",
        lambda w: ["detect", str(w.run), "--fit", "--dataset", str(w.data / "pool.npz"), "--split", "test"],
        "pool.npz; its splits are train, validation, all")

    # run folders
    c = "run folders"
    same = lambda w, *extra: ["train", "--config", str(w.run / "config.json"), "--output", str(w.run), *extra]  # noqa: E731
    add(c, "--output is a file", lambda w: new_run(w)[:-3] + ["--output", str(w.inputs / "notes.txt")],
        "exists and is not a folder")
    add(c, "--output a folder of the user's", lambda w: new_run(w)[:-3] + ["--output", str(w.runs / "foreign")],
        "is not empty and is not a keras-ae run folder (it holds notes.txt)")
    add(c, "--output a folder of the user's --overwrite",
        lambda w: new_run(w)[:-3] + ["--output", str(w.runs / "foreign"), "--overwrite"],
        "is not a keras-ae run folder")
    add(c, "a finished run, same command", lambda w: same(w), "already holds a model trained for 1 epoch")
    add(c, "a finished run, fewer epochs", lambda w: same(w, "--epochs", "1"), "already holds a model trained for 1 epoch")
    add(c, "a finished run, another latent size", lambda w: same(w, "--latent-dim", "3", "--epochs", "3"),
        "option latent_dim differs: run has 2, command gives 3")
    add(c, "a finished run, another seed", lambda w: same(w, "--seed", "9"), "option seed differs: run has 0, command gives 9")
    add(c, "a finished run, another preset", lambda w: ["train", "--model", "dense", "--dataset", str(w.npz),
                                                        "--output", str(w.run)],
        'option preset differs: run has "seed", command gives "dense"')
    add(c, "an interrupted run, another seed",
        lambda w: ["train", "--config", str(w.interrupted_config), "--output", str(w.interrupted), "--seed", "7"],
        "holds an interrupted run with different options: option seed differs")
    add(c, "a run in use", lambda w: ["train", "--config", str(w.busy / "config.json"), "--output", str(w.busy)],
        "is in use by process")
    add(c, "a run in use --overwrite",
        lambda w: ["train", "--config", str(w.busy / "config.json"), "--output", str(w.busy), "--overwrite"],
        "is in use by process")
    add(c, "--resume of a run in use", lambda w: ["train", "--resume", str(w.busy), "--epochs", "3"], "is in use by process")
    add(c, "--resume of a run with a broken config.json", lambda w: ["train", "--resume", str(w.broken), "--epochs", "3"],
        "epochs must be an integer, got '3'")
    add(c, "--resume, no more epochs", lambda w: ["train", "--resume", str(w.run)], "already holds a model trained for 1 epoch")

    # model files
    c = "model files"
    for command in (["evaluate"], ["export"], ["detect", "--fit"], ["plot", "--what", "reconstructions"], ["sample"]):
        def argv(w, model, command=command):
            return [command[0], str(model), *command[1:]]

        label = command[0]
        add(c, f"{label}: missing", lambda w, argv=argv: argv(w, w.models / "missing.keras"), "no model at")
        add(c, f"{label}: zero bytes", lambda w, argv=argv: argv(w, w.models / "empty.keras"),
            "is not a .keras model file: it is an empty file")
        add(c, f"{label}: a plain Keras model", lambda w, argv=argv: argv(w, w.models / "plain.keras"),
            "holds a plain Keras model (Sequential), not a keras_ae autoencoder")
        add(c, f"{label}: a run with a broken config.json", lambda w, argv=argv: argv(w, w.broken),
            "bad config value: epochs must be an integer, got '3'")
    add(c, "evaluate: text", lambda w: ["evaluate", str(w.models / "text.keras")], "that is not a zip archive")
    add(c, "evaluate: a zip that is not a model", lambda w: ["evaluate", str(w.models / "zip.keras")], "cannot load model")
    add(c, "evaluate: another suffix", lambda w: ["evaluate", str(w.models / "model.h5")], "is not a .keras model file")
    add(c, "evaluate: a folder without a model", lambda w: ["evaluate", str(w.inputs)], "no model at")

    # evaluate, export
    c = "evaluate and export"
    add(c, "evaluate --split training", lambda w: ["evaluate", str(w.run), "--split", "training"], "unknown split 'training'")
    add(c, "evaluate --nll-samples 0", lambda w: ["evaluate", str(w.vae_run), "--nll-samples", "0"], "--nll-samples must be >= 1")
    add(c, "evaluate --nll-samples of a plain autoencoder", lambda w: ["evaluate", str(w.run), "--nll-samples", "5"],
        "--nll-samples applies to variational autoencoders (their NLL); ")
    add(c, "evaluate --seed -1", lambda w: ["evaluate", str(w.run), "--seed", "-1"], "--seed must be in [0, 2**32), got -1")
    add(c, "evaluate a missing dataset", lambda w: ["evaluate", str(w.run), "--dataset", str(w.data / "gone.npz")],
        "data source not found")
    add(c, "export --quantize without tflite", lambda w: ["export", str(w.run), "--quantize", "int8"],
        "--quantize applies to --format tflite")
    add(c, "export to another suffix", lambda w: ["export", str(w.run), "--format", "tflite", "--output",
                                                 str(w.work / "m.onnx")], "TFLite files end in .tflite")
    add(c, "export over a file", lambda w: ["export", str(w.run), "--format", "tflite", "--output",
                                           str(w.work / "out.tflite")], "already exists; pass --overwrite to replace it")
    add(c, "export under a file", lambda w: ["export", str(w.run), "--output", str(w.inputs / "notes.txt" / "sm")], "notes.txt")
    add(c, "export over a folder of the user's", lambda w: ["export", str(w.run), "--output",
                                                           str(w.exports / "not_a_savedmodel"), "--overwrite"],
        "it exists and is not a SavedModel directory")
    add(c, "export with a threshold of another model", lambda w: ["export", str(w.stale), "--output", str(w.work / "sm")],
        "was fitted for another model.keras")

    # predict
    c = "predict"
    def pred(w, *inputs, model=None, extra=()):
        return ["predict", str(model or w.tflite), "--input", *[str(w.inputs / i) for i in inputs],
                "--output", str(w.work / "predicted"), *extra]

    add(c, "missing model", lambda w: pred(w, "good.npy", model=w.exports / "gone.tflite"), "no exported model at")
    add(c, "a folder that is not a SavedModel", lambda w: pred(w, "good.npy", model=w.exports / "not_a_savedmodel"),
        "without saved_model.pb")
    add(c, "a .keras file", lambda w: pred(w, "good.npy", model=w.models / "ae_copy.keras"),
        "is neither a SavedModel directory nor a .tflite file")
    add(c, "an empty .tflite", lambda w: pred(w, "good.npy", model=w.exports / "empty.tflite"), "cannot load TFLite model")
    add(c, "unknown signature", lambda w: pred(w, "good.npy", extra=["--signature", "sample"]), "has no signature 'sample'")
    add(c, "missing input", lambda w: pred(w, "gone.npy"), "no input file")
    for name, message in [("notes.txt", "unsupported input type .txt"), ("text.npy", "not a NumPy .npy file"),
                          ("pickled.npy", "holds Python objects"), ("nan.npy", "are NaN; pixels must be"),
                          ("big.npy", "float pixels must be in [0, 1], got ["),
                          ("int16.npy", "unsupported pixel type int16"), ("empty.npy", "the array is empty"),
                          ("bad.png", "cannot read image"), ("wrong.npy", "does not hold images of shape (8, 8, 1)"),
                          ("rgb.png", "image shape (8, 8, 3) does not match (8, 8, 1)")]:
        add(c, name, lambda w, n=name: pred(w, n), message)
    add(c, "the same on a SavedModel", lambda w: pred(w, "nan.npy", model=w.saved), "are NaN; pixels must be")
    add(c, "decode given images", lambda w: pred(w, "good.npy", extra=["--signature", "decode"]),
        "input 'z' of 'decode' must have shape (batch, 2), got (2, 8, 8, 1)")
    add(c, "decode given two files", lambda w: pred(w, "codes.npy", "codes.npy", extra=["--signature", "decode"]),
        "signature 'decode' takes one .npy file of z (batch, 2), float32")
    add(c, "--output a folder of the user's", lambda w: pred(w, "good.npy")[:-2] + ["--output", str(w.work / "foreign_out")],
        "holds files that predictions are not (notes.txt)")
    add(c, "--output over earlier outputs", lambda w: pred(w, "good.npy")[:-2] + ["--output", str(w.work / "done")],
        "image.npy already exists; pass --overwrite to replace it")
    add(c, "--output a file", lambda w: pred(w, "good.npy")[:-2] + ["--output", str(w.work / "out.tflite")],
        "is a file, not a folder")

    # detect
    c = "detect"
    add(c, "--fit and --input", lambda w: ["detect", str(w.run), "--fit", "--input", str(w.inputs / "good.npy")],
        "give --fit (fit a threshold) or --input (detect), not both")
    add(c, "neither --fit nor --input", lambda w: ["detect", str(w.run)], "give --input FILE_OR_FOLDER to detect anomalies")
    add(c, "--input with --percentile", lambda w: ["detect", str(w.run), "--input", str(w.inputs / "good.npy"),
                                                  "--percentile", "90"], "--percentile applies to --fit")
    for extra, message in [(["--percentile", "0"], "percentile must be in (0, 100], got 0"),
                           (["--percentile", "101"], "percentile must be in (0, 100], got 101"),
                           (["--fpr", "1"], "fpr must be in [0, 1), got 1"),
                           (["--fpr", "0.001"], "fpr 0.001 needs at least 1000 normal images"),
                           (["--score", "elbo"], "the elbo score needs a VariationalAutoencoder"),
                           (["--split", "training"], "unknown split 'training'")]:
        add(c, "--fit " + " ".join(extra), lambda w, e=extra: ["detect", str(w.run), "--fit", "--overwrite", *e],
            message)
    add(c, "--fit over a fitted threshold", lambda w: ["detect", str(w.run), "--fit"],
        "detector.json already exists; pass --overwrite to replace it")
    for extra in (["--overwrite"], ["--dataset", "mnist"], ["--split", "test"], ["--skip-bad-images"]):
        add(c, "--input with " + " ".join(extra), lambda w, e=extra: [
            "detect", str(w.run), "--input", str(w.inputs / "good.npy"), *e],
            f"{extra[0]} applies to --fit; --input scores the files given with the saved threshold")
    for name, message in (("text.keras", "is not a .keras model file: it is a"),
                          ("plain.keras", "holds a plain Keras model (Sequential)")):
        add(c, f"--input with {name} as the model", lambda w, n=name: [
            "detect", str(w.models / n), "--input", str(w.inputs / "good.npy")], message)
    add(c, "--input with an .npz file as the model", lambda w: ["detect", str(w.npz), "--input", str(w.inputs / "good.npy")],
        "is not a .keras model file (expected a .keras file or a run folder)")
    add(c, "--input without a threshold", lambda w: ["detect", str(w.vae_run), "--input", str(w.inputs / "good.npy")],
        "has no fitted threshold")
    add(c, "--input an empty folder", lambda w: ["detect", str(w.run), "--input", str(w.inputs / "empty_folder")],
        "empty_folder: folder holds no images or arrays (.bmp/.gif/.jpeg/.jpg/.png/.npy/.npz)")
    add(c, "--input with a threshold of another model", lambda w: ["detect", str(w.stale), "--input",
                                                                   str(w.inputs / "good.npy")], "was fitted for another model.keras")
    add(c, "--input NaN pixels", lambda w: ["detect", str(w.run), "--input", str(w.inputs / "nan.npy")], "are NaN; pixels must be")
    add(c, "--input images of another size", lambda w: ["detect", str(w.run), "--input", str(w.inputs / "wrong.npy")],
        "does not hold images of shape (8, 8, 1)")
    fit = lambda w, *extra: ["detect", str(w.run), "--fit", "--overwrite", *extra]  # noqa: E731
    for value in ("0", "0.5", "-1"):
        add(c, f"--fit --contamination {value}", lambda w, v=value: fit(w, "--contamination", v),
            f"--contamination must be in (0, 0.5), got {float(value):g}")
    add(c, "--fit --contamination 0.01 of 24 images", lambda w: fit(w, "--contamination", "0.01"),
        "contamination 0.01 needs at least 100 images (one expected above the threshold), got 24")
    add(c, "--contamination with --percentile", lambda w: fit(w, "--percentile", "90", "--contamination", "0.1"),
        "argument --contamination: not allowed with argument --percentile")
    add(c, "--labels with --fpr", lambda w: fit(w, "--labels", str(w.data / "labelled.npz"), "--fpr", "0.1"),
        "argument --fpr: not allowed with argument --labels")
    for name, message in [("missing.npz", "no labelled file"),
                          ("labelled_wide.npz", "images have shape (12, 12, 1) but the model takes (8, 8, 1)"),
                          ("labelled_twos.npz", "labels must be 1 (anomaly) or 0 (normal), found 2"),
                          ("labelled_one_class.npz", "labels are all normal (0)"),
                          ("labelled_short.npz", "found 19 labels for 20 images"),
                          ("labelled_no_labels.npz", "has no labels array (it has images)"),
                          ("text.npz", "is not an .npz archive")]:
        add(c, f"--labels {name}", lambda w, n=name: fit(w, "--labels", str(w.data / n)), message)
    add(c, "--labels an .npy file", lambda w: fit(w, "--labels", str(w.inputs / "good.npy")),
        "labelled images are an .npz file with arrays images and labels, got .npy")
    add(c, "--labels a folder", lambda w: fit(w, "--labels", str(w.data / "idx_none")), "(it is a folder)")
    add(c, "--labels over a fitted threshold", lambda w: ["detect", str(w.run), "--fit", "--labels",
                                                        str(w.data / "labelled.npz")],
        "detector.json already exists; pass --overwrite to replace it")
    for extra in (["--split", "test"], ["--dataset", "mnist"]):
        add(c, "--labels with " + " ".join(extra), lambda w, e=extra: fit(w, "--labels", str(w.data / "labelled.npz"), *e),
            f"{extra[0]} chooses the run's images; --labels fits on the images of its file")
    add(c, "--precision without --labels", lambda w: fit(w, "--precision", "0.9"),
        "--precision applies to a threshold from labelled images: give --labels FILE.npz")
    for value in ("0", "1.5"):
        add(c, f"--precision {value}", lambda w, v=value: fit(w, "--labels", str(w.data / "labelled.npz"), "--precision", v),
            f"--precision must be in (0, 1], got {float(value):g}")
    add(c, "--precision unreachable", lambda w: fit(w, "--labels", str(w.data / "labelled_unreachable.npz"),
                                                    "--precision", "1"),
        "precision 1 is not reached on the labelled images")
    for extra in (["--contamination", "0.1"], ["--labels", "x.npz"], ["--precision", "0.9"]):
        add(c, "--input with " + extra[0], lambda w, e=extra: [
            "detect", str(w.run), "--input", str(w.inputs / "good.npy"), *e], f"{extra[0]} applies to --fit")
    noise = lambda w, *extra: ["detect", str(w.run), "--input", str(w.inputs / "noise.npy"), *extra]  # noqa: E731
    add(c, "--maps a file", lambda w: noise(w, "--maps", str(w.work / "out.tflite")), "out.tflite is a file, not a folder")
    add(c, "--maps inside a file", lambda w: noise(w, "--maps", str(w.work / "out.tflite" / "maps")),
        "out.tflite is not a folder")
    add(c, "--maps a folder of the user's", lambda w: noise(w, "--maps", str(w.work / "foreign_out")),
        "holds files that error maps are not (notes.txt)")
    add(c, "--maps the folder of the inputs", lambda w: noise(w, "--maps", str(w.inputs)),
        "holds files that error maps are not")
    add(c, "--maps over earlier maps", lambda w: noise(w, "--maps", str(w.work / "maps_done")),
        "noise.npy and 1 more already exist; pass --overwrite to replace them")
    add(c, "--maps with --fit", lambda w: fit(w, "--maps", str(w.work / "maps")),
        "--maps writes the error maps of flagged inputs: give it with --input")
    add(c, "--overwrite with --input, without --maps", lambda w: noise(w, "--overwrite"), "--overwrite applies to --fit")

    # plot and sample
    c = "plot and sample"
    def plot(w, *extra, model=None):
        return ["plot", str(model or w.run), *extra]

    add(c, "-n for curves", lambda w: plot(w, "--what", "curves", "-n", "3"), "-n does not apply to --what curves")
    add(c, "-n 0", lambda w: plot(w, "--what", "reconstructions", "-n", "0"), "-n must be >= 1, got 0")
    add(c, "--seed for curves", lambda w: plot(w, "--what", "curves", "--seed", "3"),
        "--seed does not apply to --what curves: nothing in it is drawn at random")
    add(c, "--seed for manifold", lambda w: plot(w, "--what", "manifold", "--seed", "3", model=w.vae_run),
        "--seed does not apply to --what manifold")
    add(c, "--seed -1", lambda w: plot(w, "--what", "reconstructions", "--seed", "-1"),
        "--seed must be in [0, 2**32), got -1")
    add(c, "manifold -n 1", lambda w: plot(w, "--what", "manifold", "-n", "1", model=w.vae_run), "-n must be >= 2, got 1")
    add(c, "--method for reconstructions", lambda w: plot(w, "--what", "reconstructions", "--method", "pca"),
        "--method applies to --what latent")
    add(c, "manifold of a plain autoencoder", lambda w: plot(w, "--what", "manifold", "--output", str(w.work / "m.png")),
        "manifold needs a variational autoencoder")
    add(c, "samples of a plain autoencoder", lambda w: plot(w, "--what", "samples", "--output", str(w.work / "s.png")),
        "samples need a variational autoencoder")
    add(c, "--output a JPEG", lambda w: plot(w, "--what", "curves", "--output", str(w.work / "c.jpg")),
        "--output must end in .png")
    add(c, "--output over a picture", lambda w: plot(w, "--what", "curves", "--output", str(w.work / "existing.png")),
        "existing.png already exists; pass --overwrite to replace it")
    add(c, "curves without a history", lambda w: plot(w, "--what", "curves", "--output", str(w.work / "c.png"),
                                                      model=w.models / "ae_copy.keras"), "no history.csv beside")
    add(c, "--split training", lambda w: plot(w, "--what", "reconstructions", "--split", "training",
                                              "--output", str(w.work / "r.png")), "unknown split 'training'")
    for what, most in (("reconstructions", 32), ("latent", 10_000), ("manifold", 50), ("interpolate", 16),
                       ("samples", 256), ("errors", 32)):
        model = "vae_run" if what in ("manifold", "samples") else "run"
        add(c, f"{what} -n {most + 1}", lambda w, what=what, most=most, model=model: plot(
            w, "--what", what, "-n", str(most + 1), model=getattr(w, model)),
            f"-n must be at most {most:,} for --what {what}")
    add(c, "samples -n 10**9", lambda w: plot(w, "--what", "samples", "-n", str(10**9), model=w.vae_run),
        "-n must be at most 256 for --what samples (samples in one picture), got 1,000,000,000")
    add(c, "plot --split test of a single pool",
        lambda w: plot(w, "--what", "errors", "--dataset", str(w.data / "pool.npz"), "--split", "test"),
        "its splits are train, validation, all")
    add(c, "sample of a plain autoencoder", lambda w: ["sample", str(w.run), "--output", str(w.work / "s")],
        "samples need a variational autoencoder")
    add(c, "sample -n 10**9", lambda w: ["sample", str(w.vae_run), "-n", str(10**9)],
        "-n must be at most 4,194,304 for 8×8×1 images (their .npy file is kept within 1 GiB)")
    add(c, "sample -n 0", lambda w: ["sample", str(w.vae_run), "-n", "0"], "-n must be >= 1, got 0")
    add(c, "sample --seed -1", lambda w: ["sample", str(w.vae_run), "--seed", "-1"], "--seed must be in [0, 2**32), got -1")
    add(c, "sample over a picture", lambda w: ["sample", str(w.vae_run), "--output", str(w.work / "existing")],
        "existing.png already exists; pass --overwrite to replace it")
    return cases


def counts() -> tuple[dict[str, int], dict[str, int]]:
    """The number of cases by category: (Python API, command line)."""
    api, cli = {}, {}
    for case in _api_cases():
        api[case.category] = api.get(case.category, 0) + 1
    for case in _cli_cases():
        cli[case.category] = cli.get(case.category, 0) + 1
    return api, cli


def counts_table() -> str:
    """The markdown table of docs/bad-inputs.md."""
    api, cli = counts()
    rows = ["| interface | category | cases |", "|---|---|---|"]
    rows += [f"| Python API | {k} | {v} |" for k, v in api.items()]
    rows += [f"| command line | {k} | {v} |" for k, v in cli.items()]
    rows.append(f"| **all** | | **{sum(api.values()) + sum(cli.values())}** |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(counts_table())
