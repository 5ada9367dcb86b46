"""Functional builders for encoder and decoder networks.

Every builder returns a built `keras.Model`. Encoders map images (H, W, C) to a latent code; with
`heads=2` they return `[z_mean, z_log_var]` for a variational autoencoder. Decoders map a latent
code back to images of the given shape. `conv_map_encoder` / `conv_map_decoder` keep the code a
feature map (H', W', D) instead of a flat vector (what the VQ-VAE quantises).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
from keras import layers

Shape = Sequence[int]


def _latent_heads(hidden, latent_dim: int, heads: int, activation, use_bias: bool = True):
    if heads == 1:
        return layers.Dense(latent_dim, activation=activation, use_bias=use_bias, name="z")(hidden)
    if heads == 2:
        return [
            layers.Dense(latent_dim, name="z_mean")(hidden),
            layers.Dense(latent_dim, name="z_log_var")(hidden),
        ]
    raise ValueError(f"heads must be 1 or 2, got {heads}")


def _upsample_to(h, output_shape: Shape, filters: Sequence[int], kernel_size: int, activation,
                 output_activation):
    """Conv2DTranspose blocks that each double H and W, a Conv2D to the image channels and a
    crop back to `output_shape` (height, width, channels)."""
    height, width, channels = output_shape
    for i, f in enumerate(filters):
        h = layers.Conv2DTranspose(f, kernel_size, strides=2, padding="same",
                                   activation=activation, name=f"deconv_{i}")(h)
    h = layers.Conv2D(channels, kernel_size, padding="same", activation=output_activation,
                      name="pixels")(h)
    crop_h, crop_w = int(h.shape[1]) - height, int(h.shape[2]) - width
    if crop_h or crop_w:
        h = layers.Cropping2D(((0, crop_h), (0, crop_w)))(h)
    return h


def dense_encoder(
    input_shape: Shape,
    latent_dim: int,
    hidden_units: Sequence[int] = (128, 64),
    *,
    activation: str = "relu",
    latent_activation: str | None = None,
    heads: int = 1,
    name: str = "encoder",
) -> keras.Model:
    """Flatten, then Dense layers of `hidden_units`, then a Dense latent layer."""
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    h = layers.Flatten()(inputs)
    for i, units in enumerate(hidden_units):
        h = layers.Dense(units, activation=activation, name=f"dense_{i}")(h)
    return keras.Model(inputs, _latent_heads(h, latent_dim, heads, latent_activation), name=name)


def dense_decoder(
    latent_dim: int,
    output_shape: Shape,
    hidden_units: Sequence[int] = (64, 128),
    *,
    activation: str = "relu",
    output_activation: str | None = "sigmoid",
    name: str = "decoder",
) -> keras.Model:
    """Dense layers of `hidden_units`, then a Dense output reshaped to `output_shape`."""
    inputs = keras.Input(shape=(latent_dim,), name="z")
    h = inputs
    for i, units in enumerate(hidden_units):
        h = layers.Dense(units, activation=activation, name=f"dense_{i}")(h)
    h = layers.Dense(math.prod(output_shape), activation=output_activation, name="pixels")(h)
    return keras.Model(inputs, layers.Reshape(tuple(output_shape))(h), name=name)


def conv_encoder(
    input_shape: Shape,
    latent_dim: int,
    filters: Sequence[int] = (32, 64),
    *,
    dense_units: Sequence[int] = (),
    kernel_size: int = 3,
    activation: str = "relu",
    latent_activation: str | None = None,
    heads: int = 1,
    name: str = "encoder",
) -> keras.Model:
    """Strided Conv2D blocks (each halves H and W), Flatten, optional Dense, latent layer."""
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    h = inputs
    for i, f in enumerate(filters):
        h = layers.Conv2D(f, kernel_size, strides=2, padding="same", activation=activation,
                          name=f"conv_{i}")(h)
    h = layers.Flatten()(h)
    for i, units in enumerate(dense_units):
        h = layers.Dense(units, activation=activation, name=f"dense_{i}")(h)
    return keras.Model(inputs, _latent_heads(h, latent_dim, heads, latent_activation), name=name)


def conv_decoder(
    latent_dim: int,
    output_shape: Shape,
    filters: Sequence[int] = (64, 32),
    *,
    dense_units: Sequence[int] = (),
    kernel_size: int = 3,
    activation: str = "relu",
    output_activation: str | None = "sigmoid",
    name: str = "decoder",
) -> keras.Model:
    """Mirror of `conv_encoder`: Dense to a small feature map, Conv2DTranspose blocks that each
    double H and W, a Conv2D to the image channels, and a crop back to `output_shape`."""
    height, width, channels = output_shape
    scale = 2 ** len(filters)
    start_h, start_w = math.ceil(height / scale), math.ceil(width / scale)
    inputs = keras.Input(shape=(latent_dim,), name="z")
    h = inputs
    for i, units in enumerate(dense_units):
        h = layers.Dense(units, activation=activation, name=f"dense_{i}")(h)
    first = filters[0] if filters else channels
    h = layers.Dense(start_h * start_w * first, activation=activation, name="project")(h)
    h = layers.Reshape((start_h, start_w, first))(h)
    h = _upsample_to(h, output_shape, filters, kernel_size, activation, output_activation)
    return keras.Model(inputs, h, name=name)


def conv_map_encoder(
    input_shape: Shape,
    code_dim: int,
    filters: Sequence[int] = (32, 64),
    *,
    kernel_size: int = 3,
    activation: str = "relu",
    name: str = "encoder",
) -> keras.Model:
    """Strided Conv2D blocks (each halves H and W), then a linear 1x1 Conv2D to `code_dim`
    channels: a feature map (ceil(H / 2^n), ceil(W / 2^n), code_dim) of code vectors."""
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    h = inputs
    for i, f in enumerate(filters):
        h = layers.Conv2D(f, kernel_size, strides=2, padding="same", activation=activation,
                          name=f"conv_{i}")(h)
    return keras.Model(inputs, layers.Conv2D(code_dim, 1, name="z")(h), name=name)


def conv_map_decoder(
    map_shape: Shape,
    output_shape: Shape,
    filters: Sequence[int] = (64, 32),
    *,
    kernel_size: int = 3,
    activation: str = "relu",
    output_activation: str | None = "sigmoid",
    name: str = "decoder",
) -> keras.Model:
    """Mirror of `conv_map_encoder`: from a feature map (H', W', D), Conv2DTranspose blocks
    that each double H and W, a Conv2D to the image channels and a crop to `output_shape`."""
    map_shape = tuple(int(d) for d in map_shape)
    if len(map_shape) != 3 or 2 ** len(filters) * min(map_shape[:2]) < min(output_shape[:2]):
        raise ValueError(f"a feature map of shape {map_shape} upsampled {len(filters)} times "
                         f"cannot cover images of shape {tuple(output_shape)}")
    inputs = keras.Input(shape=map_shape, name="code")
    h = _upsample_to(inputs, output_shape, filters, kernel_size, activation, output_activation)
    return keras.Model(inputs, h, name=name)


def linear_encoder(input_shape: Shape, latent_dim: int, *, name: str = "encoder") -> keras.Model:
    """A single bias-free linear map from the flattened image to the latent code."""
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    h = layers.Flatten()(inputs)
    return keras.Model(inputs, _latent_heads(h, latent_dim, 1, None, use_bias=False), name=name)


def linear_decoder(latent_dim: int, output_shape: Shape, *, name: str = "decoder") -> keras.Model:
    """A single bias-free linear map from the latent code back to the image."""
    inputs = keras.Input(shape=(latent_dim,), name="z")
    h = layers.Dense(math.prod(output_shape), use_bias=False, name="pixels")(inputs)
    return keras.Model(inputs, layers.Reshape(tuple(output_shape))(h), name=name)
