"""keras_ae.training.run_folder: a finished run trains for more epochs from where it stopped;
other changes are named."""

import numpy as np
import pytest

from keras_ae.cli import main
from keras_ae.models.config import RunConfig
from keras_ae.training.run_folder import RunFolderError
from keras_ae.training.train import train


def config(data, **changes):
    base = RunConfig(dataset=data, hidden_units=(16,), latent_dim=2, epochs=2, batch_size=32,
                     seed=0, validation_fraction=0.2, learning_rate=3e-3)
    return base.replace(**changes)


def test_more_epochs_continue_a_finished_run_exactly(small_npz, tmp_path):
    run = tmp_path / "run"
    first = train(config(small_npz, epochs=2), run, verbose=0)
    assert (run / "checkpoints" / "last" / "training_metadata.json").is_file()
    best_before = (run / "checkpoints" / "best.keras").read_bytes()

    extended = train(config(small_npz, epochs=4), run, verbose=0)
    assert extended.resumed and extended.first_epoch == 2
    assert [r["epoch"] for r in extended.history] == [0, 1, 2, 3]
    assert extended.history[:2] == first.history  # the earlier rows are kept as they were
    assert RunConfig.load(run / "config.json").epochs == 4
    assert not (run / "backup").exists() and (run / "checkpoints" / "last").is_dir()
    if min(r["val_loss"] for r in extended.history[2:]) >= min(r["val_loss"] for r in first.history):
        assert (run / "checkpoints" / "best.keras").read_bytes() == best_before

    # the same weights and history as a run trained for 4 epochs in one go
    whole = train(config(small_npz, epochs=4), tmp_path / "whole", verbose=0)
    for a, b in zip(whole.model.get_weights(), extended.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert [r["val_loss"] for r in whole.history] == [r["val_loss"] for r in extended.history]
    assert (run / "history.csv").read_text() == (tmp_path / "whole" / "history.csv").read_text()


@pytest.fixture(scope="module")
def finished(small_npz, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "finished"
    train(config(small_npz, epochs=2), run, verbose=0)
    return run


@pytest.mark.parametrize("changes, message", [
    ({}, "already holds a model trained for 2 epochs; pass --epochs N (more)"),
    ({"epochs": 1}, "already holds a model trained for 2 epochs"),
    ({"epochs": 3, "latent_dim": 3},
     "holds a trained model with different options: option latent_dim differs: run has 2, "
     "command gives 3; pass --overwrite"),
    ({"epochs": 3, "learning_rate": 0.01, "seed": 5},
     "option learning_rate differs: run has 0.003, command gives 0.01; option seed differs: run "
     "has 0, command gives 5"),
    ({"epochs": 3, "loss": "bce"}, 'option loss differs: run has "mse", command gives "bce"'),
])
def test_other_changes_are_refused_naming_each_option(small_npz, finished, changes, message):
    before = {p: p.read_bytes() for p in finished.rglob("*") if p.is_file()}
    with pytest.raises(RunFolderError) as raised:
        train(config(small_npz, **changes), finished, verbose=0)
    assert message in str(raised.value)
    assert {p: p.read_bytes() for p in finished.rglob("*") if p.is_file()} == before


def test_resume_option_extends_a_run_with_its_own_options(small_npz, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--config", _config_file(small_npz, tmp_path), "--output", str(run),
                 "--quiet"]) == 0
    assert main(["train", "--resume", str(run), "--epochs", "3", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "continued from epoch 2 and trained seed for 3 epochs" in out
    assert (run / "history.csv").read_text().splitlines()[1:] and \
        [line.split(",")[0] for line in (run / "history.csv").read_text().splitlines()] == \
        ["epoch", "0", "1", "2"]
    assert main(["train", "--resume", str(run), "--epochs", "3", "--latent-dim", "4"]) == 2
    assert "option latent_dim differs: run has 2, command gives 4" in capsys.readouterr().err


def _config_file(small_npz, folder):
    path = folder / "config.json"
    config(small_npz).save(path)
    return str(path)
