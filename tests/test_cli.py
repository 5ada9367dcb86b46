"""The keras-ae command line: train, evaluate, help and one-line errors."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from keras_ae.cli import COMMANDS, main

from test_models import structured_images


@pytest.fixture(scope="module")
def npz_dataset(tmp_path_factory):
    images = (structured_images(320, shape=(28, 28, 1)) * 255).astype("uint8")
    path = tmp_path_factory.mktemp("data") / "digits.npz"
    np.savez(path, x_train=images[:256], y_train=np.zeros(256, "int64"),
             x_test=images[256:], y_test=np.zeros(64, "int64"))
    return str(path)


@pytest.fixture(scope="module")
def trained_run(npz_dataset, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "seed"
    assert main(["train", "--model", "seed", "--dataset", npz_dataset, "--epochs", "2",
                 "--latent-dim", "8", "--output", str(run), "--seed", "3", "--quiet"]) == 0
    return run


def test_train_writes_a_run_folder(trained_run):
    assert (trained_run / "model.keras").is_file()
    config = json.loads((trained_run / "config.json").read_text())
    assert config["latent_dim"] == 8 and config["epochs"] == 2 and config["seed"] == 3


def test_evaluate_json_reports_held_out_errors_and_pca(trained_run, capsys):
    assert main(["evaluate", str(trained_run), "--split", "test", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["images"] == 64 and result["split"] == "test"
    assert 0 < result["mse"] < 1 and 0 < result["bce"] < 5
    assert result["pca"]["components"] == 8 and 0 < result["pca"]["mse"] < 1


def test_evaluate_vae_reports_elbo_and_nll(npz_dataset, tmp_path, capsys):
    run = tmp_path / "vae"
    assert main(["train", "--model", "vae", "--dataset", npz_dataset, "--epochs", "1",
                 "--output", str(run), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run / "model.keras"), "--dataset", npz_dataset,
                 "--nll-samples", "8", "--no-pca"]) == 0
    out = capsys.readouterr().out
    assert "-ELBO" in out and "NLL (k=8)" in out and "PCA" not in out


@pytest.mark.parametrize("argv, message", [
    (["train", "--model", "nope"], "invalid choice: 'nope'"),
    (["train", "--dataset", "/no/such/file.npz", "--epochs", "1"], "/no/such/file.npz"),
    (["train", "--epochs", "0"], "epochs must be >= 1"),
    (["train", "--denoise", "blur:1"], "unknown noise kind 'blur'"),
    (["evaluate", "/no/such/run"], "no model at /no/such/run"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["train", "--model", "seed", "--config", "config.json"], "not both"),
    (["evaluate", "/no/such/run", "--nll-samples", "0"], "--nll-samples must be >= 1"),
])
def test_bad_input_exits_2_with_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("keras-ae: error:")
    assert message in err


@pytest.mark.parametrize("content, message", [
    ("[1, 2]", "a config is a JSON object"), ('{"latent_dim": null}', "bad config value"),
    ('{"hidden_units": 5}', "lists of integers"), ("{not json", "cannot read config"),
])
def test_bad_config_files_exit_2_with_one_line(tmp_path, content, message, capsys):
    (tmp_path / "config.json").write_text(content)
    assert main(["train", "--config", str(tmp_path / "config.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_unwritable_output_is_one_line(trained_run, tmp_path, capsys):
    (tmp_path / "a_file").write_text("")
    assert main(["export", str(trained_run), "--output", str(tmp_path / "a_file" / "sm")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a_file" in err


def test_evaluate_refuses_images_of_the_wrong_shape(trained_run, tmp_path, capsys):
    other = tmp_path / "small.npz"
    np.savez(other, x_train=np.zeros((20, 12, 12), "uint8"), x_test=np.zeros((5, 12, 12), "uint8"))
    assert main(["evaluate", str(trained_run), "--dataset", str(other)]) == 2
    assert "shape (12, 12, 1) but the model expects (28, 28, 1)" in capsys.readouterr().err


def test_existing_run_is_refused_without_overwrite(trained_run, npz_dataset, capsys):
    before = (trained_run / "model.keras").stat().st_mtime_ns
    argv = ["train", "--dataset", npz_dataset, "--epochs", "2", "--latent-dim", "8",
            "--output", str(trained_run), "--seed", "3", "--quiet"]
    assert main(argv) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (trained_run / "model.keras").stat().st_mtime_ns == before


@pytest.mark.parametrize("command", list(COMMANDS))
def test_help_for_every_command(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: keras-ae {command}")


def test_export_and_predict_round_trip(trained_run, npz_dataset, tmp_path, capsys):
    saved, tflite = tmp_path / "sm", tmp_path / "seed_int8.tflite"
    assert main(["export", str(trained_run), "--output", str(saved)]) == 0
    assert main(["export", str(trained_run), "--format", "tflite", "--quantize", "int8",
                 "--output", str(tflite)]) == 0  # calibrates on the run's own dataset
    assert (saved / "saved_model.pb").is_file() and tflite.stat().st_size > 0
    digits = np.load(npz_dataset)["x_test"][:3]
    np.save(tmp_path / "digits.npy", digits)
    capsys.readouterr()
    for exported in (saved, tflite):
        out = tmp_path / f"scores-{exported.name}"
        assert main(["predict", str(exported), "--input", str(tmp_path / "digits.npy"),
                     "--signature", "anomaly_score", "--output", str(out)]) == 0
        assert np.load(out / "score.npy").shape == (3,)
    printed = capsys.readouterr().out
    assert printed.count("digits_0:") == 2
    recon = tmp_path / "recon"
    assert main(["predict", str(saved), "--input", str(tmp_path / "digits.npy"),
                 "--output", str(recon)]) == 0
    assert sorted(p.name for p in (recon / "image").iterdir()) == \
        ["digits_0.png", "digits_1.png", "digits_2.png"]


@pytest.mark.parametrize("extra, message", [
    (["--format", "tflite", "--quantize", "int4"], "invalid choice: 'int4'"),
    (["--quantize", "int8"], "--quantize applies to --format tflite"),
    (["--format", "tflite", "--output", "model.onnx"], "TFLite files end in .tflite"),
])
def test_export_bad_options(trained_run, tmp_path, extra, message, capsys):
    argv = ["export", str(trained_run), *extra]
    if "--output" not in extra:
        argv += ["--output", str(tmp_path / "out.tflite")]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out.tflite").exists()


def test_export_refuses_to_overwrite(trained_run, tmp_path, capsys):
    target = tmp_path / "m.tflite"
    target.write_bytes(b"user file")
    assert main(["export", str(trained_run), "--format", "tflite", "--output", str(target)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert target.read_bytes() == b"user file"


def test_predict_resizes_jpeg_and_folder_inputs(trained_run, tmp_path, capsys):
    from PIL import Image

    saved = tmp_path / "sm"
    assert main(["export", str(trained_run), "--output", str(saved)]) == 0
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(5)
    for name in ("cat.jpg", "dog.png"):
        Image.fromarray(rng.integers(0, 256, (50, 40, 3), dtype=np.uint8)).save(photos / name)
    capsys.readouterr()
    assert main(["predict", str(saved), "--input", str(photos), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cat.jpg: image shape (50, 40, 3) does not match (28, 28, 1)" in err
    assert "--resize" in err
    assert main(["predict", str(saved), "--input", str(photos), "--resize", "--signature",
                 "anomaly_score", "--output", str(tmp_path / "out")]) == 0
    assert np.load(tmp_path / "out" / "score.npy").shape == (2,)
    printed = capsys.readouterr().out
    assert "cat:" in printed and "dog:" in printed


def test_predict_wrong_image_size_names_the_file(trained_run, tmp_path, capsys):
    saved = tmp_path / "sm"
    assert main(["export", str(trained_run), "--output", str(saved)]) == 0
    np.save(tmp_path / "small.npy", np.zeros((2, 12, 12, 1), "float32"))
    assert main(["predict", str(saved), "--input", str(tmp_path / "small.npy")]) == 2
    err = capsys.readouterr().err
    assert "small.npy" in err and "(2, 12, 12, 1)" in err and "(28, 28, 1)" in err


# --- what the command line prints, and where -----------------------------------------------------
def _console_script(*argv, **kwargs) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("keras-ae")
    return subprocess.run([str(script), *map(str, argv)], capture_output=True, text=True,
                          timeout=300, env={**os.environ}, **kwargs)


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    """A run trained on a folder of 8x8 PNGs holding one damaged file, with --skip-bad-images:
    every command that reads its data notes the skipped file."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("photos")
    images = (structured_images(40, shape=(8, 8, 1)) * 255).astype("uint8")
    for i, image in enumerate(images):
        Image.fromarray(image[..., 0]).save(folder / f"{i:02d}.png")
    (folder / "damaged.png").write_bytes(b"not a PNG")
    run = tmp_path_factory.mktemp("runs") / "photos"
    assert main(["train", "--dataset", str(folder), "--skip-bad-images", "--validation-fraction",
                 "0.5", "--latent-dim", "2", "--epochs", "1", "--output", str(run), "--quiet"]) == 0
    return run


def test_evaluate_json_is_alone_on_stdout(folder_run):
    done = _console_script("evaluate", folder_run, "--split", "validation", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["images"] == 20  # one JSON document, nothing else
    assert "keras-ae: note: skipped 1 unreadable or damaged image of 41" in done.stderr


def test_detect_json_is_alone_on_stdout(folder_run, tmp_path, capsys):
    done = _console_script("detect", folder_run, "--fit", "--percentile", "90", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["images"] == 20
    assert "keras-ae: note: skipped 1 unreadable" in done.stderr
    np.save(tmp_path / "two.npy", np.zeros((2, 8, 8, 1), "uint8"))
    assert main(["detect", str(folder_run), "--input", str(tmp_path / "two.npy"), "--json"]) == 0
    inputs = json.loads(capsys.readouterr().out)["inputs"]
    assert [row["name"] for row in inputs] == ["two_0", "two_1"]


def test_progress_in_a_log_file_is_plain_lines_and_stdout_only_results(npz_dataset, tmp_path):
    log = tmp_path / "train.log"
    with open(log, "w") as stderr:
        done = subprocess.run(
            [str(Path(sys.executable).with_name("keras-ae")), "train", "--dataset", npz_dataset,
             "--latent-dim", "4", "--epochs", "2", "--output", str(tmp_path / "run")],
            stdout=subprocess.PIPE, stderr=stderr, text=True, timeout=300, env={**os.environ})
    assert done.returncode == 0
    lines = done.stdout.splitlines()  # results only: no progress bar
    assert len(lines) == 2 and lines[0].startswith("trained seed for 2 epochs: ")
    written = log.read_text()
    assert "\x1b" not in written and "\r" not in written and "\b" not in written
    progress = written.splitlines()  # each epoch: its number, then its bar's last state
    assert progress[0] == "Epoch 1/2" and progress[2] == "Epoch 2/2" and len(progress) == 4
    assert all(re.match(r"\d+/\d+ .* - val_loss: ", line) for line in progress[1::2]), progress


def test_plain_lines_keep_the_last_state_of_a_line_rewritten_in_place():
    import io

    from keras_ae.utils.quiet import PlainLines

    log = io.StringIO()
    stream = PlainLines(log)
    stream.write("Epoch 1/2\n\x1b[1m1/3\x1b[0m \x1b[32m━\x1b[0m")
    stream.write("\b\b\b\b\b\r\x1b[1m3/3\x1b[0m ━━━ - loss: 0.5   \n\rhalf")
    assert log.getvalue() == "Epoch 1/2\n3/3 ━━━ - loss: 0.5\n"
    stream.end_line()  # a line stopped midway is kept too
    assert log.getvalue().endswith("\nhalf\n") and not stream.isatty()


def _interrupted(argv, run, started=None) -> subprocess.CompletedProcess:
    """`keras-ae ARGV`, sent SIGINT after half a second (while it imports TensorFlow) or, with
    `started`, once that file exists."""
    import signal
    import time

    script = Path(sys.executable).with_name("keras-ae")
    process = subprocess.Popen([str(script), *argv], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env={**os.environ})
    try:
        if started is None:
            time.sleep(0.5)
        else:
            deadline = time.monotonic() + 240
            while not started.exists() and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            assert started.exists(), "training never started"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=240)
    finally:
        process.kill()
    return subprocess.CompletedProcess(argv, process.returncode, out, err)


@pytest.mark.parametrize("when", ["while importing", "while training"])
def test_ctrl_c_ends_train_with_one_line_and_status_130(npz_dataset, tmp_path, when):
    run = tmp_path / "run"
    argv = ["train", "--dataset", npz_dataset, "--latent-dim", "4", "--epochs", "1000",
            "--output", str(run), "--quiet"]
    done = _interrupted(argv, run, started=run / "history.csv" if when == "while training" else None)
    assert done.returncode == 130
    assert done.stderr == "keras-ae: interrupted; rerun the same command to resume\n"
    assert done.stdout == ""


@pytest.mark.parametrize("command", list(COMMANDS))
def test_ctrl_c_says_to_rerun_only_where_rerunning_resumes(command, monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(COMMANDS[command], "run", interrupted)
    argv = {"train": [], "predict": ["m.tflite", "--input", "x.npy"], "plot": ["run", "--what", "curves"]}
    assert main([command, *argv.get(command, ["run"])]) == 130
    resume = "; rerun the same command to resume" if command == "train" else ""
    assert capsys.readouterr().err == f"keras-ae: interrupted{resume}\n"


def test_import_keras_ae_starts_nothing_and_keras_still_loads_its_models(trained_run):
    """The console script imports keras_ae and keras_ae.cli before main(): neither imports
    TensorFlow, sets an environment variable or replaces a stream. keras.saving.load_model, with Keras imported after keras_ae, still knows the
    model classes."""
    script = ("import os, sys\n"
              "environ, streams = dict(os.environ), (sys.stdout, sys.stderr)\n"
              "import keras_ae, keras_ae.cli\n"
              "assert dict(os.environ) == environ and (sys.stdout, sys.stderr) == streams\n"
              "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))\n"
              "assert not heavy, heavy\n"
              "assert set(keras_ae.__all__) <= set(dir(keras_ae)), dir(keras_ae)\n"
              "import keras\n"
              "print(type(keras.saving.load_model(sys.argv[1], safe_mode=True)).__name__)\n")
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", script, str(trained_run / "model.keras")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "Autoencoder"


def test_predict_and_detect_read_the_same_files_of_a_folder(trained_run, npz_dataset, tmp_path,
                                                             capsys):
    import shutil

    from PIL import Image

    run = tmp_path / "run"  # a copy, to fit a threshold for
    shutil.copytree(trained_run, run)
    digits = np.load(npz_dataset)["x_test"][:3]
    folder = tmp_path / "inputs"
    (folder / "more").mkdir(parents=True)
    Image.fromarray(digits[0, ..., 0]).save(folder / "a.jpg")
    Image.fromarray(digits[1, ..., 0]).save(folder / "more" / "b.bmp")
    np.save(folder / "c.npy", digits[2])
    (folder / "notes.txt").write_text("not an input")
    assert main(["detect", str(run), "--fit", "--split", "test", "--percentile", "90"]) == 0
    capsys.readouterr()
    assert main(["detect", str(run), "--input", str(folder), "--json"]) == 0
    detected = [row["name"] for row in json.loads(capsys.readouterr().out)["inputs"]]
    assert detected == ["a", "c", "b"]  # sorted by path: a.jpg, c.npy, more/b.bmp
    saved = tmp_path / "sm"
    assert main(["export", str(run), "--output", str(saved)]) == 0
    capsys.readouterr()
    assert main(["predict", str(saved), "--input", str(folder), "--signature", "anomaly_score",
                 "--output", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert [line.split(":")[0].strip() for line in printed.splitlines()[1:4]] == detected
    assert printed.splitlines()[-1] == f"wrote 1 file to {tmp_path / 'out'}"
