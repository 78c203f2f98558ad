"""Shared by the user-kernel tests: the deliberately wrong kernels and a BN
model whose statistics make every mistake visible."""
from __future__ import annotations

from pathlib import Path

import numpy as np

KERNELS = Path(__file__).resolve().parent / "kernels"
# kernel file stem -> the mistake it must be diagnosed as
CATALOGUE = {"eps_missing": "eps_missing", "eps_outside_sqrt": "eps_outside_sqrt",
             "var_as_std": "var_as_std", "running_stats_ignored": "running_stats_ignored",
             "batch_stats": "batch_stats", "weight_bias_swapped": "weight_bias_swapped",
             "mean_var_swapped": "mean_var_swapped", "affine_ignored": "affine_ignored",
             "channel_layout": "channel_layout", "correct_unfused": "precision", "unknown": "unknown"}


def make_bn(channels: int = 6, seed: int = 1, eps: float = 1e-3, dims: int = 2):
    """An eval-mode BN with random weight, bias and running statistics (none of
    them near 0 or 1, so every mistake changes the outputs)."""
    import torch

    torch.manual_seed(seed)
    bn = {1: torch.nn.BatchNorm1d, 2: torch.nn.BatchNorm2d, 3: torch.nn.BatchNorm3d}[dims](channels, eps=eps)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2.0)
        bn.bias.uniform_(-1.0, 1.0)
        bn.running_mean.uniform_(-1.0, 1.0)
        bn.running_var.uniform_(0.05, 0.5)
    return bn.eval()


def inputs(shape, seed: int = 2) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(shape) * 1.5 + 0.3).astype(np.float32)
