"""TensorBoard pictures of training: reconstructions as it trains, latent codes in the projector.

`HeldOutPictures` writes into `LOG_DIR/held_out/`: an image summary `reconstructions`
(originals over reconstructions of a fixed handful of held-out images) after the first and the
last epoch and every `every` seconds (0: every epoch), and the embedding projector's files for
the codes of up to `embedding_size` held-out images: `sprite.png` (the images, for the
projector's thumbnails; written in the background as training begins) and, at the end of
training, `codes.tsv`, `metadata.tsv` (label and reconstruction error of each image) and
`projector_config.pbtxt`. `tensorboard --logdir RUN_DIR/logs` shows both. Reconstructions are
shown clipped to [0, 1] (a linear model's are unbounded). The pictures only draw: a failure
while drawing them is one note, after which they draw nothing more, and training goes on.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import io
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from keras_ae.data import open_split
from keras_ae.data.pipeline import float_bytes
from keras_ae.data.validate import as_float_images, validate_images, validate_labels
from keras_ae.training.callbacks import values_set
from keras_ae.utils.io import atomic_path, atomic_write_text
from keras_ae.utils.text import first_line
from keras_ae.visualization.plots import image_grid, latent_codes

__all__ = ["EpochTensorBoard", "HeldOutPictures", "PICTURES_DIR", "PROJECTOR_BYTES",
           "SPRITE_MAX_PIXELS", "write_projector", "write_sprite"]

PICTURES_DIR = "held_out"
SPRITE_MAX_PIXELS = 8192  # TensorBoard's limit on each side of a sprite image
PROJECTOR_BYTES = 4 * 2**20  # the float32 input pixels of each of the projector's model calls

logger = logging.getLogger(__name__)


class EpochTensorBoard(keras.callbacks.Callback):
    """The scalars Keras's TensorBoard callback writes by epoch (its default,
    `update_freq="epoch"`), the same tags, steps and values: in `log_dir/train`, `epoch_NAME`
    of each training value and of the learning rate at step `epoch`; in `log_dir/validation`,
    as validation ends, `evaluation_NAME_vs_iterations` at the optimizer's step, and
    `epoch_NAME` of the validation values at step `epoch`.

    They go out as TensorBoard's own event records (`tensorboard.summary.writer`), built in
    Python, rather than as TensorFlow summary ops, which cost more than a short epoch's share
    of the run folder allows (benchmarks/run_folder_cost.py). Each epoch's values are kept in
    memory and written, with their own wall times, at the end of an epoch `flush_every` seconds
    or more after the last write and when training ends: one write a second rather than an
    epoch, so that the writer's thread does not compete with training for short epochs."""

    def __init__(self, log_dir: str | os.PathLike, flush_every: float = 1.0):
        super().__init__()
        self.log_dir, self.flush_every = Path(log_dir), float(flush_every)
        self._writers: dict[str, Any] = {}
        self._pending: list[tuple[str, int, dict, float]] = []
        self._written = time.monotonic()

    def _keep(self, run: str, step: int, values: dict) -> None:
        if values:
            self._pending.append((run, int(step), values, time.time()))

    def write(self) -> None:
        """Write the values kept since the last write to the event files, and flush them."""
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.plugins.scalar.summary_v2 import scalar_pb
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        for run, step, values, wall_time in self._pending:
            if run not in self._writers:  # made when first needed, as Keras's are
                self._writers[run] = EventFileWriter(str(self.log_dir / run),
                                                     flush_secs=self.flush_every,
                                                     filename_suffix=".v2")
            summary = summary_pb2.Summary()
            for tag, value in values.items():
                summary.value.extend(scalar_pb(tag, float(value)).value)
            self._writers[run].add_event(event_pb2.Event(wall_time=wall_time, step=step,
                                                         summary=summary))
        if self._pending:
            for writer in self._writers.values():
                writer.flush()
        self._pending, self._written = [], time.monotonic()

    def _learning_rates(self) -> dict:
        """The learning rate of the model's optimizer (of each, for several), as Keras logs it."""
        optimizer = getattr(self.model.optimizer, "inner_optimizer", self.model.optimizer)
        if hasattr(optimizer, "optimizers"):
            return {f"learning_rate_{opt.name}": float(keras.ops.convert_to_numpy(
                opt.learning_rate)) for opt in optimizer.optimizers}
        if isinstance(optimizer, keras.optimizers.Optimizer):
            return {"learning_rate": float(keras.ops.convert_to_numpy(optimizer.learning_rate))}
        return {}

    def on_train_begin(self, logs=None):
        self._written = time.monotonic()

    def on_test_end(self, logs=None):
        optimizer = self.model.optimizer
        if optimizer is not None and hasattr(optimizer, "iterations"):
            step = int(keras.ops.convert_to_numpy(optimizer.iterations))
            self._keep("validation", step, {f"evaluation_{name}_vs_iterations": float(value)
                                            for name, value in (logs or {}).items()})

    def on_epoch_end(self, epoch, logs=None):
        if logs:
            train = {k: float(v) for k, v in logs.items() if not k.startswith("val_")}
            self._keep("train", epoch, {f"epoch_{name}": value for name, value
                                        in {**train, **self._learning_rates()}.items()})
            self._keep("validation", epoch, {f"epoch_{name[4:]}": float(value)
                                             for name, value in logs.items()
                                             if name.startswith("val_")})
        if time.monotonic() - self._written >= self.flush_every:
            self.write()

    def on_train_end(self, logs=None):
        self.write()
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


def _drawing(hook):
    """A hook of `HeldOutPictures`, which only draws: an error in it is one note, the pictures
    stop, and training goes on."""

    @functools.wraps(hook)
    def draw(self, *args, **kwargs):
        if self.failed:
            return
        try:
            hook(self, *args, **kwargs)
        except Exception as err:  # noqa: BLE001 - nothing that only draws may stop training
            self.failed = True
            if self._writer is not None:
                with contextlib.suppress(Exception):
                    self._writer.close()
            logger.warning("TensorBoard's held-out pictures stopped (%s); training goes on",
                           first_line(err, with_type=True))

    return draw


class HeldOutPictures(keras.callbacks.Callback):
    """Log reconstructions of the first `n_images` of `images` after the first and the last
    epoch and after any epoch that ends `every` seconds or more after the last picture (0:
    every epoch), and, when training ends, the codes of the first `embedding_size` of them to
    the embedding projector.

    `images` are held-out images (uint8 or float in [0, 1]); `labels` (optional) go into the
    projector's metadata beside each image's reconstruction error. With `best` (the run's
    `keras_ae.training.callbacks.AtomicBestCheckpoint`), the projector shows the best epoch's model,
    the one a run folder's model.keras holds, when one was kept.
    """

    def __init__(self, log_dir: str | os.PathLike, images: Any, labels: Any = None, *,
                 n_images: int = 8, embedding_size: int = 2000, every: float = 0.0,
                 best: Any = None):
        super().__init__()
        self.every, self.best = float(every), best
        self._logged = -math.inf
        images = validate_images(images)  # uint8 kept so: a quarter of float32's memory
        self.log_dir = Path(log_dir) / PICTURES_DIR
        h, w = images.shape[1:3]
        fits = (SPRITE_MAX_PIXELS // max(h, w)) ** 2  # a square sprite of at most 8192 pixels
        self.embedding_images = images[:min(embedding_size, fits)]
        self.labels = (None if labels is None else
                       validate_labels(labels, len(images))[:len(self.embedding_images)])
        self.images = as_float_images(images[:n_images])
        self._writer = None
        self._sprite = None  # the sprite's writing, in the background
        self.failed = False  # drawing failed: nothing more is drawn

    @classmethod
    def for_run(cls, log_dir: str | os.PathLike, config, embedding_size: int = 2000,
                every: float = 0.0, best: Any = None) -> HeldOutPictures:
        """The callback for a run of `config` (a RunConfig): the first `embedding_size` images of
        its validation split, read as training reads them, with labels when the dataset has
        them."""
        split = open_split(config.dataset, "validation", data_dir=config.data_dir,
                           validation_fraction=config.validation_fraction,
                           image_size=config.image_size, color_mode=config.color_mode,
                           skip_bad_images=config.skip_bad_images)
        images = split.images(limit=embedding_size)
        labels = split.labels[:len(images)] if split.has_labels else None
        return cls(log_dir, images, labels, embedding_size=embedding_size, every=every, best=best)

    @_drawing
    def on_train_begin(self, logs=None):
        import tensorflow as tf

        self._writer = tf.summary.create_file_writer(str(self.log_dir))
        # the sprite depends on the images alone: encoded (outside the GIL) while the first
        # epoch compiles, rather than after the last
        background = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self._sprite = background.submit(write_sprite, self.log_dir, self.embedding_images)
        background.shutdown(wait=False)  # its thread ends once the sprite is written

    @_drawing
    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf

        last = epoch + 1 >= self.params.get("epochs", 0)
        if not (last or time.monotonic() - self._logged >= self.every):
            return
        self._logged = time.monotonic()
        reconstructions = np.asarray(self.model(self.images, training=False))
        picture = image_grid(_displayable(np.concatenate([self.images, reconstructions])),
                             cols=len(self.images), pad=1)
        with self._writer.as_default():
            tf.summary.image("reconstructions", picture[None], step=epoch,
                             description="held-out images (top) and their reconstructions "
                                         "(bottom)")
        self._writer.flush()

    @_drawing
    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
        if self._sprite is not None:
            self._sprite.result()  # raises the sprite's error, if any
        with values_set(self.model.weights, getattr(self.best, "weights", None)):
            write_projector(self.log_dir, self.model, self.embedding_images, self.labels,
                            sprite=self._sprite is None)


def write_sprite(folder: str | os.PathLike, images: np.ndarray) -> Path:
    """Write the projector's `sprite.png` of `images` (a square grid, row by row, of their
    exact pixels) into `folder`, atomically; returns its path. The grid is made of uint8
    pixels: a float one of 2,000 images of 64x64x3 would take 98 MB a copy."""
    from PIL import Image

    n, h, w = images.shape[:3]
    side = math.ceil(math.sqrt(n))  # the projector reads a square sprite, row by row
    cells = np.zeros((side * side, h, w, 3 if images.shape[-1] == 3 else 1), np.uint8)
    for i in range(0, n, 256):  # converted a few at a time
        cells[i:min(n, i + 256)] = _pixels(images[i:i + 256])
    grid = cells.reshape(side, side, h, w, -1).swapaxes(1, 2).reshape(side * h, side * w, -1)
    path = Path(folder) / "sprite.png"
    with atomic_path(path) as tmp:  # written as training runs: fast
        Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).save(
            tmp, format="PNG", compress_level=1)
    return path


def write_projector(folder: str | os.PathLike, model, images: np.ndarray,
                    labels: np.ndarray | None = None, *, sprite: bool = True) -> Path:
    """Write the TensorBoard projector files for the codes of `images` into `folder`, each file
    atomically (`sprite`: also `write_sprite`'s, else it is written already); returns the path
    of projector_config.pbtxt."""
    from google.protobuf import text_format
    from tensorboard.plugins import projector

    folder = Path(folder)
    # calls of at most PROJECTOR_BYTES of input: a conv net's activations in an eager call are
    # many times its input (1,365 images of 64x64x3 in one call took 1.1 GB more)
    batch = max(1, PROJECTOR_BYTES // float_bytes(1, images.shape[1:]))
    chunks = [images[i:i + batch] for i in range(0, len(images), batch)]  # each made float alone
    codes = np.concatenate([latent_codes(model, chunk, batch_size=batch) for chunk in chunks])
    scores = np.concatenate([np.asarray(model.reconstruction_score(chunk)) for chunk in chunks])
    atomic_write_text(folder / "codes.tsv", _tsv(codes))
    rows = ["label\treconstruction error" if labels is not None else "index\treconstruction error"]
    keys = labels if labels is not None else range(len(images))
    rows += [f"{key}\t{score:.6g}" for key, score in zip(keys, scores)]
    atomic_write_text(folder / "metadata.tsv", "\n".join(rows) + "\n")

    if sprite:
        write_sprite(folder, images)
    h, w = images.shape[1:3]

    config = projector.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = f"latent codes ({codes.shape[1]}-d)"
    embedding.tensor_path = "codes.tsv"
    embedding.metadata_path = "metadata.tsv"
    embedding.sprite.image_path = "sprite.png"
    embedding.sprite.single_image_dim.extend([w, h])
    path = folder / "projector_config.pbtxt"
    atomic_write_text(path, text_format.MessageToString(config))
    return path


def _displayable(images: np.ndarray) -> np.ndarray:
    """Images as pictures: float32 values clipped to [0, 1] (NaN as 0, uint8 divided by 255);
    grey or RGB as they are, any other channel count shows its first channel."""
    if images.dtype.kind in "biu":
        images = as_float_images(images)
    images = np.clip(np.nan_to_num(images, nan=0.0), 0.0, 1.0)
    return images if images.shape[-1] in (1, 3) else images[..., :1]


def _pixels(images: np.ndarray) -> np.ndarray:
    """`_displayable(images)` as uint8 pixels (uint8 grey or RGB images as they are)."""
    if images.dtype == np.uint8 and images.shape[-1] in (1, 3):
        return images
    return np.round(_displayable(images) * 255).astype(np.uint8)


def _tsv(array: np.ndarray) -> str:
    buffer = io.StringIO()
    np.savetxt(buffer, array, delimiter="\t", fmt="%.6g")
    return buffer.getvalue()
