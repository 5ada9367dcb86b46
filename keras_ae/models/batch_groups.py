"""Training on groups of batches: each element of the training data stacks several consecutive
batches (``[k, batch, H, W, C]``), and one call of the compiled function trains on each of them
in turn, one optimizer step per batch.

Keras's multi-step training function (``steps_per_execution``) fetches every batch from the
tf.data iterator inside its loop; for a small dense net that fetch costs as much as the step
itself. Fetching a group once and slicing its batches in the graph trains the same batches in
the same order, with the same `train_step`, about 1.8x faster on the seed net
(benchmarks/train_speed.py --knobs).

`keras_ae.train` uses it for one replica, with `keras_ae.data.training_data(batch_group=...)`,
for training and validation. Keras counts each element as one step: the progress bar and
batch-level callbacks see groups.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

import keras


def grouped_function(model: keras.Model, step_function: Callable) -> Callable[[Any], Any]:
    """A `train_function` (or `test_function`) for grouped batches: each call runs
    `step_function` (`model.train_step` or `model.test_step`) on each batch of the iterator's
    next group and returns the logs of the last (StopIteration when the iterator has none
    left, as Keras's own does). An iterator of plain batches (a callback's `evaluate` on its
    own data during grouped training) gets one step per call, as `steps_per_execution` is 1.

    `model` is a `keras_ae.models.Autoencoder`: a group's images have one axis more than a
    batch of its `image_shape`."""
    import tensorflow as tf

    step = step_function
    if not model.run_eagerly:
        step = tf.function(step, reduce_retracing=True, jit_compile=model.jit_compile,
                           autograph=False)  # as Keras compiles it

    def run_group(group):
        size = tf.shape(tf.nest.flatten(group)[0])[0]
        logs = step(tf.nest.map_structure(lambda part: part[0], group))

        def next_batch(index, _):
            return index + 1, step(tf.nest.map_structure(lambda part: part[index], group))

        return tf.while_loop(lambda index, _: index < size, next_batch, (tf.constant(1), logs))[1]

    traced = {}  # per element spec: traced once for any group and batch size, so that a
    # new size (the smaller last batch) only compiles `step` for it (with XLA) and nothing more

    def function(iterator):
        spec = iterator.element_spec
        key = repr(spec)
        if key not in traced:
            grouped = tf.nest.flatten(spec)[0].shape.rank == len(model.image_shape) + 2
            run = run_group if grouped else step
            traced[key] = run if model.run_eagerly else tf.function(
                run, input_signature=[spec], autograph=False)
        return traced[key](next(iterator))

    return function


@contextlib.contextmanager
def training_on_groups(model: keras.Model) -> Iterator[keras.Model]:
    """Within the block, `model.fit` and `model.evaluate` (a `keras_ae.models.Autoencoder`'s)
    take grouped batches, a group per call of `grouped_function` (`steps_per_execution` is 1
    meanwhile, each group holding the steps of a call); on one replica only."""
    if model.distribute_strategy.num_replicas_in_sync != 1:
        raise ValueError("grouped batches train on one replica only")
    steps_per_execution = model.steps_per_execution
    model.train_function = model.test_function = None
    model.trains_on_groups, model.steps_per_execution = True, 1
    try:
        yield model
    finally:
        model.train_function = model.test_function = None
        model.trains_on_groups, model.steps_per_execution = False, steps_per_execution
