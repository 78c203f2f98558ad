"""Fold a BN layer into per-channel float32 (a, b), exactly as torch's CPU eval kernel.

aten/src/ATen/native/cpu/batch_norm_kernel.cpp,
batch_norm_cpu_collect_linear_and_constant_terms, in float32:
    inv_var = 1 / sqrt(var + (float)eps);  a = inv_var * weight
    b = bias - mean * a
The AVX2/AVX512 builds of that file are compiled with FMA enabled and the
compiler contracts b into fma(-mean, a, bias); the `default` build does not.
The apply loop contracts the same way: y = fma(x, a, b) vs. x*a + b.
Measured on this machine (docs/format.md, "Folding"): bit-exact for
BatchNorm1d (N,C)/(N,C,L), 2d and 3d, contiguous and channels_last inputs.
"""
from __future__ import annotations

import numpy as np

from ..reference import fma_f32


def cpu_capability() -> str:
    """torch's CPU kernel dispatch on this machine: 'AVX512', 'AVX2', 'DEFAULT', ..."""
    import torch
    return str(torch.backends.cpu.get_cpu_capability())


def fused_for(capability: str) -> bool:
    """torch uses fma for BN on every dispatch except `default` (case-insensitive:
    torch reports 'DEFAULT')."""
    return capability.strip().lower() != "default"


def fold_arrays(weight, bias, mean, var, eps: float, fused: bool) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) float32[C]; weight/bias None mean 1/0 (as torch's kernel)."""
    f32 = np.float32
    mean = np.asarray(mean, f32)
    var = np.asarray(var, f32)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        inv_var = (f32(1) / np.sqrt(var + f32(eps))).astype(f32)
        a = inv_var if weight is None else (inv_var * np.asarray(weight, f32)).astype(f32)
        b0 = np.zeros_like(a) if bias is None else np.asarray(bias, f32)
        if fused:
            b = fma_f32(-mean, a, b0)
        else:
            b = (b0 - (mean * a).astype(f32)).astype(f32)
    return a.astype(f32), b.astype(f32)


def fold(layer, fused: bool) -> tuple[np.ndarray, np.ndarray]:
    """Fold a toolkit.model.bn.BNLayer."""
    return fold_arrays(layer.weight, layer.bias, layer.running_mean, layer.running_var,
                       layer.eps, fused)
