"""Ctrl-C that is not lost (keras_ae.utils.interrupts): deferred through imports, remembered when
something swallows it, and training ending at the next epoch once it has come."""

import signal

import keras
import numpy as np
import pytest

from keras_ae.training.callbacks import StopOnInterrupt
from keras_ae.utils import interrupts

from harness import ctrl_c


def test_a_first_ctrl_c_inside_deferred_is_raised_when_the_block_ends():
    finished = []
    with interrupts.noted(), pytest.raises(KeyboardInterrupt):
        with interrupts.deferred():
            ctrl_c()
            finished.append(True)
    assert finished == [True]


def test_a_second_ctrl_c_inside_deferred_is_raised_at_once():
    finished = []
    with interrupts.noted(), pytest.raises(KeyboardInterrupt):
        with interrupts.deferred():
            ctrl_c()
            ctrl_c()
            finished.append(True)
    assert finished == []


def test_a_swallowed_ctrl_c_is_raised_by_check():
    with interrupts.noted():
        try:
            ctrl_c()
        except KeyboardInterrupt:
            pass  # what a garbage-collector callback does with it
        assert interrupts.received()
        with pytest.raises(KeyboardInterrupt):
            interrupts.check()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_nothing_is_remembered_from_one_block_to_the_next():
    with interrupts.noted():
        with pytest.raises(KeyboardInterrupt):
            ctrl_c()
    with interrupts.noted():
        assert not interrupts.received()
        interrupts.check()


def test_a_handler_someone_else_installed_is_left_alone():
    caught = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        with interrupts.noted():
            ctrl_c()
            assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        assert caught == [signal.SIGINT] and not interrupts.received()
    finally:
        signal.signal(signal.SIGINT, previous)


class _SwallowedCtrlC(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch, self.ended = epoch, []

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            try:
                ctrl_c()
            except KeyboardInterrupt:
                pass

    def on_epoch_end(self, epoch, logs=None):
        self.ended.append(epoch)


@pytest.mark.parametrize("epoch", [0, 2])
def test_training_ends_after_the_epoch_a_swallowed_ctrl_c_came_in(epoch):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3)])
    model.compile(optimizer="sgd", loss="mse")
    swallow = _SwallowedCtrlC(epoch)
    x = np.zeros((8, 3), "float32")
    with interrupts.noted(), pytest.raises(KeyboardInterrupt):
        model.fit(x, x, epochs=5, verbose=0, callbacks=[swallow, StopOnInterrupt()])
    assert swallow.ended == list(range(epoch + 1))


def test_a_noted_ctrl_c_is_forgotten_when_the_block_ends():
    with pytest.raises(KeyboardInterrupt):
        with interrupts.noted():
            ctrl_c()
    assert not interrupts.received()
    interrupts.check()  # a later train() in the same process is not stopped by it
