"""Shared helpers: torch BN layers with random state and the device-side replay."""
from __future__ import annotations

import numpy as np
import torch

from toolkit.protocol import train as tr

BN = {2: torch.nn.BatchNorm1d, 3: torch.nn.BatchNorm1d, 4: torch.nn.BatchNorm2d, 5: torch.nn.BatchNorm3d}


def make_bn(shape, momentum=0.1, eps=1e-5, affine=True, seed=0):
    torch.manual_seed(seed)
    bn = BN[len(shape)](shape[1], eps=eps, momentum=momentum, affine=affine)
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        if affine:
            bn.weight.uniform_(-1.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
    return bn.train()


def state_of(bn) -> tr.TrainState:
    c = bn.num_features
    w = bn.weight.detach().numpy().copy() if bn.affine else np.ones(c, np.float32)
    b = bn.bias.detach().numpy().copy() if bn.affine else np.zeros(c, np.float32)
    return tr.TrainState(w, b, bn.running_mean.numpy().copy(), bn.running_var.numpy().copy(),
                         int(bn.num_batches_tracked), bn.eps, bn.momentum)


def torch_input(x: np.ndarray, channels_last: bool):
    t = torch.from_numpy(x)
    if channels_last:
        t = t.contiguous(memory_format=torch.channels_last if x.ndim == 4 else torch.channels_last_3d)
    return t


def device_step(client, x: np.ndarray, channels_last: bool = False) -> np.ndarray:
    """One train-mode batch on the device, with the chunking torch uses here."""
    c = x.shape[1]
    image = int(np.prod(x.shape[2:])) if x.ndim > 2 else 1
    chunk = tr.torch_chunk(x.size // c, channels_last, image, torch.get_num_threads())
    return tr.forward(client, x, chunk=chunk, channels_last=channels_last)


def batches(shape, k, seed=1):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(shape) * rng.uniform(0.5, 3) + rng.uniform(-2, 2)).astype(np.float32)
            for _ in range(k)]
