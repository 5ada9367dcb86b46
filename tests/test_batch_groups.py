"""Grouped batches: the data stacks consecutive batches, the model trains on each in turn, and a
run gives exactly what it gives batch by batch."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_ae import data
from keras_ae.data import pipeline
from keras_ae.data.sources import ArraySource, IndexedSplit, group_count
from keras_ae.models.batch_groups import training_on_groups
from keras_ae.models.presets import build
from keras_ae.training import train
from keras_ae.training.callbacks import EpochOrder
from keras_ae.training.strategies import get_strategy

from test_train import config


def _split(count: int) -> IndexedSplit:
    images = np.arange(count * 4, dtype=np.uint8).reshape(count, 2, 2, 1)
    return IndexedSplit(ArraySource(images), np.arange(count), "train")


def _batches(dataset) -> list[np.ndarray]:
    """Every batch of a dataset of batches, or of stacked batches, in order."""
    out = []
    for element in dataset:
        element = element.numpy()
        out.extend(element if element.ndim == 5 else [element])
    return out


@pytest.mark.parametrize("count, batch_size, group", [(23, 4, 2), (24, 4, 4), (23, 4, 10),
                                                      (3, 4, 2)])
def test_groups_hold_the_same_batches_in_the_same_order(count, batch_size, group):
    split = _split(count)
    single, steps = split.epochs(batch_size, seed=5, epochs=3, first_epoch=1)
    grouped, same_steps = split.epochs(batch_size, seed=5, epochs=3, first_epoch=1, group=group)
    assert steps == same_steps == -(-count // batch_size)
    expected, got = _batches(single), _batches(grouped)
    assert len(got) == len(expected) == 2 * steps
    for a, b in zip(expected, got):
        np.testing.assert_array_equal(a, b)
    elements = 2 * group_count(count, batch_size, group)
    assert int(grouped.cardinality()) == len(list(grouped)) == elements
    ordered = split.grouped_batches(batch_size, group)
    assert int(ordered.cardinality()) == group_count(count, batch_size, group)
    for a, b in zip(_batches(split.batches(batch_size)), _batches(ordered), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_group_stacks_full_batches_and_the_short_batch_comes_alone():
    grouped, _ = _split(23).epochs(4, seed=0, epochs=1, group=2)
    shapes = [tuple(element.shape) for element in grouped]
    assert shapes == [(2, 4, 2, 2, 1)] * 2 + [(1, 4, 2, 2, 1), (1, 3, 2, 2, 1)]
    assert group_count(23, 4, 2) == 4 and group_count(24, 4, 1) == 6


def test_sources_that_check_each_read_refuse_groups(tmp_path):
    from PIL import Image

    for i in range(3):
        Image.fromarray(np.full((4, 4), 40 * i, np.uint8)).save(tmp_path / f"{i}.png")
    split = data.open_split(str(tmp_path), "train", validation_fraction=0.0)
    assert not split.can_group
    with pytest.raises(ValueError, match="cannot give its batches in groups of 2"):
        split.epochs(2, seed=0, epochs=1, group=2)


def test_training_data_caps_a_group_at_its_bytes(small_npz, monkeypatch):
    settings = config(small_npz, batch_size=8, epochs=2)
    ungrouped = data.training_data(settings)
    assert ungrouped.batch_group == 1
    batch_bytes = 4 * 8 * int(np.prod(ungrouped.image_shape))  # float32 pixels of one batch
    monkeypatch.setattr(pipeline, "GROUP_BYTES", 3 * batch_bytes)
    inputs = data.training_data(settings, batch_group=32)
    assert inputs.batch_group == 3
    assert inputs.elements_per_epoch == group_count(inputs.train_size, 8, 3)
    assert {x.dtype.name for x in inputs.validation} == {"uint8"}  # as read: the model converts
    shapes = {tuple(x.shape[:2]) for x in inputs.validation}
    assert shapes <= {(3, 8), (1, 8), (2, 8), (1, inputs.validation_size % 8)}
    assert sum(x.shape[0] * x.shape[1] for x in inputs.validation) == inputs.validation_size


def test_a_model_trains_on_groups_exactly_as_batch_by_batch(small_npz):
    settings = config(small_npz, batch_size=16, epochs=2, jit_compile=False)
    single = data.training_data(settings)
    grouped = data.training_data(settings, batch_group=3)
    assert grouped.batch_group == 3 and single.train_size % 16  # a short last batch too
    models = [build(settings, input_shape=single.image_shape) for _ in range(2)]
    spe = models[1].steps_per_execution
    first = models[0].fit(single.one_epoch, validation_data=single.validation, epochs=2,
                          callbacks=[EpochOrder(single.epoch)], shuffle=False, verbose=0)
    with training_on_groups(models[1]):
        assert models[1].steps_per_execution == 1
        second = models[1].fit(grouped.train, steps_per_epoch=grouped.elements_per_epoch,
                               validation_data=grouped.validation, epochs=2, shuffle=False,
                               verbose=0)
    assert first.history == second.history
    for a, b in zip(models[0].get_weights(), models[1].get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(models[1].optimizer.iterations) == 2 * single.steps_per_epoch
    # afterwards the model trains on plain batches again, with its own steps per call
    assert models[1].steps_per_execution == spe and not models[1].trains_on_groups
    images = np.concatenate([x.numpy() for x in single.validation])
    models[1].fit(images, images, batch_size=16, epochs=1, verbose=0)


def test_train_gives_the_same_run_in_groups_or_batch_by_batch(small_npz):
    grouped = train.train(config(small_npz, steps_per_execution=4), verbose=0)
    single = train.train(config(small_npz, steps_per_execution=1), verbose=0)
    assert grouped.history == single.history
    for a, b in zip(grouped.model.get_weights(), single.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert grouped.model.steps_per_execution == 4 and not grouped.model.trains_on_groups


def test_groups_train_on_one_replica_only():
    with get_strategy("mirrored").scope():  # two CPU replicas (conftest)
        model = build("seed")
    with pytest.raises(ValueError, match="one replica only"):
        with training_on_groups(model):
            pass


class EvaluateEachEpoch(keras.callbacks.Callback):
    """A user's callback: the model's `evaluate` and `fit` on plain batches during training."""

    def __init__(self, images):
        super().__init__()
        self.images, self.losses, self.expected = images, [], []

    def on_epoch_end(self, epoch, logs=None):
        x = self.images
        self.losses.append(self.model.evaluate(x, x, batch_size=16, verbose=0, return_dict=True))
        reconstructions = np.asarray(self.model(x, training=False))
        self.expected.append(float(np.mean((reconstructions - x) ** 2)))


def test_evaluate_on_plain_batches_in_a_callback_of_a_grouped_run(small_npz):
    images = data.as_float_images(data.load_arrays(small_npz, "validation")[0][:40])
    watcher = EvaluateEachEpoch(images)
    result = train.train(config(small_npz, steps_per_execution=4), verbose=0, callbacks=[watcher])
    assert len(watcher.losses) == len(result.history) == 3
    for got, want in zip(watcher.losses, watcher.expected):
        assert got["loss"] == pytest.approx(want, rel=1e-5)


def test_a_group_loop_compiled_whole_trains_as_step_by_step(small_npz, monkeypatch):
    """Under XLA a training group's whole loop is compiled once, the epoch's last, smaller
    group padded to the others' size: the same weights and history as one step per call."""
    from keras_ae.models import batch_groups

    padded = []
    pad = batch_groups._padded
    monkeypatch.setattr(batch_groups, "_padded", lambda group, size: padded.append(
        (int(group.shape[0]), size)) or pad(group, size))
    settings = config(small_npz, batch_size=8, epochs=2, jit_compile=True)  # 15 full batches
    grouped = train.train(settings.replace(steps_per_execution=4), verbose=0)
    assert (3, 4) in padded and {size for _, size in padded} == {4}  # groups of 4, 4, 4 and 3
    single = train.train(settings.replace(steps_per_execution=1), verbose=0)
    assert grouped.history == single.history
    for a, b in zip(grouped.model.get_weights(), single.model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_only_nets_without_convolutions_compile_whole_loops():
    from keras_ae.models.batch_groups import _convolves

    assert not _convolves(build("seed"))
    assert _convolves(build("conv")) and _convolves(build("conv_vae"))
