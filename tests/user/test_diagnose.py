"""The mistake diagnosis on the host, without a board: each deliberately wrong
C kernel (tests/user/kernels) is compiled with gcc, run through ctypes on a
random BN layer, and its outputs must be diagnosed as the mistake it makes;
torch eval is the reference for what is right."""
from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from user_helpers import CATALOGUE, KERNELS, inputs, make_bn


from toolkit.verify.diagnose import MISTAKES, Layer, diagnose

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")


class _BN(ctypes.Structure):
    _fields_ = [("channels", ctypes.c_uint32)] + [(k, ctypes.POINTER(ctypes.c_float)) for k in
                                                  ("weight", "bias", "running_mean", "running_var")] + \
               [("eps", ctypes.c_float)]


@pytest.fixture(scope="module")
def kernel_lib(tmp_path_factory):
    out = tmp_path_factory.mktemp("kernels")

    def build(stem: str):
        lib = out / f"{stem}.so"
        if not lib.exists():
            subprocess.run(["gcc", "-std=c99", "-O2", "-ffp-contract=off", "-shared", "-fPIC",
                            f"-I{ROOT / 'firmware' / 'include'}", "-o", str(lib),
                            str(KERNELS / f"{stem}.c"), "-lm"], check=True)
        return ctypes.CDLL(str(lib))
    return build


def run_kernel(lib, bn, x: np.ndarray) -> np.ndarray:
    def ptr(t):
        if t is None:
            return None
        a = np.ascontiguousarray(t.detach().numpy(), np.float32)
        keep.append(a)
        return a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    keep = []
    s = _BN(bn.num_features, ptr(bn.weight), ptr(bn.bias), ptr(bn.running_mean), ptr(bn.running_var), bn.eps)
    x = np.ascontiguousarray(x, np.float32)
    y = np.full_like(x, np.nan)
    spatial = int(np.prod(x.shape[2:], dtype=np.int64)) if x.ndim > 2 else 1
    f32p = ctypes.POINTER(ctypes.c_float)
    lib.my_bn(ctypes.byref(s), x.ctypes.data_as(f32p), y.ctypes.data_as(f32p),
              ctypes.c_uint32(x.shape[0]), ctypes.c_uint32(spatial))
    return y


def torch_eval(bn, x):
    import torch
    with torch.no_grad():
        return bn(torch.from_numpy(x)).numpy()


@pytest.mark.parametrize("stem", sorted(CATALOGUE))
@pytest.mark.parametrize("shape", [(4, 6, 5, 3), (16, 6)])
def test_each_wrong_kernel_is_named(kernel_lib, stem, shape):
    bn = make_bn(shape[1], dims=2 if len(shape) == 4 else 1)
    x = inputs(shape)
    y = run_kernel(kernel_lib(stem), bn, x)
    ref = torch_eval(bn, x)
    d = diagnose(Layer.from_module(bn), x, y, ref)
    assert d is not None, "outputs equal torch eval: the kernel is not wrong"
    # On (N, C) input (spatial 1) NHWC indexing is NCHW indexing: not a mistake there.
    expected = "precision" if stem == "channel_layout" and len(shape) == 2 else CATALOGUE[stem]
    assert d["mistake"] == expected, d["explanation"]
    assert d["mistake"] in MISTAKES
    wrong = sorted({int(c) for c in np.flatnonzero(
        (y.view(np.uint32) != ref.view(np.uint32)).reshape(shape[0], shape[1], -1).any(axis=(0, 2)))})
    if expected != "unknown":
        assert d["channels"] == wrong and "unexplained_channels" not in d
        assert d["explanation"].startswith("equal to 0 ULP to") or expected in ("batch_stats", "precision")
    else:
        assert d["channels"] == wrong and len(d["channel_max_ulp"]) == shape[1]


def test_explanation_teaches_the_fix(kernel_lib):
    bn = make_bn(eps=1e-5)
    x = inputs((2, 6, 4, 4))
    d = diagnose(Layer.from_module(bn), x, run_kernel(kernel_lib("eps_missing"), bn, x), torch_eval(bn, x))
    assert d["explanation"] == ("equal to 0 ULP to (x - running_mean) / sqrt(running_var) * weight + bias: "
                                "eps (1e-05) is missing; add it inside the square root: sqrt(running_var + eps)")


def test_correct_fma_kernel_is_bit_exact(kernel_lib):
    bn = make_bn()
    x = inputs((4, 6, 7, 5))
    y = run_kernel(kernel_lib("correct_fma"), bn, x)
    assert np.array_equal(y.view(np.uint32), torch_eval(bn, x).view(np.uint32))
    assert diagnose(Layer.from_module(bn), x, y, torch_eval(bn, x)) is None


def test_batch_stats_follow_the_calls(kernel_lib):
    """Called twice on halves of the batch, each half has its own statistics."""
    bn = make_bn()
    x = inputs((8, 6, 3, 3))
    lib = kernel_lib("batch_stats")
    y = np.concatenate([run_kernel(lib, bn, x[:4]), run_kernel(lib, bn, x[4:])])
    d = diagnose(Layer.from_module(bn), x, y, torch_eval(bn, x), calls=[(0, 4), (4, 8)])
    assert d["mistake"] == "batch_stats"
    assert len(d["channels"]) == 6


@pytest.mark.parametrize("affine, bias", [(False, False), (True, False)])
def test_layers_without_weight_or_bias(kernel_lib, affine, bias):
    """weight/bias NULL (affine=False, bias=False): the right kernel is bit-exact;
    a kernel off by a rounding is `precision`, never a weight/bias mistake."""
    import torch

    bn = make_bn()
    if not affine:
        bn = torch.nn.BatchNorm2d(6, affine=False, eps=1e-3).eval()
        bn.running_mean.copy_(make_bn().running_mean)
        bn.running_var.copy_(make_bn().running_var)
    elif not bias:
        with torch.no_grad():
            bn.bias = None
    x = inputs((3, 6, 4, 4))
    y = run_kernel(kernel_lib("correct_fma"), bn, x)
    ref = torch_eval(bn, x)
    assert diagnose(Layer.from_module(bn), x, y, ref) is None
    y2 = y.copy()
    y2[:, 2] = np.nextafter(y2[:, 2], np.float32(np.inf))
    d = diagnose(Layer.from_module(bn), x, y2, ref)
    assert d["mistake"] == "precision" and d["channels"] == [2]


def test_large_layer_torch_train_mode_is_batch_stats():
    """torch's own train-mode BN (an independent producer of the mistake) on a
    layer larger than FIT_ELEMENTS: fitted on a subset, named batch_stats."""
    import torch
    import torch.nn.functional as F

    from toolkit.verify import diagnose as dg

    bn = make_bn(16)
    x = inputs((8, 16, 32, 32))
    assert x.size > dg.FIT_ELEMENTS
    with torch.no_grad():
        y = F.batch_norm(torch.from_numpy(x), None, None, bn.weight, bn.bias, True, 0.0, bn.eps).numpy()
    d = diagnose(Layer.from_module(bn), x, y, torch_eval(bn, x))
    assert d["mistake"] == "batch_stats" and d["channels"] == list(range(16))
    assert len(d["channel_max_ulp"]) == 16
