"""Helpers for the exporter tests: BN layers with seeded, non-trivial parameters."""
from __future__ import annotations

import numpy as np
import torch


def randomize(bn, seed: int, var_lo: float = 0.01):
    """Seeded weight/bias/running stats (in place); returns bn in eval mode."""
    g = torch.Generator().manual_seed(seed)
    c = bn.num_features
    with torch.no_grad():
        if bn.weight is not None:
            bn.weight.copy_(torch.randn(c, generator=g) * 1.5)
        if bn.bias is not None:
            bn.bias.copy_(torch.randn(c, generator=g))
        bn.running_mean.copy_(torch.randn(c, generator=g) * 3)
        bn.running_var.copy_(torch.rand(c, generator=g) * 4 + var_lo)
    return bn.eval()


def same_bits(x: np.ndarray, y: np.ndarray) -> int:
    """Number of elements whose float32 bit patterns differ."""
    x = np.ascontiguousarray(x, np.float32)
    y = np.ascontiguousarray(y, np.float32)
    assert x.shape == y.shape
    return int((x.view(np.int32) != y.view(np.int32)).sum())
