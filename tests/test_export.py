"""SavedModel and TFLite export: signatures, parity with Keras, quantisation and failures."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

import keras_ae
from keras_ae.models.precision import float32_copy, is_mixed
from keras_ae.serving.export import (ExportError, builtin_ops, export_saved_model, export_tflite,
                                     signature_names)
from keras_ae.serving.predict import parity

REPO = Path(__file__).resolve().parents[1]
DATA_DIRS = [Path(os.environ["KERAS_AE_DATA_DIR"])] if os.environ.get("KERAS_AE_DATA_DIR") else []
DATA_DIRS.append(REPO.parent / "shared" / "data")
IMAGES_FILE = "t10k-images-idx3-ubyte.gz"
PRESETS = ("seed", "conv", "conv_vae")
AE_SIGNATURES = {"encode", "decode", "reconstruct", "anomaly_score"}


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    """512 real MNIST digits in [0, 1]; seeded random images if the file is absent, unless
    KERAS_AE_REQUIRE_DATA is set."""
    for data_dir in DATA_DIRS:
        path = data_dir / "mnist" / IMAGES_FILE
        if path.is_file():
            with gzip.open(path) as f:
                raw = np.frombuffer(f.read(), np.uint8, offset=16)
            return (raw.reshape(-1, 28, 28, 1)[:512] / 255.0).astype(np.float32)
    if os.environ.get("KERAS_AE_REQUIRE_DATA") == "1":
        pytest.fail(f"no mnist/{IMAGES_FILE} under {', '.join(map(str, DATA_DIRS))}")
    return np.random.default_rng(0).random((512, 28, 28, 1), dtype=np.float32)


@pytest.fixture(scope="module")
def trained(digits) -> dict[str, keras_ae.Autoencoder]:
    """seed, conv and conv_vae trained for a few steps (weights away from the initialisation)."""
    models = {}
    for name in PRESETS:
        model = keras_ae.build(name)
        model.fit(digits[:256], epochs=1, batch_size=64, verbose=0)
        models[name] = model
    return models


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """(SavedModel dir, float32 .tflite) of each trained model; the .tflite is converted from
    the model for seed and from the SavedModel for the others, so both entry points run."""
    root = tmp_path_factory.mktemp("exported")
    result = {}
    for name, model in trained.items():
        saved = export_saved_model(model, root / name)
        source = model if name == "seed" else saved
        result[name] = (saved, export_tflite(source, root / f"{name}.tflite"))
    return result


def keras_reference(model, images: np.ndarray, noise: np.ndarray | None = None) -> dict[str, dict]:
    """Expected outputs per signature, from the model's own methods (in float32: a mixed
    precision model's export serves its float32 copy)."""
    model = float32_copy(model)
    vae = isinstance(model, keras_ae.VariationalAutoencoder)
    if vae:
        z_mean, z_log_var = (np.asarray(t) for t in model.encode_distribution(images))
        encode, z = {"z_mean": z_mean, "z_log_var": z_log_var}, z_mean
    else:
        z = np.asarray(model.encode(images))
        encode = {"z": z}
    expected = {
        "encode": ({"image": images}, encode),
        "decode": ({"z": z}, {"image": np.asarray(model.decode(z))}),
        "reconstruct": ({"image": images}, {"image": np.asarray(model(images))}),
        "anomaly_score": ({"image": images}, {"score": np.asarray(model.anomaly_score(images))}),
    }
    if vae:
        expected["sample"] = ({"noise": noise}, {"image": np.asarray(model.decode(noise))})
    return expected


def max_diff(got: dict, want: dict) -> float:
    assert set(got) == set(want)
    return max(float(np.max(np.abs(np.asarray(got[k]) - want[k]))) for k in want)


def listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


# --- SavedModel --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", PRESETS)
def test_saved_model_signatures_equal_keras(name, trained, exported, digits):
    model, (saved, _) = trained[name], exported[name]
    loaded = tf.saved_model.load(str(saved))
    vae = name == "conv_vae"
    assert set(loaded.signatures) == AE_SIGNATURES | {"serving_default"} | ({"sample"} if vae else set())
    default = loaded.signatures["serving_default"](image=tf.constant(digits[:4]))["image"]
    np.testing.assert_array_equal(default, loaded.signatures["reconstruct"](image=tf.constant(digits[:4]))["image"])
    if is_mixed(model):  # served in float32: bfloat16's rounding away from the model's outputs
        assert np.abs(np.asarray(model(digits[:4])) - default.numpy()).max() <= 1e-2
    noise = np.random.default_rng(1).standard_normal((5, model.latent_dim if vae else 1), np.float32)
    for batch in (5, 1):
        expected = keras_reference(model, digits[:batch], noise[:batch] if vae else None)
        for signature, (inputs, want) in expected.items():
            function = loaded.signatures[signature]
            specs = function.structured_input_signature[1]
            assert set(specs) == set(inputs)
            assert all(spec.shape[0] is None for spec in specs.values())  # dynamic batch
            got = function(**{k: tf.constant(v) for k, v in inputs.items()})
            assert all(value.shape[0] == batch for value in got.values())
            assert max_diff({k: v.numpy() for k, v in got.items()}, want) <= 1e-5, signature
    score = loaded.signatures["anomaly_score"](image=tf.constant(digits[:3]))["score"]
    assert score.shape == (3,)


def test_saved_model_runs_with_plain_tensorflow(trained, exported, digits, tmp_path):
    """Load and run the SavedModel in a fresh interpreter where keras_ae cannot be imported."""
    saved = exported["conv_vae"][0]
    np.save(tmp_path / "images.npy", digits[:4])
    np.save(tmp_path / "expected.npy", np.asarray(float32_copy(trained["conv_vae"])(digits[:4])))
    script = textwrap.dedent(f"""
        import importlib.abc, json, sys

        class BlockKerasAE(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "keras_ae":
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
                return None

        sys.meta_path.insert(0, BlockKerasAE())
        try:
            import keras_ae
        except ImportError:
            pass
        else:
            sys.exit("keras_ae is importable; the test would prove nothing")
        import numpy as np
        import tensorflow as tf

        loaded = tf.saved_model.load({str(saved)!r})
        images = np.load("images.npy")
        image = loaded.signatures["reconstruct"](image=tf.constant(images))["image"].numpy()
        score = loaded.signatures["anomaly_score"](image=tf.constant(images))["score"].numpy()
        print(json.dumps({{
            "diff": float(np.abs(image - np.load("expected.npy")).max()),
            "score_shape": list(score.shape),
            "signatures": sorted(loaded.signatures),
            "keras_ae_loaded": any(m.split(".")[0] == "keras_ae" for m in sys.modules),
        }}))
    """)
    run = subprocess.run([sys.executable, "-I", "-c", script], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120, env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["diff"] <= 1e-5
    assert result["score_shape"] == [4]
    assert result["signatures"] == sorted(AE_SIGNATURES | {"sample", "serving_default"})
    assert result["keras_ae_loaded"] is False


def test_vae_sample_is_deterministic_decode_of_noise(trained, exported):
    model = float32_copy(trained["conv_vae"])
    saved, tflite = exported["conv_vae"]
    noise = np.random.default_rng(2).standard_normal((6, model.latent_dim)).astype(np.float32)
    want = np.asarray(model.decode(noise))

    function = tf.saved_model.load(str(saved)).signatures["sample"]
    first = function(noise=tf.constant(noise))["image"].numpy()
    second = function(noise=tf.constant(noise))["image"].numpy()
    np.testing.assert_array_equal(first, second)
    assert np.abs(first - want).max() <= 1e-5
    graph = function.graph.as_graph_def()
    op_types = {node.op for node in graph.node}
    op_types |= {node.op for fn in graph.library.function for node in fn.node_def}
    random_ops = re.compile(r"Random|Stateful(Standard|Uniform|Truncated)|Multinomial")
    assert "MatMul" in op_types and not {op for op in op_types if random_ops.search(op)}, op_types

    runner = Interpreter(model_path=str(tflite)).get_signature_runner("sample")
    assert np.abs(runner(noise=noise)["image"] - want).max() <= 1e-4


# --- TFLite ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", PRESETS)
def test_tflite_float32_parity(name, trained, exported, digits):
    model, (_, tflite) = trained[name], exported[name]
    diffs = parity(model, tflite, digits[:32])
    expected_signatures = AE_SIGNATURES | ({"sample"} if name == "conv_vae" else set())
    assert set(diffs) == expected_signatures
    assert max(diffs.values()) <= 1e-4, diffs

    # Independently of `parity`: the raw interpreter against the model's methods, at two
    # batch sizes (the signature runner resizes the dynamic batch dimension).
    interpreter = Interpreter(model_path=str(tflite))
    assert set(interpreter.get_signature_list()) == expected_signatures
    noise = np.random.default_rng(3).standard_normal((7, 2), np.float32)
    for batch in (7, 1):
        expected = keras_reference(model, digits[:batch], noise[:batch] if name == "conv_vae" else None)
        for signature, (inputs, want) in expected.items():
            got = interpreter.get_signature_runner(signature)(**inputs)
            assert max_diff(got, want) <= 1e-4, (signature, batch)
    ops = builtin_ops(tflite.read_bytes())
    assert ops and not [op for op in ops if op.startswith("custom:")]


@pytest.mark.parametrize("name", ["seed", "conv_vae"])
def test_quantized_files_are_smaller_and_run(name, trained, exported, digits, tmp_path):
    model, (saved, float32) = trained[name], exported[name]
    sizes = {"none": float32.stat().st_size}
    for quantize in ("float16", "dynamic", "int8"):
        path = export_tflite(saved, tmp_path / f"{quantize}.tflite", quantize=quantize,
                             representative_data=digits if quantize == "int8" else None)
        sizes[quantize] = path.stat().st_size
        ops = builtin_ops(path.read_bytes())
        assert not [op for op in ops if op.startswith("custom:")]
        if quantize == "int8":
            assert "QUANTIZE" in ops
        interpreter = Interpreter(model_path=str(path))
        assert set(interpreter.get_signature_list()) == set(signature_names(model))
        runner = interpreter.get_signature_runner("reconstruct")
        assert runner.get_input_details()["image"]["dtype"] == np.float32
        image = runner(image=digits[:16])["image"]
        assert image.shape == (16, 28, 28, 1) and image.dtype == np.float32
        error = np.abs(image - np.asarray(model(digits[:16]))).max()
        assert error <= {"float16": 1e-2, "dynamic": 0.1, "int8": 0.15}[quantize], (quantize, error)
        diffs = parity(model, path, digits[:8])
        assert all(np.isfinite(d) for d in diffs.values())
    assert 0.4 <= sizes["float16"] / sizes["none"] <= 0.6, sizes
    assert sizes["dynamic"] < 0.5 * sizes["none"], sizes
    assert sizes["int8"] < 0.5 * sizes["none"], sizes


def test_int8_needs_representative_data_of_the_right_shape(exported, tmp_path):
    saved = exported["seed"][0]
    with pytest.raises(ValueError, match="representative_data"):
        export_tflite(saved, tmp_path / "a.tflite", quantize="int8")
    with pytest.raises(ValueError, match=r"\(32, 32, 1\)"):
        export_tflite(saved, tmp_path / "b.tflite", quantize="int8",
                      representative_data=np.zeros((4, 32, 32, 1), np.float32))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        export_tflite(saved, tmp_path / "b.tflite", quantize="int8",
                      representative_data=np.full((4, 28, 28, 1), 255, np.uint8))
    with pytest.raises(ValueError, match="unknown quantize"):
        export_tflite(saved, tmp_path / "c.tflite", quantize="int4")
    with pytest.raises(ValueError, match=r"\.tflite"):
        export_tflite(saved, tmp_path / "d.lite")
    assert listing(tmp_path) == set()


# --- refusing and failing ----------------------------------------------------------------------
def test_refuses_to_overwrite_unless_asked(trained, exported, tmp_path):
    model = trained["seed"]
    saved = export_saved_model(model, tmp_path / "saved")
    (saved / "marker").write_text("keep")
    with pytest.raises(FileExistsError, match="already exists"):
        export_saved_model(model, saved)
    assert (saved / "marker").read_text() == "keep"
    export_saved_model(model, saved, overwrite=True)
    assert not (saved / "marker").exists() and (saved / "saved_model.pb").is_file()

    target = tmp_path / "model.tflite"
    target.write_bytes(b"old")
    with pytest.raises(FileExistsError, match="already exists"):
        export_tflite(exported["seed"][0], target)
    assert target.read_bytes() == b"old"
    export_tflite(exported["seed"][0], target, overwrite=True)
    assert "reconstruct" in Interpreter(model_path=str(target)).get_signature_list()
    assert {p.name for p in tmp_path.iterdir()} == {"saved", "model.tflite"}  # no temporaries


def test_overwrite_never_replaces_a_folder_that_is_not_a_saved_model(trained, tmp_path):
    documents = tmp_path / "documents"
    documents.mkdir()
    (documents / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="not a SavedModel directory"):
        export_saved_model(trained["seed"], documents, overwrite=True)
    assert [p.name for p in documents.iterdir()] == ["notes.txt"]


def test_conversion_failure_raises_one_line_and_leaves_nothing(trained, exported, tmp_path, monkeypatch):
    def fail(self):
        raise RuntimeError("converter exploded\n  with a long traceback\n  of MLIR details")

    from tensorflow.lite.python.lite import TFLiteSavedModelConverterV2

    monkeypatch.setattr(TFLiteSavedModelConverterV2, "convert", fail)
    for source in (trained["conv"], exported["conv"][0]):
        with pytest.raises(ExportError) as info:
            export_tflite(source, tmp_path / "model.tflite")
        message = str(info.value)
        assert "\n" not in message and "converter exploded" in message
        assert listing(tmp_path) == set()


class NoisyDecodeAutoencoder(keras_ae.Autoencoder):
    """Decodes with random noise: TFLite has no builtin random ops, so conversion fails."""

    def decode(self, z):
        return self.decoder(z + keras.random.normal(keras.ops.shape(z), seed=0))


def test_unconvertible_model_raises_export_error(tmp_path):
    base = keras_ae.build("seed", compile=False)
    model = NoisyDecodeAutoencoder(base.encoder, base.decoder)
    with pytest.raises(ExportError, match="failed: no TFLite builtin for tf.Stateless") as info:
        export_tflite(model, tmp_path / "noisy.tflite")
    assert "\n" not in str(info.value)
    assert listing(tmp_path) == set()


def test_saved_model_failure_leaves_nothing(trained, tmp_path, monkeypatch):
    def fail(obj, export_dir, signatures=None, options=None):
        Path(export_dir).mkdir(parents=True)
        (Path(export_dir) / "saved_model.pb").write_bytes(b"partial")
        raise OSError("disk full\nmore detail")

    monkeypatch.setattr(tf.saved_model, "save", fail)
    with pytest.raises(ExportError, match="disk full") as info:
        export_saved_model(trained["seed"], tmp_path / "saved")
    assert "\n" not in str(info.value)
    with pytest.raises(ExportError, match="disk full"):
        export_tflite(trained["seed"], tmp_path / "model.tflite")
    assert listing(tmp_path) == set()


def test_rejects_what_it_cannot_export(tmp_path):
    plain = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(4)])
    with pytest.raises(ExportError, match="keras_ae Autoencoder"):
        export_saved_model(plain, tmp_path / "plain")
    with pytest.raises(ExportError, match="keras_ae Autoencoder"):
        export_tflite(plain, tmp_path / "plain.tflite")

    with pytest.raises(ValueError, match="must be built Keras models"):
        keras_ae.Autoencoder(
            keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(4)]),
            keras.Sequential([keras.layers.Dense(784), keras.layers.Reshape((28, 28, 1))]))

    with pytest.raises(ExportError, match="does not exist"):
        export_tflite(tmp_path / "missing", tmp_path / "missing.tflite")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExportError, match="not a SavedModel"):
        export_tflite(tmp_path / "empty", tmp_path / "empty.tflite")
    assert listing(tmp_path) == {"empty"}


def test_saved_model_without_our_signatures_is_rejected(tmp_path):
    module = tf.Module()
    module.double = tf.function(lambda x: {"y": 2 * x}, input_signature=[tf.TensorSpec([None], tf.float32)])
    tf.saved_model.save(module, str(tmp_path / "other"), signatures={"double": module.double})
    with pytest.raises(ExportError, match="none of the signatures"):
        export_tflite(tmp_path / "other", tmp_path / "other.tflite")
    assert not (tmp_path / "other.tflite").exists()
