"""One process at a time trains into a run folder; a lock left by a killed process is taken over."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from keras_ae.cli import main
from keras_ae.models.config import RunConfig
from keras_ae.training.runlock import RunInUseError, RunLock
from keras_ae.training.train import train

from harness import structured_images

REPO = Path(__file__).resolve().parents[1]

# Trains the run of config.json into RUN (a backup after every epoch) and stops for good at the
# start of epoch 2, with the run folder's lock held, until it is killed.
TRAINER = """
import sys, time
from pathlib import Path
import keras
from keras_ae.models.config import RunConfig
from keras_ae.training.train import train

config_path, run, ready = sys.argv[1:]

class Block(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            Path(ready).write_text("ready")
            while True:
                time.sleep(0.1)

train(RunConfig.load(config_path), run, verbose=0, callbacks=[Block()], backup_every=0)
"""


@pytest.fixture()
def config_file(tmp_path):
    images = (structured_images(160) * 255).astype("uint8")
    np.savez(tmp_path / "small.npz", x_train=images)
    config = RunConfig(dataset=str(tmp_path / "small.npz"), hidden_units=(16,), latent_dim=2,
                       epochs=3, batch_size=32, seed=0, validation_fraction=0.2)
    config.save(tmp_path / "config.json")
    return tmp_path / "config.json"


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()}


def test_a_second_train_is_refused_while_the_first_runs_then_takes_over(config_file, tmp_path,
                                                                       capfd):
    run, ready = tmp_path / "run", tmp_path / "ready"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    first = subprocess.Popen([sys.executable, "-c", TRAINER, str(config_file), str(run), str(ready)],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 180
        while not ready.exists():
            assert first.poll() is None, first.stderr.read().decode()
            assert time.monotonic() < deadline, "the first process did not start training"
            time.sleep(0.2)
        before = _snapshot(run)

        argv = ["train", "--config", str(config_file), "--output", str(run), "--quiet"]
        for extra in ([], ["--overwrite"]):
            assert main(argv + extra) == 2
            err = capfd.readouterr().err
            assert err.count("\n") == 1
            assert f"{run} is in use by process {first.pid}, training since " in err
        with pytest.raises(RunInUseError, match=f"in use by process {first.pid}"):
            train(RunConfig.load(config_file), run, verbose=0)
        assert _snapshot(run) == before  # nothing of the running run was touched
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)

    # the killed process left its owner file behind; the lock itself died with the process
    assert (run / ".keras-ae.owner").is_file()
    assert main(argv) == 0
    printed = capfd.readouterr()
    assert f"took over the lock of {run} from process {first.pid}" in printed.err  # a note
    assert "continued from epoch 1 and trained seed for 3 epochs" in printed.out
    assert (run / "model.keras").is_file() and not (run / ".keras-ae.owner").exists()


def test_a_held_lock_names_its_process_and_a_released_one_is_free(tmp_path):
    (tmp_path / "run").mkdir()
    with RunLock(tmp_path / "run") as lock:
        assert lock.held
        with pytest.raises(RunInUseError, match=f"in use by process {os.getpid()}"):
            RunLock(tmp_path / "run").acquire()
    with RunLock(tmp_path / "run") as again:
        assert again.held and again.taken_over_from is None
