"""Real digits shipped with the package: the MNIST test set, for training without a network.

MNIST (Yann LeCun, Corinna Cortes, Christopher J. C. Burges) is published under CC BY-SA 3.0;
see ``bundled/mnist/NOTICE.txt``.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from .splits import Pools

logger = logging.getLogger(__name__)

BUNDLED_MNIST = Path(__file__).resolve().parent / "bundled" / "mnist"
"""The folder of the bundled MNIST test set (t10k IDX files)."""

NO_TEST = ("the bundled MNIST digits (the 10,000 test digits) are the train/validation pool; "
           "evaluate on split 'validation' instead of 'test'")


@functools.lru_cache(maxsize=1)
def bundled_mnist() -> Pools:
    """The bundled digits as a train/validation pool without a test set (read once)."""
    from .local import read_idx_pair

    images, labels = read_idx_pair(BUNDLED_MNIST / "t10k-images-idx3-ubyte.gz",
                                   BUNDLED_MNIST / "t10k-labels-idx1-ubyte.gz")
    images.flags.writeable = False
    labels.flags.writeable = False
    return Pools("the bundled MNIST digits", images, labels, no_test=NO_TEST)


@functools.lru_cache(maxsize=1)
def announce_fallback() -> None:
    """Say, once per process, that the bundled digits replace tfds's MNIST."""
    logger.warning("tensorflow-datasets cannot download MNIST (offline?): using the 10,000 MNIST "
                   "test digits bundled with keras_ae as the train/validation pool")


def forget() -> None:
    """Forget the cached digits and the notice (the next fallback reads and says it again)."""
    bundled_mnist.cache_clear()
    announce_fallback.cache_clear()


__all__ = ["BUNDLED_MNIST", "bundled_mnist"]
