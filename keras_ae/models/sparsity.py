"""Sparsity penalties on latent activations: L1 and the KL divergence toward a target rate."""

from __future__ import annotations

import dataclasses

from keras import ops

from keras_ae.models.losses import weighted_mean

KINDS = ("l1", "kl")
DEFAULT_KL_WEIGHT = 0.01


@dataclasses.dataclass(frozen=True)
class Sparsity:
    """`l1:WEIGHT` adds WEIGHT * mean_batch(sum_j |z_j|); `kl:RHO[:WEIGHT]` adds
    WEIGHT * sum_j KL(RHO || mean_batch(z_j)) for latent activations in (0, 1)."""

    kind: str
    target: float | None = None
    weight: float = DEFAULT_KL_WEIGHT

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown sparsity kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        if not self.weight > 0:
            raise ValueError(f"sparsity weight must be > 0, got {self.weight}")
        if self.kind == "kl" and not (self.target is not None and 0 < self.target < 1):
            raise ValueError(f"KL sparsity target rho must be in (0, 1), got {self.target}")

    @classmethod
    def parse(cls, spec: "str | Sparsity | None") -> "Sparsity | None":
        """Parse `l1:1e-4`, `kl:0.05` or `kl:0.05:0.1`."""
        if spec is None or isinstance(spec, Sparsity):
            return spec
        kind, *numbers = str(spec).split(":")
        try:
            values = [float(n) for n in numbers]
        except ValueError:
            values = []
        if kind == "l1" and len(values) == 1:
            return cls("l1", None, values[0])
        if kind == "kl" and len(values) in (1, 2):
            return cls("kl", *values)
        raise ValueError(f"bad sparsity spec {spec!r}: expected l1:WEIGHT or kl:RHO[:WEIGHT]")

    @property
    def latent_activation(self) -> str:
        """The latent activation this penalty needs: ReLU for L1, sigmoid for KL."""
        return "relu" if self.kind == "l1" else "sigmoid"

    def __str__(self) -> str:
        # repr keeps every digit, so the spec parses back to the same floats
        if self.kind == "l1":
            return f"l1:{self.weight!r}"
        return f"kl:{self.target!r}:{self.weight!r}"

    def penalty(self, z, sample_weight=None):
        """The weighted penalty for a batch of latent activations `z` (batch, units); sample
        weights weight each code (L1) or each code's share of the mean activation (KL)."""
        z = ops.cast(z, "float32")
        if self.kind == "l1":
            return self.weight * weighted_mean(ops.sum(ops.abs(z), axis=-1), sample_weight)
        eps = 1e-7
        if sample_weight is None:
            mean_activation = ops.mean(z, axis=0)
        else:
            w = ops.reshape(ops.cast(sample_weight, "float32"), (-1, 1))
            mean_activation = ops.sum(z * w, axis=0) / ops.maximum(ops.sum(w), eps)
        rho_hat = ops.clip(mean_activation, eps, 1 - eps)
        rho = self.target
        kl = rho * ops.log(rho / rho_hat) + (1 - rho) * ops.log((1 - rho) / (1 - rho_hat))
        return self.weight * ops.sum(kl)
