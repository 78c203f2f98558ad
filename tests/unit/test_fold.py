"""Folded (a, b) + reference.bn_affine_f32 equal torch eval bit for bit."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from _bnutil import randomize, same_bits
from toolkit import reference
from toolkit.model.bn import find_bn
from toolkit.model.fold import cpu_capability, fold, fold_arrays, fused_for

FUSED = fused_for(cpu_capability())

CASES = [  # (module factory, input shape, memory format)
    (lambda: nn.BatchNorm1d(5), (7, 5), None),
    (lambda: nn.BatchNorm1d(37, eps=1e-3), (64, 37), None),
    (lambda: nn.BatchNorm1d(37, eps=0.1), (4, 37, 9), None),
    (lambda: nn.BatchNorm1d(1, eps=1e-8), (3, 1, 5), None),
    (lambda: nn.BatchNorm2d(37, eps=1e-3), (4, 37, 9, 11), None),
    (lambda: nn.BatchNorm2d(37, eps=1e-3), (4, 37, 9, 11), torch.channels_last),
    (lambda: nn.BatchNorm2d(3, eps=0.5), (2, 3, 5, 5), torch.channels_last),
    (lambda: nn.BatchNorm3d(17), (2, 17, 3, 3, 3), None),
    (lambda: nn.BatchNorm3d(5, eps=1e-2), (2, 5, 3, 4, 5), torch.channels_last_3d),
    (lambda: nn.BatchNorm2d(7, affine=False), (3, 7, 4, 4), None),
    (lambda: nn.BatchNorm2d(7, bias=False), (3, 7, 4, 4), None),
    (lambda: nn.SyncBatchNorm(9, eps=1e-4), (2, 9, 6, 6), None),
]


def _check(bn, shape, fmt, seed, fused=FUSED):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * 4
    if fmt is not None:
        x = x.contiguous(memory_format=fmt)
    with torch.no_grad():
        want = bn(x).numpy()
    layer = find_bn(bn)[0]
    a, b = fold(layer, fused)
    got = reference.bn_affine_f32(x.contiguous().numpy(), a, b, "nchw", fused=fused)
    return same_bits(got, want)


@pytest.mark.parametrize("i", range(len(CASES)))
def test_fold_matches_torch_eval_bit_for_bit(i):
    make, shape, fmt = CASES[i]
    bn = randomize(make(), seed=i)
    assert _check(bn, shape, fmt, seed=100 + i) == 0


def test_nhwc_layout_matches_channels_last():
    bn = randomize(nn.BatchNorm2d(13, eps=1e-3), seed=5)
    x = torch.randn(3, 13, 6, 7) * 3
    with torch.no_grad():
        want = bn(x.contiguous(memory_format=torch.channels_last)).permute(0, 2, 3, 1).numpy()
    a, b = fold(find_bn(bn)[0], FUSED)
    got = reference.bn_affine_f32(x.permute(0, 2, 3, 1).contiguous().numpy(), a, b, "nhwc", FUSED)
    assert same_bits(got, want) == 0


def test_lazy_bn_after_materialization():
    bn = nn.LazyBatchNorm2d(eps=1e-3)
    bn(torch.randn(2, 6, 3, 3))
    randomize(bn, seed=9)
    assert _check(bn, (4, 6, 5, 5), None, seed=1) == 0


def test_the_fma_flag_matters_here():
    """The other arithmetic does not match torch: the test above can fail."""
    bn = randomize(nn.BatchNorm2d(37, eps=1e-3), seed=3)
    assert _check(bn, (4, 37, 9, 11), None, seed=4, fused=not FUSED) > 0


def test_eps_is_cast_to_float32_before_the_add():
    var = np.array([1.0], np.float32)
    a, _ = fold_arrays(None, None, np.zeros(1, np.float32), var, 1e-8, True)
    assert a[0] == np.float32(1) / np.sqrt(var[0] + np.float32(1e-8))


DEFAULT_SCRIPT = textwrap.dedent("""
    import sys, torch, numpy as np
    sys.path[:0] = {paths!r}
    from torch import nn
    from _bnutil import randomize, same_bits
    from toolkit import reference
    from toolkit.model.bn import find_bn
    from toolkit.model.fold import cpu_capability, fold, fused_for
    cap = cpu_capability()
    assert fused_for(cap) is False, cap
    bad = {{}}
    for i, (bn, shape, fmt) in enumerate([
            (nn.BatchNorm1d(37), (64, 37), None), (nn.BatchNorm1d(5, eps=0.1), (4, 5, 9), None),
            (nn.BatchNorm2d(37, eps=1e-3), (4, 37, 9, 11), torch.channels_last),
            (nn.BatchNorm2d(3), (2, 3, 5, 5), None),
            (nn.BatchNorm3d(5), (2, 5, 3, 4, 5), torch.channels_last_3d)]):
        randomize(bn, i)
        x = torch.randn(*shape) * 4
        if fmt is not None:
            x = x.contiguous(memory_format=fmt)
        with torch.no_grad():
            want = bn(x).numpy()
        for fused in (False, True):
            a, b = fold(find_bn(bn)[0], fused)
            got = reference.bn_affine_f32(x.contiguous().numpy(), a, b, "nchw", fused)
            bad[(i, fused)] = same_bits(got, want)
    print(cap, sum(v for (i, f), v in bad.items() if not f), sum(v for (i, f), v in bad.items() if f))
""")


def test_default_dispatch_uses_the_unfused_form():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    env = dict(os.environ, ATEN_CPU_CAPABILITY="default")
    r = subprocess.run([sys.executable, "-c", DEFAULT_SCRIPT.format(paths=[here, root])],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    cap, unfused_bad, fused_bad = r.stdout.split()
    assert cap.lower() == "default"
    assert int(unfused_bad) == 0
    assert int(fused_bad) > 0
