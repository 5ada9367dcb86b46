"""Distribution strategies by name, and who in a cluster writes the run folder.

`default` trains on one device; `mirrored` on every GPU of this machine (or every logical CPU
device when there is no GPU); `multiworker` on every worker of the cluster in `TF_CONFIG`, each
with its GPUs (or CPU); `tpu` on a TPU. The batch size of a run is the global batch: each of
the `num_replicas_in_sync` replicas computes an equal share of it.
"""

from __future__ import annotations

import functools
import json
import os

import tensorflow as tf

from keras_ae.utils.quiet import native_logs_muted

STRATEGIES = ("default", "mirrored", "multiworker", "tpu")


class StrategyError(ValueError):
    """A strategy that cannot be made on this machine; the message says why, in one line."""


def get_strategy(strategy: str | tf.distribute.Strategy | None = None) -> tf.distribute.Strategy:
    """The strategy called `strategy` (see `STRATEGIES`), a given strategy itself, or the
    default one for None."""
    if strategy is None or strategy == "default":
        return tf.distribute.get_strategy()
    if isinstance(strategy, tf.distribute.Strategy):
        return strategy
    if strategy == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return _mirrored(tuple(device.name for device in devices))
    if strategy == "multiworker":
        _check_tf_config()
        return _multiworker(os.environ["TF_CONFIG"])
    if strategy == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, RuntimeError, tf.errors.OpError) as err:
            raise StrategyError(f"no TPU found for --strategy tpu ({str(err).splitlines()[0]})") from None
        return tf.distribute.TPUStrategy(resolver)
    raise StrategyError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)} "
                        "or pass a tf.distribute.Strategy")


@functools.cache
def _mirrored(devices: tuple[str, ...]) -> tf.distribute.MirroredStrategy:
    """One MirroredStrategy per set of devices for the whole process: a second strategy over the
    same devices would reuse the first one's collective keys, and their all-reduces collide."""
    return tf.distribute.MirroredStrategy(list(devices))


@functools.cache
def _multiworker(tf_config: str) -> tf.distribute.MultiWorkerMirroredStrategy:
    """One MultiWorkerMirroredStrategy per cluster for the whole process: TensorFlow configures
    its collective ops once, at start-up."""
    return tf.distribute.MultiWorkerMirroredStrategy()


def start_strategy(strategy: str | None) -> None:
    """Make the strategy called `strategy` now if it must exist before TensorFlow initialises
    its devices (`multiworker`: collective ops are configured at program start-up), with
    TensorFlow's native start-up lines muted; `get_strategy` then returns it. Any other
    strategy is made when it is used. For the command line, which initialises the devices
    before its command runs."""
    if strategy == "multiworker":
        with native_logs_muted():
            get_strategy(strategy)


def _check_tf_config() -> None:
    """`multiworker` needs TF_CONFIG naming the cluster and this worker's task."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise StrategyError("--strategy multiworker needs TF_CONFIG, e.g. "
                            '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                            '"task": {"type": "worker", "index": 0}} (one index per machine)')
    try:
        config = json.loads(raw)
        workers = config["cluster"]["worker"]
        task = config["task"]
        if not (isinstance(workers, list) and workers and task["type"] in ("worker", "chief")
                and isinstance(task["index"], int)):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise StrategyError(f"TF_CONFIG is not a cluster description: {raw[:200]}") from None


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run folder: always, except on a non-chief worker of a
    multi-worker cluster."""
    return bool(strategy.extended.should_checkpoint)


def is_multiworker(strategy: tf.distribute.Strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
