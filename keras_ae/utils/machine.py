"""The machine code runs on: its CPU's model, cores and instruction-set flags, read once.

What a speed choice depends on besides the model (`keras_ae.models.precision` reads the flags
for bfloat16, `keras_ae.training.precision_choice` keys its measurements by them) and what every
benchmark prints before its numbers (`cpu_description`), from one reading of /proc/cpuinfo.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import platform

__all__ = ["CPU", "cpu", "cpu_description"]


@dataclasses.dataclass(frozen=True)
class CPU:
    """A CPU as this process sees it: `model` (its name), `cores` (logical CPUs of the
    machine), `usable` (those this process may run on) and `flags` (its instruction-set
    extensions, as /proc/cpuinfo names them: "avx2", "avx512_bf16", ...; empty where unknown)."""

    model: str
    cores: int
    usable: int
    flags: frozenset[str]


@functools.cache
def cpu() -> CPU:
    """This machine's CPU (read once per process; /proc/cpuinfo where there is one, else what
    `platform` knows)."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
                if "flags" in fields or "Features" in fields:  # the first processor's are enough
                    break
    except OSError:
        pass
    cores = os.cpu_count() or 1
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        usable = cores
    model = fields.get("model name") or platform.processor() or platform.machine() or "unknown"
    flags = frozenset((fields.get("flags") or fields.get("Features") or "").split())
    return CPU(model, cores, usable, flags)


def cpu_description() -> str:
    """Two lines: the CPU's model and cores, and all its flags (what a benchmark ran on)."""
    info = cpu()
    cores = f"{info.cores} cores" + (f" ({info.usable} usable)" if info.usable != info.cores else "")
    return (f"CPU: {info.model}, {cores}\n"
            f"CPU flags: {' '.join(sorted(info.flags)) or 'unknown'}")
