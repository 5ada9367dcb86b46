"""Input corruption for denoising autoencoders: Gaussian, masking and salt-and-pepper noise."""

from __future__ import annotations

import dataclasses

import keras
from keras import ops

KINDS = ("gaussian", "masking", "salt_pepper")


@dataclasses.dataclass(frozen=True)
class Corruption:
    """A corruption process applied to a batch of images in [0, 1].

    `kind` is one of `gaussian` (additive noise with standard deviation `amount`, clipped to
    [0, 1]), `masking` (each pixel set to 0 with probability `amount`) or `salt_pepper` (each pixel
    set to 0 or 1 with probability `amount`).
    """

    kind: str
    amount: float

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown noise kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        if not self.amount > 0 or (self.kind != "gaussian" and self.amount >= 1):
            bound = "> 0" if self.kind == "gaussian" else "in (0, 1)"
            raise ValueError(f"noise amount for {self.kind} must be {bound}, got {self.amount}")

    @classmethod
    def parse(cls, spec: "str | Corruption | None") -> "Corruption | None":
        """Parse `KIND:AMOUNT` (e.g. `gaussian:0.5`, `masking:0.3`, `salt_pepper:0.1`)."""
        if spec is None or isinstance(spec, Corruption):
            return spec
        kind, sep, amount = str(spec).partition(":")
        try:
            value = float(amount)
        except ValueError:
            value = float("nan")
        if not sep or value != value:
            raise ValueError(
                f"bad noise spec {spec!r}: expected KIND:AMOUNT with KIND one of {', '.join(KINDS)}"
            )
        return cls(kind.strip(), value)

    def __str__(self) -> str:
        return f"{self.kind}:{self.amount:g}"

    def apply(self, x, seed=None):
        """Return a corrupted copy of the float batch `x` (a Keras seed or SeedGenerator)."""
        x = ops.convert_to_tensor(x)
        shape = ops.shape(x)
        if self.kind == "gaussian":
            noise = keras.random.normal(shape, stddev=self.amount, dtype=x.dtype, seed=seed)
            return ops.clip(x + noise, 0.0, 1.0)
        hit = keras.random.uniform(shape, dtype=x.dtype, seed=seed) < self.amount
        if self.kind == "masking":
            return ops.where(hit, ops.zeros_like(x), x)
        salt = keras.random.uniform(shape, dtype=x.dtype, seed=seed) < 0.5
        return ops.where(hit, ops.cast(salt, x.dtype), x)
