"""f32 C runtime against torch eval mode on real nn.BatchNorm layers, folded
with the production fold (toolkit/model/fold.py)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from bnrt_cases import same_bits
from toolkit.format.writer import LayerBlob, write_model
from toolkit.model.fold import cpu_capability, fold_arrays, fused_for

CASES = [  # (module, input shape, channels_last)
    (torch.nn.BatchNorm1d, (6, 13), False),
    (torch.nn.BatchNorm1d, (4, 7, 33), False),
    (torch.nn.BatchNorm2d, (4, 37, 9, 11), False),
    (torch.nn.BatchNorm2d, (3, 16, 8, 5), True),
    (torch.nn.BatchNorm3d, (2, 5, 3, 4, 6), False),
    (torch.nn.BatchNorm2d, (0, 8, 4, 4), False),
]


def trained_bn(cls, channels: int, seed: int, affine: bool = True) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    bn = cls(channels, eps=1e-3, affine=affine)
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(channels, generator=g) * 2)
        bn.running_var.copy_(torch.rand(channels, generator=g) * 3 + 1e-4)
        if affine:
            bn.weight.copy_(torch.randn(channels, generator=g))
            bn.bias.copy_(torch.randn(channels, generator=g))
    return bn.eval()


@pytest.mark.parametrize("cls,shape,channels_last", CASES)
@pytest.mark.parametrize("affine", [True, False])
def test_f32_matches_torch_eval(rt, cls, shape, channels_last, affine):
    torch.set_num_threads(1)
    C = shape[1]
    bn = trained_bn(cls, C, seed=sum(shape), affine=affine)
    g = torch.Generator().manual_seed(7)
    x = torch.randn(shape, generator=g) * 4
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        want = bn(x)
    fused = fused_for(cpu_capability())
    w = None if bn.weight is None else bn.weight.detach().numpy()
    b0 = None if bn.bias is None else bn.bias.detach().numpy()
    a, b = fold_arrays(w, b0, bn.running_mean.numpy(), bn.running_var.numpy(), bn.eps, fused)
    layout = "nhwc" if channels_last else "nchw"
    model = rt.load(write_model([LayerBlob("f32", layout, C, {"a": a, "b": b}, fused=fused)]))
    if channels_last:                      # pass the tensor in memory order (N, H, W, C)
        xin, want_np = (t.permute(0, 2, 3, 1).numpy() for t in (x, want))
    else:
        xin, want_np = x.numpy(), want.numpy()
    y = model.run(0, np.ascontiguousarray(xin))
    assert same_bits(y, np.ascontiguousarray(want_np))
