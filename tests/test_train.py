"""Training writes a complete run folder, is reproducible and resumes after an interruption."""

import numpy as np
import pytest

import keras
from keras_ae.models.config import RunConfig
from keras_ae.training.train import RunFolderError, train

from harness import structured_images


@pytest.fixture()
def npz_dataset(tmp_path):
    images = (structured_images(320) * 255).astype("uint8")
    path = tmp_path / "digits.npz"
    np.savez(path, x_train=images[:256], y_train=np.zeros(256, "int64"),
             x_test=images[256:], y_test=np.zeros(64, "int64"))
    return str(path)


def config(dataset, **changes):
    base = RunConfig(dataset=dataset, hidden_units=(32, 16), latent_dim=4, epochs=3,
                     batch_size=32, seed=1, validation_fraction=0.25, learning_rate=3e-3)
    return base.replace(**changes)


def test_run_folder_has_every_file_and_loss_falls(npz_dataset, tmp_path):
    run = tmp_path / "run"
    result = train(config(npz_dataset, epochs=4), run, verbose=0)
    names = {p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file()}
    assert {"config.json", "model.keras", "history.csv", "checkpoints/best.keras"} <= names
    assert any(n.startswith("logs/") for n in names)
    assert not (run / "backup").exists()
    assert [int(r["epoch"]) for r in result.history] == [0, 1, 2, 3]
    losses = [r["loss"] for r in result.history]
    assert losses[-1] < losses[0]
    assert all("val_loss" in r for r in result.history)
    assert RunConfig.load(run / "config.json") == config(npz_dataset, epochs=4)


def test_model_file_holds_the_best_validation_weights(npz_dataset, tmp_path):
    import keras_ae

    run = tmp_path / "run"
    result = train(config(npz_dataset, epochs=4), run, verbose=0)
    model = keras_ae.load_model(run)
    best = min(r["val_loss"] for r in result.history)
    from keras_ae import data

    val_x, _ = data.load_arrays(npz_dataset, "validation", validation_fraction=0.25)
    got = model.evaluate(data.as_float_images(val_x), batch_size=32, verbose=0, return_dict=True)
    assert got["loss"] == pytest.approx(best, rel=1e-4)


def test_op_determinism_only_when_asked(npz_dataset, monkeypatch):
    import tensorflow as tf

    calls = []
    monkeypatch.setattr(tf.config.experimental, "enable_op_determinism", lambda: calls.append(1))
    train(config(npz_dataset, epochs=1), verbose=0)
    assert calls == []
    train(config(npz_dataset, epochs=1), verbose=0, deterministic=True)
    assert calls == [1]


def test_same_seed_gives_identical_weights(npz_dataset):
    a = train(config(npz_dataset, epochs=2), verbose=0).model
    b = train(config(npz_dataset, epochs=2), verbose=0).model
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    c = train(config(npz_dataset, epochs=2, seed=2), verbose=0).model
    assert any(not np.array_equal(wa, wc) for wa, wc in zip(a.get_weights(), c.get_weights()))


def test_finished_run_is_not_replaced_without_overwrite(npz_dataset, tmp_path):
    run = tmp_path / "run"
    train(config(npz_dataset, epochs=1), run, verbose=0)
    before = (run / "model.keras").read_bytes()
    with pytest.raises(RunFolderError, match="--overwrite"):
        train(config(npz_dataset, epochs=1), run, verbose=0)
    assert (run / "model.keras").read_bytes() == before
    train(config(npz_dataset, epochs=1, seed=5), run, overwrite=True, verbose=0)
    assert (run / "model.keras").read_bytes() != before


@pytest.mark.parametrize("files", [
    {"notes.txt": "mine"},
    {"config.json": '{"name": "my app"}', "thesis.tex": "mine"},  # someone else's config.json
])
def test_foreign_folder_is_never_touched(npz_dataset, tmp_path, files):
    folder = tmp_path / "user"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    for overwrite in (False, True):
        with pytest.raises(RunFolderError, match="not a keras-ae run folder"):
            train(config(npz_dataset, epochs=1), folder, overwrite=overwrite, verbose=0)
    assert {p.name: p.read_text() for p in folder.iterdir()} == files


class StopAtEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


class CountEpochs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


def test_interrupted_run_resumes_where_it_stopped(npz_dataset, tmp_path):
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(config(npz_dataset, epochs=4), run, verbose=0, callbacks=[StopAtEpoch(2)])
    assert (run / "backup").is_dir() and not (run / "model.keras").exists()

    with pytest.raises(RunFolderError, match="different options"):
        train(config(npz_dataset, epochs=4, latent_dim=8), run, verbose=0)

    counter = CountEpochs()
    result = train(config(npz_dataset, epochs=4), run, verbose=0, callbacks=[counter])
    assert result.resumed
    assert counter.epochs == [2, 3]
    assert [int(r["epoch"]) for r in result.history] == [0, 1, 2, 3]
    assert (run / "model.keras").exists() and not (run / "backup").exists()

    # the same data order, optimizer state and weights as a run that was never interrupted
    whole = train(config(npz_dataset, epochs=4), tmp_path / "whole", verbose=0)
    for a, b in zip(whole.model.get_weights(), result.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert [r["val_loss"] for r in whole.history] == [r["val_loss"] for r in result.history]


def test_crash_while_recording_an_epoch_loses_no_history_row(npz_dataset, tmp_path, monkeypatch):
    from keras_ae.training import callbacks

    original = callbacks.AtomicCSVLogger.on_epoch_end

    def crash_at_epoch_1(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt
        original(self, epoch, logs)

    monkeypatch.setattr(callbacks.AtomicCSVLogger, "on_epoch_end", crash_at_epoch_1)
    with pytest.raises(KeyboardInterrupt):
        train(config(npz_dataset, epochs=3), tmp_path / "run", verbose=0)
    monkeypatch.setattr(callbacks.AtomicCSVLogger, "on_epoch_end", original)
    result = train(config(npz_dataset, epochs=3), tmp_path / "run", verbose=0)
    assert [int(r["epoch"]) for r in result.history] == [0, 1, 2]


def test_crash_after_the_last_epoch_resumes_without_retraining(npz_dataset, tmp_path, monkeypatch):
    import keras_ae.training.train as train_module

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "write_model_file", crash)
    with pytest.raises(KeyboardInterrupt):
        train(config(npz_dataset, epochs=2), tmp_path / "run", verbose=0)
    monkeypatch.undo()
    counter = CountEpochs()
    result = train(config(npz_dataset, epochs=2), tmp_path / "run", verbose=0, callbacks=[counter])
    assert result.resumed and counter.epochs == []
    assert (tmp_path / "run" / "model.keras").is_file()


def test_early_stopping_ends_training_when_validation_stops_improving(npz_dataset):
    # a learning rate this small leaves the validation loss unchanged from one epoch to the next
    result = train(config(npz_dataset, epochs=10, learning_rate=1e-12, early_stopping=1), verbose=0)
    assert len(result.history) < 10
    full = train(config(npz_dataset, epochs=3, learning_rate=1e-12), verbose=0)
    assert len(full.history) == 3


def test_backups_are_written_every_so_often_and_when_training_ends(npz_dataset, tmp_path,
                                                                   monkeypatch):
    from keras_ae.training.callbacks import AtomicBestCheckpoint, TimedBackup

    writes = {"backup": 0, "best": 0}
    save_backup, save_best = TimedBackup.write, AtomicBestCheckpoint.write

    def count_backup(self, epoch):
        writes["backup"] += 1
        save_backup(self, epoch)

    def count_best(self):
        writes["best"] += 1 if self._pending else 0
        save_best(self)

    monkeypatch.setattr(TimedBackup, "write", count_backup)
    monkeypatch.setattr(AtomicBestCheckpoint, "write", count_best)
    train(config(npz_dataset, epochs=3), tmp_path / "rare", verbose=0)  # every 60 s by default
    assert writes == {"backup": 1, "best": 1}
    writes.update(backup=0, best=0)
    train(config(npz_dataset, epochs=3), tmp_path / "often", verbose=0, backup_every=0)
    assert writes["backup"] == 3 and 1 <= writes["best"] <= 3
    same = [keras_ae_weights(tmp_path / name) for name in ("rare", "often")]
    for a, b in zip(*same):
        np.testing.assert_array_equal(a, b)


def keras_ae_weights(run):
    import keras_ae

    return keras_ae.load_model(run).get_weights()


class StopMidEpoch(keras.callbacks.Callback):
    """Ctrl-C in the middle of epoch `epoch`."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch, self.current = epoch, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch:
            raise KeyboardInterrupt


def test_ctrl_c_mid_epoch_keeps_the_last_finished_epoch(npz_dataset, tmp_path):
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(config(npz_dataset, epochs=4, steps_per_execution=1), run, verbose=0,
              callbacks=[StopMidEpoch(2)])
    counter = CountEpochs()
    result = train(config(npz_dataset, epochs=4, steps_per_execution=1), run, verbose=0,
                   callbacks=[counter])
    assert result.resumed and counter.epochs == [2, 3]
    whole = train(config(npz_dataset, epochs=4, steps_per_execution=1), tmp_path / "whole",
                  verbose=0)
    for a, b in zip(whole.model.get_weights(), result.model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_ctrl_c_keeps_the_tensorboard_scalars_of_the_finished_epochs(npz_dataset, tmp_path):
    import tensorflow as tf

    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(config(npz_dataset, epochs=4), run, verbose=0, callbacks=[StopAtEpoch(2)])
    steps = [event.step for path in (run / "logs" / "train").glob("events.out.tfevents.*")
             for event in tf.compat.v1.train.summary_iterator(str(path))
             for value in event.summary.value if value.tag == "epoch_loss"]
    assert sorted(steps) == [0, 1]


def test_a_killed_run_resumes_with_the_history_of_its_backup(npz_dataset, tmp_path, monkeypatch):
    """Killed without the interrupted-run write: the history written with each backup holds
    every epoch the backup does, however rarely history.csv is written otherwise."""
    import keras_ae.training.train as train_module
    from keras_ae.training.callbacks import TimedBackup
    from keras_ae.utils.history import read_history

    monkeypatch.setattr(train_module, "HISTORY_EVERY", 3600.0)
    monkeypatch.setattr(TimedBackup, "write_interrupted", lambda self: None)  # as if killed
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(config(npz_dataset, epochs=4), run, verbose=0, callbacks=[StopAtEpoch(2)],
              backup_every=0)
    assert [row["epoch"] for row in read_history(run / "history.csv")] == [0, 1]
    monkeypatch.undo()
    counter = CountEpochs()
    result = train(config(npz_dataset, epochs=4), run, verbose=0, callbacks=[counter])
    assert result.resumed and counter.epochs == [2, 3]
    assert [row["epoch"] for row in result.history] == [0, 1, 2, 3]


def test_a_run_whose_logging_callback_fails_keeps_the_epoch_and_resumes(npz_dataset, tmp_path,
                                                                        capsys, monkeypatch):
    """A callback failing at the end of the first epoch (TensorBoard on a full disk) loses no
    epoch: the backup holds it, and the same command resumes after it."""
    from keras_ae.cli import main
    from keras_ae.training.tensorboard import EpochTensorBoard

    def fail(self, epoch, logs=None):
        raise RuntimeError("planted failure while logging")

    command = ["train", "--model", "seed", "--epochs", "2", "--dataset", npz_dataset,
               "--output", str(tmp_path / "run"), "--quiet"]
    monkeypatch.setattr(EpochTensorBoard, "on_epoch_end", fail)
    assert main(command) == 2
    assert capsys.readouterr().err == "keras-ae: error: planted failure while logging\n"
    assert not (tmp_path / "run" / "model.keras").exists()
    monkeypatch.undo()
    assert main(command) == 0
    assert "continued from epoch 1 and trained" in capsys.readouterr().out
    assert (tmp_path / "run" / "model.keras").is_file()


class FailAtEpochEnd(keras.callbacks.Callback):
    """A user's callback that raises at the end of epoch `epoch`."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("planted failure at the end of an epoch")


def test_a_user_callback_failing_at_an_epoch_end_keeps_that_epoch(npz_dataset, tmp_path):
    run = tmp_path / "run"
    with pytest.raises(RuntimeError, match="planted failure"):
        train(config(npz_dataset), run, verbose=0, callbacks=[FailAtEpochEnd(1)])
    counter = CountEpochs()
    result = train(config(npz_dataset), run, verbose=0, callbacks=[counter])
    assert result.resumed and counter.epochs == [2]
    assert [int(r["epoch"]) for r in result.history] == [0, 1, 2]
    whole = train(config(npz_dataset), tmp_path / "whole", verbose=0)
    for a, b in zip(whole.model.get_weights(), result.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert [r["val_loss"] for r in whole.history] == [r["val_loss"] for r in result.history]
