"""keras-ae train (keras_ae.commands.train): the run folder it writes, and a finished run kept
unless --overwrite is given."""

import json

from keras_ae.cli import main


def test_train_writes_a_run_folder(trained_run):
    assert (trained_run / "model.keras").is_file()
    config = json.loads((trained_run / "config.json").read_text())
    assert config["latent_dim"] == 8 and config["epochs"] == 2 and config["seed"] == 3


def test_existing_run_is_refused_without_overwrite(trained_run, npz_dataset, capsys):
    before = (trained_run / "model.keras").stat().st_mtime_ns
    argv = ["train", "--dataset", npz_dataset, "--epochs", "2", "--latent-dim", "8",
            "--output", str(trained_run), "--seed", "3", "--quiet"]
    assert main(argv) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (trained_run / "model.keras").stat().st_mtime_ns == before
