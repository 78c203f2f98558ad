"""Helpers shared by the sim tests: random layers and inputs inside the spec's limits."""
from __future__ import annotations

import numpy as np

from toolkit.format import spec
from toolkit.format.writer import LayerBlob


def random_layer(rng, dtype: str, layout: str, channels: int, fused: bool = True, name=None) -> LayerBlob:
    """A layer with random parameters inside the spec's limits."""
    c = channels
    if dtype == "f32":
        params = {"a": rng.uniform(-2, 2, c).astype(np.float32), "b": rng.uniform(-1, 1, c).astype(np.float32)}
        return LayerBlob("f32", layout, c, params, fused=fused, name=name)
    if dtype == "s8":
        params = {"mult": rng.integers(-(1 << 20), 1 << 20, c).astype(np.int32),
                  "bias": rng.integers(-(1 << 28), 1 << 28, c).astype(np.int32)}
        return LayerBlob("s8", layout, c, params, in_scale=0.05, in_zero_point=-3,
                         out_scale=0.07, out_zero_point=5, shift=20, name=name)
    params = {"mult": rng.integers(-(1 << 31), (1 << 31) - 1, c, dtype=np.int64).astype(np.int32),
              "bias": rng.integers(-(1 << 60), 1 << 60, c, dtype=np.int64)}
    return LayerBlob("s16", layout, c, params, in_scale=0.001, out_scale=0.002, shift=40, name=name)


def random_input(rng, dtype: str, shape) -> np.ndarray:
    if dtype == "f32":
        return rng.standard_normal(shape).astype(np.float32)
    lo, hi = spec.QRANGE[dtype]
    return rng.integers(lo, hi + 1, shape).astype(np.int8 if dtype == "s8" else np.int16)
