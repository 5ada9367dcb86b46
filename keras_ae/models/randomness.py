"""Seeds for the noise drawn while training: fresh on every step, distinct on every replica."""

from __future__ import annotations

import keras
from keras import ops


def replica_seed(generator: keras.random.SeedGenerator):
    """The next seed of `generator` as an int64 pair, offset by the replica's id under a
    distribution strategy, so that replicas draw different noise for their shares of a batch."""
    import tensorflow as tf

    seed = ops.cast(generator.next(), "int64")
    context = tf.distribute.get_replica_context()
    if context is None or tf.distribute.get_strategy().num_replicas_in_sync == 1:
        return seed
    replica = ops.cast(context.replica_id_in_sync_group, "int64")
    return seed + ops.stack([ops.zeros((), "int64"), replica])
