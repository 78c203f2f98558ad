"""The software fmaf used on cores without an FMA instruction (Cortex-M3) is
correctly rounded: compiled for the host with -DBNRT_SOFT_FMA, the f32 kernel
must equal toolkit/reference.py fma_f32 bit for bit, rounding ties included,
where newlib's (float)((double)x*y + z) is known to be off."""
from __future__ import annotations

import ctypes
import subprocess

import numpy as np
import pytest

from toolkit.format import spec
from toolkit.reference import fma_f32
from toolkit.resources import firmware_dir

FW = firmware_dir()


@pytest.fixture(scope="module")
def soft_kernel(tmp_path_factory):
    out = tmp_path_factory.mktemp("softfma") / "libsoftfma.so"
    srcs = [FW / "src/kernels/bn_affine_f32.c", FW / "src/kernels/kernel_args.c"]
    subprocess.run(["gcc", "-std=c99", "-O2", "-fPIC", "-shared", "-ffp-contract=off",
                    "-Wall", "-Wextra", "-Werror", "-DBNRT_SOFT_FMA", f"-I{FW / 'include'}",
                    "-o", str(out), *map(str, srcs), "-lm"], check=True)
    fn = ctypes.CDLL(str(out)).bnrt_bn_affine_f32
    fp = ctypes.POINTER(ctypes.c_float)
    fn.argtypes = [fp, fp, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint8,
                   fp, fp, ctypes.c_uint8]
    fn.restype = ctypes.c_int

    def run(x, a, b):
        x, a, b = (np.ascontiguousarray(v, np.float32) for v in (x, a, b))
        y = np.empty_like(x)
        ptr = lambda v: v.ctypes.data_as(fp)  # noqa: E731
        assert fn(ptr(x), ptr(y), 1, len(x), 1, spec.LAYOUTS["nhwc"], ptr(a), ptr(b),
                  spec.LAYER_FLAG_FMA) == 0
        return y
    return run


def _ties():
    """x*a exactly halfway between two floats, b far below it: one rounding
    decides, and double rounding gets it wrong."""
    xs, as_, bs = [], [], []
    for k in range(-20, 21):
        for sign in (1.0, -1.0):
            for b in (2.0**-80, -2.0**-80, 2.0**-60, -2.0**-45, 0.0):
                xs.append((1 + 2.0**-12) * 2.0**k)
                as_.append(sign * (1 + 2.0**-12))
                bs.append(b * 2.0**k)
    return np.array(xs, np.float32), np.array(as_, np.float32), np.array(bs, np.float32)


def test_soft_fmaf_rounds_ties_like_a_true_fma(soft_kernel):
    x, a, b = _ties()
    want = fma_f32(x, a, b)
    got = soft_kernel(x, a, b)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
    double_rounded = (x.astype(np.float64) * a + b).astype(np.float32)
    assert np.count_nonzero(double_rounded.view(np.uint32) != want.view(np.uint32)) > 0


def test_soft_fmaf_matches_reference_on_random_values(soft_kernel):
    rng = np.random.default_rng(7)
    n = 200_000
    x = (rng.standard_normal(n) * 10.0 ** rng.integers(-6, 7, n)).astype(np.float32)
    a = (rng.standard_normal(n) * 10.0 ** rng.integers(-6, 7, n)).astype(np.float32)
    b = (rng.standard_normal(n) * 10.0 ** rng.integers(-12, 13, n)).astype(np.float32)
    got, want = soft_kernel(x, a, b), fma_f32(x, a, b)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
