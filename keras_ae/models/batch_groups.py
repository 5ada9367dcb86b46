"""Training on groups of batches: each element of the training data stacks several consecutive
batches (``[k, batch, H, W, C]``), and one call of the compiled function trains on each of them
in turn, one optimizer step per batch.

Keras's multi-step training function (``steps_per_execution``) fetches every batch from the
tf.data iterator inside its loop; for a small dense net that fetch costs as much as the step
itself. Fetching a group once and slicing its batches in the graph trains the same batches in
the same order, with the same `train_step`, about 1.8x faster on the seed net
(benchmarks/train_speed.py --knobs). Under XLA, a training group's whole loop is compiled with
its steps (`grouped_function(whole_loop=True)`).

`keras_ae.training.train` uses it for one replica, with
`keras_ae.data.training_data(batch_group=...)`, for training and validation. Keras counts each
element as one step: the progress bar and batch-level callbacks see groups.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

import keras


def grouped_function(model: keras.Model, step_function: Callable, *,
                     whole_loop: bool = False) -> Callable[[Any], Any]:
    """A `train_function` (or `test_function`) for grouped batches: each call runs
    `step_function` (`model.train_step` or `model.test_step`) on each batch of the iterator's
    next group and returns the logs of the last (StopIteration when the iterator has none
    left, as Keras's own does). An iterator of plain batches (a callback's `evaluate` on its
    own data during grouped training) gets one step per call, as `steps_per_execution` is 1.

    Each step is compiled as Keras compiles it (XLA per step where `model.jit_compile`), and
    the loop over a group's batches runs in a TensorFlow graph; with `whole_loop`, XLA and no
    convolution in the model, the loop over a group of several batches is compiled with its
    steps instead, once for every group of full batches (the epoch's last, smaller one is
    padded to their size): the same steps give the same weights, and each step skips a launch
    from the graph. A seed-net epoch took about 55 ms against 70, its first epoch about 0.3 s
    more (a larger compilation), so that a 20-epoch run took as long; a conv net whose whole
    loop XLA compiled ran many times slower than one step at a time (one-off measurements;
    `benchmarks/train_speed.py --knobs` measures the steady state).

    `model` is a `keras_ae.models.Autoencoder`: a group's images have one axis more than a
    batch of its `image_shape`."""
    import tensorflow as tf

    step = step_function
    if not model.run_eagerly:
        step = tf.function(step, reduce_retracing=True, jit_compile=model.jit_compile,
                           autograph=False)  # as Keras compiles it

    def steps_of(group, count, run):
        """`run` on each of the first `count` batches of `group` in turn; the last one's logs."""
        def batch(index):
            return tf.nest.map_structure(lambda part: part[index], group)

        # the logs' structure from a trace of `run` alone, so that the loop holds every step
        # (compiled once) rather than the first one apart
        traced_run = tf.function(run, autograph=False).get_concrete_function(batch(0))
        logs = tf.nest.map_structure(lambda out: tf.zeros(out.shape, out.dtype),
                                     traced_run.structured_outputs)

        def next_batch(index, _):
            return index + 1, run(batch(index))

        return tf.while_loop(lambda index, _: index < count, next_batch, (tf.constant(0), logs))[1]

    traced = {}  # per element spec: traced once for any group and batch size, so that a
    # new size (the smaller last batch) only compiles `step` for it (with XLA) and nothing more
    padded_to: dict = {}  # under XLA, the size of the groups of each batch shape
    compiles_whole_loops = model.jit_compile and not model.run_eagerly and not _convolves(model)
    compiled_loop = tf.function(lambda group, count: steps_of(group, count, step_function),
                                jit_compile=True, autograph=False)

    def function(iterator):
        spec = iterator.element_spec
        grouped = tf.nest.flatten(spec)[0].shape.rank == len(model.image_shape) + 2
        data = next(iterator)
        count = tf.nest.flatten(data)[0].shape[0]
        if whole_loop and grouped and count > 1 and compiles_whole_loops:
            # the group's whole loop of steps under XLA, compiled once for all groups of full
            # batches: a smaller one (an epoch's last) is padded to their size
            shape = tf.nest.flatten(data)[0].shape[1:]
            size = padded_to[shape] = max(count, padded_to.get(shape, 0))
            return compiled_loop(_padded(data, size), tf.constant(count))
        key = repr(spec)
        if key not in traced:
            run = ((lambda group: steps_of(group, tf.shape(tf.nest.flatten(group)[0])[0], step))
                   if grouped else step)
            traced[key] = run if model.run_eagerly else tf.function(
                run, input_signature=[spec], autograph=False)
        return traced[key](data)

    return function


CONVOLUTIONS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D,
                keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose,
                keras.layers.Conv3DTranspose, keras.layers.DepthwiseConv1D,
                keras.layers.DepthwiseConv2D, keras.layers.SeparableConv1D,
                keras.layers.SeparableConv2D)


def _convolves(model: keras.Model) -> bool:
    """Whether a layer of `model`, or of a model inside it, is a convolution."""
    return any(_convolves(layer) if isinstance(layer, keras.Model)
               else isinstance(layer, CONVOLUTIONS) for layer in model.layers)


def _padded(group, size: int):
    """`group` (a structure of stacked batches) with zeros after its batches, up to `size`."""
    import tensorflow as tf

    def pad(part):
        return tf.pad(part, [[0, size - part.shape[0]]] + [[0, 0]] * (part.shape.rank - 1))

    return tf.nest.map_structure(pad, group) if tf.nest.flatten(group)[0].shape[0] < size \
        else group


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
