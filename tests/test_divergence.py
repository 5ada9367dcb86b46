"""A diverging run stops with one clear error and never leaves a NaN model behind."""

import re

import numpy as np
import pytest

import keras
import keras_ae
from keras_ae.cli import main
from keras_ae.models.config import RunConfig
from keras_ae.training.divergence import TrainingDivergedError
from keras_ae.training.run_folder import completed_epochs
from keras_ae.training.train import train
from keras_ae.utils.history import read_history

from harness import structured_images


def config(data, **changes):
    """A small run, one step per call of the training function (so callbacks see every batch)."""
    base = RunConfig(dataset=data, hidden_units=(16,), latent_dim=2, epochs=3, batch_size=32,
                     seed=0, validation_fraction=0.2, steps_per_execution=1)
    return base.replace(**changes)


def poison(model):
    """Set the decoder's output kernel to NaN: a divergence at a place the test chooses."""
    kernel = model.decoder.get_layer("pixels").kernel
    kernel.assign(np.full(kernel.shape, np.nan, "float32"))


class PoisonAtEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            poison(self.model)


def test_a_diverging_learning_rate_stops_training_without_a_model(small_npz, tmp_path):
    run = tmp_path / "run"
    vae = config(small_npz, preset="vae", objective="vae", hidden_units=(64, 32), learning_rate=50.0,
                 steps_per_execution=32)
    with pytest.raises(TrainingDivergedError) as raised:
        train(vae, run, verbose=0)
    message = str(raised.value)
    assert "\n" not in message
    # XLA runs the dense net 32 steps per call: the batch is known to within the call's steps
    assert re.search(r"^training diverged: the loss became (nan|inf) at epoch 1, "
                     r"(batch \d|batches 1-4) of 4;", message), message
    assert "lower the learning rate (now 50)" in message and "images in [0, 1]" in message
    assert not (run / "model.keras").exists()  # no epoch was good: nothing to keep
    assert not (run / "history.csv").exists()


def test_the_command_line_exits_non_zero_with_one_line(small_npz, tmp_path, capfd):
    run = tmp_path / "run"
    argv = ["train", "--model", "vae", "--dataset", small_npz, "--latent-dim", "2",
            "--learning-rate", "50", "--epochs", "4", "--batch-size", "32", "--output", str(run),
            "--quiet"]
    assert main(argv) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and err.startswith("keras-ae: error: training diverged: ")
    assert "Traceback" not in err and not (run / "model.keras").exists()


def test_the_run_folder_keeps_the_best_model_of_the_epochs_before(small_npz, tmp_path):
    run = tmp_path / "run"
    with pytest.raises(TrainingDivergedError, match="at epoch 3, batch 1 of 4;") as raised:
        train(config(small_npz, epochs=4), run, verbose=0, callbacks=[PoisonAtEpoch(2)])
    assert f"{run / 'model.keras'} holds the best model of the epochs before" in str(raised.value)
    model = keras_ae.load_model(run)
    assert all(np.isfinite(w).all() for w in model.get_weights())
    best = keras_ae.load_model(run / "checkpoints" / "best.keras")
    for a, b in zip(model.get_weights(), best.get_weights()):
        np.testing.assert_array_equal(a, b)
    lines = (run / "history.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in lines] == ["epoch", "0", "1"]  # integers, no NaN row
    assert "nan" not in (run / "history.csv").read_text()
    x = structured_images(8)
    assert np.isfinite(np.asarray(model.anomaly_score(x))).all()


def test_a_non_finite_validation_loss_stops_before_anything_records_the_epoch(small_npz, tmp_path):
    class PoisonAfterTheLastBatch(keras.callbacks.Callback):
        """After the last (finite) training batch of epoch 2, before its validation."""

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if self.epoch == 1 and batch == self.params["steps"] - 1:
                poison(self.model)

    run = tmp_path / "run"
    with pytest.raises(TrainingDivergedError, match="the val loss became nan at the end of epoch 2"):
        train(config(small_npz), run, verbose=0, callbacks=[PoisonAfterTheLastBatch()])
    assert [r["epoch"] for r in read_history(run / "history.csv")] == [0]
    assert completed_epochs(run) == 1  # the backup holds epoch 1, not the diverged epoch 2
    model = keras_ae.load_model(run)
    assert all(np.isfinite(w).all() for w in model.get_weights())
