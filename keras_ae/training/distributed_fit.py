"""Keras's `fit` loop, for distribution strategies, where Keras 3's `Model.fit` fails.

Keras 3.15's `fit` under a strategy first reduces a distributed batch to build the model
symbolically: under `MultiWorkerMirroredStrategy` that fails before the first step (then each
step's logs are reduced along an axis they do not have; keras-team/keras#20585), and under
`MirroredStrategy` it fails whenever a batch splits unevenly over the replicas (a validation
split of 51 images on 2 replicas). `fit` below drives the same callbacks, history and progress
bar as `Model.fit`, and runs the model's own `train_step` / `test_step` under `strategy.run`;
metrics are read in the cross-replica context, so every worker logs the global values.
`fit_function` picks it for every strategy with more than one replica: when Keras fixes `fit`,
returning `model.fit` there switches back.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from keras_ae.training.strategies import is_multiworker


def keras_fit_works(strategy: tf.distribute.Strategy) -> bool:
    """Whether Keras's own `Model.fit` can train under `strategy` (one replica)."""
    return strategy.num_replicas_in_sync == 1 and not is_multiworker(strategy)


def fit_function(model: keras.Model, strategy: tf.distribute.Strategy):
    """The `fit` to train `model` with under `strategy`: Keras's own on one replica."""
    if keras_fit_works(strategy):
        return model.fit
    return lambda *args, **kwargs: fit(model, strategy, *args, **kwargs)


def barrier(strategy: tf.distribute.Strategy) -> None:
    """Wait until every worker of a multi-worker strategy gets here (nothing to wait for on
    one machine)."""
    if is_multiworker(strategy):
        tf.function(lambda: strategy.reduce("SUM", strategy.run(lambda: tf.ones(())), axis=None))()


def _distribute(strategy: tf.distribute.Strategy, dataset: tf.data.Dataset):
    """Each global batch split across the replicas; every worker reads the same batches and keeps
    its share (sharding by element, so the order of the global batches alone decides a run)."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return strategy.experimental_distribute_dataset(dataset.with_options(options))


def fit(model: keras.Model, strategy: tf.distribute.Strategy, x: tf.data.Dataset, *,
        epochs: int, steps_per_epoch: int, validation_data: tf.data.Dataset | None = None,
        callbacks=None, verbose="auto", initial_epoch: int = 0, **ignored):
    """`model.fit(x, epochs=, steps_per_epoch=, validation_data=, callbacks=, verbose=)` for a
    dataset of global batches, returning the History. `x` holds the batches of every epoch
    from `initial_epoch` on (it is not restarted per epoch); `validation_data` is read whole
    every epoch."""
    callbacks = keras.callbacks.CallbackList(
        callbacks, add_history=True, add_progbar=verbose != 0, verbose=verbose, epochs=epochs,
        steps=steps_per_epoch, model=model)

    @tf.function
    def train_step(iterator):
        strategy.run(model.train_step, args=(next(iterator),))
        return model.get_metrics_result()  # cross-replica: the global values on every worker

    @tf.function
    def test_step(batch):
        strategy.run(model.test_step, args=(batch,))
        return model.get_metrics_result()

    if not model.compiled:
        raise ValueError("compile the model before training it")
    model.stop_training = False
    callbacks.on_train_begin()
    iterator = iter(_distribute(strategy, x))
    validation = None if validation_data is None else _distribute(strategy, validation_data)
    epoch_logs: dict = {}
    for epoch in range(initial_epoch, epochs):
        model.reset_metrics()
        callbacks.on_epoch_begin(epoch)
        logs: dict = {}
        for step in range(steps_per_epoch):
            callbacks.on_train_batch_begin(step)
            logs = train_step(iterator)
            callbacks.on_train_batch_end(step, logs)
            if model.stop_training:
                break
        epoch_logs = {name: float(value) for name, value in logs.items()}
        if validation is not None:
            model.reset_metrics()
            callbacks.on_test_begin()
            val_logs: dict = {}
            for step, batch in enumerate(validation):
                callbacks.on_test_batch_begin(step)
                val_logs = test_step(batch)
                callbacks.on_test_batch_end(step, val_logs)
            val_logs = {name: float(value) for name, value in val_logs.items()}
            callbacks.on_test_end(val_logs)
            epoch_logs.update({f"val_{name}": value for name, value in val_logs.items()})
        callbacks.on_epoch_end(epoch, epoch_logs)
        if model.stop_training:
            break
    callbacks.on_train_end(logs=epoch_logs)
    return model.history
