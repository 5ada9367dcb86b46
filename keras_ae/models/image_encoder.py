"""The encoder of a keras_ae model: a functional network that takes images as the model does.

`model.encoder` is what users put inside their own models (a feature extractor, a classifier's
base), so it keeps the model's input contract (`keras_ae.models.pixels`): uint8 images are
divided by 255 and float images must lie in [0, 1], checked where values are known. A plain
functional model would cast uint8 to float32 at its input and pass 0-255 floats on.
"""

from __future__ import annotations

import keras

from keras_ae.models.pixels import as_image_tensor

__all__ = ["ImageEncoder"]


@keras.saving.register_keras_serializable(package="keras_ae")
class ImageEncoder(keras.Model):
    """A functional model from images (H, W, C) to codes, taking uint8 in [0, 255] or floats in
    [0, 1] (float32 inside); built like `keras.Model(inputs, outputs)`."""

    def __init__(self, inputs, outputs, name=None, **kwargs):
        super().__init__(inputs, outputs, name=name, **kwargs)

    @classmethod
    def of(cls, net: keras.Model, outputs=None, name: str | None = None) -> "ImageEncoder":
        """`net` itself if it is one, else an ImageEncoder on the same layers (weights shared)
        with `net`'s outputs (or `outputs`, tensors of its graph)."""
        if isinstance(net, cls) and outputs is None and name is None:
            return net
        return cls(net.input, net.output if outputs is None else outputs, name=name or net.name)

    @property
    def image_shape(self) -> tuple[int, ...]:
        """The (height, width, channels) of the images the encoder takes."""
        return tuple(int(d) for d in self.inputs[0].shape[1:])

    def __call__(self, *args, **kwargs):
        """Keras's `__call__` on the images made float32 in [0, 1] (`as_image_tensor`), checked
        first, so that a bad input is one error naming the problem (not wrapped in Keras's
        report of the call). Symbolic inputs (building a functional model) pass as they are:
        their values are converted when the model runs."""
        if args and not isinstance(args[0], keras.KerasTensor):
            args = (as_image_tensor(args[0], self.image_shape, self.name), *args[1:])
        elif "inputs" in kwargs and not isinstance(kwargs["inputs"], keras.KerasTensor):
            kwargs["inputs"] = as_image_tensor(kwargs["inputs"], self.image_shape, self.name)
        return super().__call__(*args, **kwargs)
