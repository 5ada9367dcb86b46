"""The keras-ae command line (keras_ae.cli): bad arguments and config files in one line, help
for every command, stdout carrying results only (pure JSON under --json, progress as plain
lines on stderr) and Ctrl-C."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import keras_ae
from keras_ae.cli import COMMANDS, main

from harness import ctrl_c, structured_images


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


def test_file_errors_say_the_problem_in_the_command_lines_words(tmp_path, capsys):
    """keras_ae's own file errors read as the command line's (no Python class name, the
    option's name); an error of the system's keeps its class name."""
    assert main(["evaluate", str(tmp_path / "gone")]) == 2
    assert capsys.readouterr().err.startswith(f"keras-ae: error: no model at {tmp_path / 'gone'} (")
    model = tmp_path / "model.keras"
    keras_ae.build("seed", input_shape=(8, 8, 1), latent_dim=2, hidden_units=(4,)).save(model)
    np.save(tmp_path / "x.npy", structured_images(2, (8, 8, 1)))
    export = ["export", str(model), "--format", "saved_model", "--output", str(tmp_path / "saved")]
    assert main(export) == 0
    predict = ["predict", str(tmp_path / "saved"), "--input", str(tmp_path / "x.npy"),
               "--output", str(tmp_path / "out")]
    assert main(predict) == 0
    capsys.readouterr()
    assert main(predict) == 2
    assert capsys.readouterr().err == (
        f"keras-ae: error: {tmp_path / 'out' / 'image.npy'} and 2 more already exist; "
        "pass --overwrite to replace them\n")
    (tmp_path / "locked").mkdir(mode=0o500)
    if os.access(tmp_path / "locked", os.W_OK):  # as root every folder is writable
        return
    assert main([*predict[:-1], str(tmp_path / "locked" / "out")]) == 2
    assert capsys.readouterr().err.startswith("keras-ae: error: PermissionError: ")


@pytest.mark.parametrize("content, message", [
    ("[1, 2]", "a config is a JSON object"), ('{"latent_dim": null}', "bad config value"),
    ('{"hidden_units": 5}', "lists of integers"), ("{not json", "cannot read config"),
])
def test_bad_config_files_exit_2_with_one_line(tmp_path, content, message, capsys):
    (tmp_path / "config.json").write_text(content)
    assert main(["train", "--config", str(tmp_path / "config.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


@pytest.mark.parametrize("command", list(COMMANDS))
def test_help_for_every_command(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: keras-ae {command}")


def test_the_readme_command_table_lists_every_option(capsys):
    """Each command's rows of README.md's command table name every option its --help lists."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for command in COMMANDS:
        rows = [line for line in readme.splitlines() if line.startswith(f"| `keras-ae {command} ")]
        assert rows, command
        with pytest.raises(SystemExit):
            main([command, "--help"])
        usage = capsys.readouterr().out.split("\n\n", 1)[0]  # its usage lines
        options = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", usage)) - {"--help"}
        listed = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", " ".join(rows)))
        assert options <= listed, f"{command}: README's table lacks {sorted(options - listed)}"


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


def test_ctrl_c_that_surfaces_as_an_import_error_still_ends_with_status_130(monkeypatch, capsys):
    # SIGINT inside a C extension's import reaches Python as an ImportError, not KeyboardInterrupt
    import signal

    def import_cut_short(args):
        try:
            ctrl_c()
        except KeyboardInterrupt:
            raise ImportError("PyCapsule_Import could not import module \"datetime\"") from None

    monkeypatch.setattr(COMMANDS["train"], "run", import_cut_short)
    assert main(["train"]) == 130
    assert capsys.readouterr().err == "keras-ae: interrupted; rerun the same command to resume\n"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def test_ctrl_c_that_something_swallowed_still_ends_with_status_130(monkeypatch, capsys):
    def swallowing(args):
        try:
            ctrl_c()
        except KeyboardInterrupt:
            pass  # as a garbage-collector callback does
        return 0

    monkeypatch.setattr(COMMANDS["evaluate"], "run", swallowing)
    assert main(["evaluate", "run"]) == 130
    assert capsys.readouterr().err == "keras-ae: interrupted\n"


def test_an_import_error_without_ctrl_c_is_unexpected(monkeypatch, capsys):
    def broken_import(args):
        raise ImportError("no module named 'thing'")

    monkeypatch.setattr(COMMANDS["train"], "run", broken_import)
    assert main(["train"]) == 1
    assert capsys.readouterr().err.startswith("keras-ae: error: unexpected ImportError: no module")


@pytest.mark.parametrize("command", list(COMMANDS))
def test_ctrl_c_says_to_rerun_only_where_rerunning_resumes(command, monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(COMMANDS[command], "run", interrupted)
    argv = {"train": [], "predict": ["m.tflite", "--input", "x.npy"], "plot": ["run", "--what", "curves"]}
    assert main([command, *argv.get(command, ["run"])]) == 130
    resume = "; rerun the same command to resume" if command == "train" else ""
    assert capsys.readouterr().err == f"keras-ae: interrupted{resume}\n"
