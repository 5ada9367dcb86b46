"""`mixed_precision="auto"` in training: the faster policy, by measurement, cached per machine
and model, recorded in the run folder and kept by a resumed run."""

import json

import numpy as np
import pytest

import keras_ae
from keras_ae.models.precision import is_mixed, mixed_precision_policy
from keras_ae.training import precision_choice
from keras_ae.training.train import train

from harness import small_config


class FakeTimer:
    """Seconds per step by policy, counting the measurements."""

    def __init__(self, float32: float, mixed: float):
        self.seconds = {"float32": float32, mixed_precision_policy(): mixed}
        self.calls = []

    def __call__(self, config, input_shape, policy, steps=5):
        self.calls.append(policy)
        return self.seconds[policy]


@pytest.fixture
def npz(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_AE_CACHE_DIR", str(tmp_path / "cache"))
    images = np.random.default_rng(0).integers(0, 256, (48, 12, 12, 1), dtype=np.uint8)
    path = tmp_path / "d.npz"
    np.savez(path, x_train=images)
    return str(path)


@pytest.mark.parametrize("float32, mixed, mixed_wins", [(1.0, 2.0, False), (2.0, 1.0, True)])
def test_auto_trains_in_the_faster_policy_and_records_why(npz, tmp_path, monkeypatch, float32,
                                                          mixed, mixed_wins):
    timer = FakeTimer(float32, mixed)
    monkeypatch.setattr(precision_choice, "step_seconds", timer)
    config = small_config("conv", dataset=npz, epochs=1, batch_size=16, mixed_precision="auto")
    result = train(config, tmp_path / "run", verbose=0)
    assert is_mixed(result.model) == mixed_wins and len(timer.calls) == 2
    recorded = json.loads((tmp_path / "run" / "choices.json").read_text())["mixed_precision"]
    assert recorded["policy"] == ("float32" if not mixed_wins else mixed_precision_policy())
    assert recorded["seconds_per_step"] == timer.seconds and recorded["measured"] is True
    assert json.loads((tmp_path / "run" / "config.json").read_text())["mixed_precision"] == "auto"

    again = train(config, tmp_path / "again", verbose=0)  # the same model on the same machine
    assert len(timer.calls) == 2 and is_mixed(again.model) == mixed_wins  # from the cache
    assert json.loads((tmp_path / "again" / "choices.json").read_text())[
        "mixed_precision"]["measured"] is False


def test_a_resumed_run_keeps_its_choice_and_other_settings_measure_nothing(npz, tmp_path,
                                                                            monkeypatch):
    from test_train import StopAtEpoch

    timer = FakeTimer(2.0, 1.0)
    monkeypatch.setattr(precision_choice, "step_seconds", timer)
    config = small_config("conv", dataset=npz, epochs=2, batch_size=16, mixed_precision="auto")
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "run", verbose=0, callbacks=[StopAtEpoch(1)])
    (tmp_path / "cache" / "precision.json").write_text(json.dumps({}))  # forgotten, and now
    timer.seconds = {"float32": 1.0, mixed_precision_policy(): 2.0}     # float32 would win
    resumed = train(config, tmp_path / "run", verbose=0)
    assert resumed.resumed and is_mixed(resumed.model) and len(timer.calls) == 2
    for setting in (False, True):
        train(config.replace(mixed_precision=setting), tmp_path / f"set-{setting}", verbose=0)
    assert len(timer.calls) == 2


def test_the_measurement_times_real_training_steps(npz):
    config = small_config("seed", dataset=npz, batch_size=16)
    seconds = precision_choice.step_seconds(config, (12, 12, 1), "float32", steps=2)
    assert 0 < seconds < 60
    assert keras_ae.preset_config("conv").mixed_precision == "auto"
