"""The software fmaf used on cores without an FMA instruction (Cortex-M3) is
correctly rounded: compiled for the host with -DBNRT_SOFT_FMA, the f32 kernel
must equal toolkit/reference.py fma_f32 bit for bit, rounding ties included,
where newlib's (float)((double)x*y + z) is known to be off."""
from __future__ import annotations

import ctypes
import subprocess

import numpy as np
import pytest

from bnrt_cases import fma_hard_cases
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


# ---- the integer fmaf of soft_fmaf.h against the double-based one and the reference

WRAPPER = r"""
#include "soft_fmaf.h"
void fma_each(const float *x, const float *a, const float *b, float *y, unsigned n) {
    for (unsigned i = 0; i < n; i++) soft_fma_row(x + i, y + i, 1u, 1u, a[i], b[i]);
}
void fma_double(const float *x, const float *a, const float *b, float *y, unsigned n) {
    for (unsigned i = 0; i < n; i++) y[i] = bnrt_fmaf_soft(x[i], a[i], b[i]);
}
void fma_row(const float *x, float *y, unsigned n, unsigned stride, float a, float b) {
    soft_fma_row(x, y, n, stride, a, b);
}
"""


@pytest.fixture(scope="module")
def soft_lib(tmp_path_factory):
    d = tmp_path_factory.mktemp("softfmarow")
    (d / "wrap.c").write_text(WRAPPER)
    out = d / "libwrap.so"
    subprocess.run(["gcc", "-std=c99", "-O2", "-fPIC", "-shared", "-ffp-contract=off",
                    "-Wall", "-Wextra", "-Werror", "-Wno-unused-function",
                    f"-I{FW / 'src/kernels'}", "-o", str(out), str(d / "wrap.c"), "-lm"],
                   check=True)
    lib = ctypes.CDLL(str(out))
    fp = ctypes.POINTER(ctypes.c_float)
    for name in ("fma_each", "fma_double"):
        getattr(lib, name).argtypes = [fp, fp, fp, fp, ctypes.c_uint]
    lib.fma_row.argtypes = [fp, fp, ctypes.c_uint, ctypes.c_uint, ctypes.c_float, ctypes.c_float]
    return lib


def _call(lib, name, x, a, b):
    fp = ctypes.POINTER(ctypes.c_float)
    x, a, b = (np.ascontiguousarray(v, np.float32) for v in (x, a, b))
    y = np.empty_like(x)
    getattr(lib, name)(*(v.ctypes.data_as(fp) for v in (x, a, b, y)), len(x))
    return y


def _bits(v):
    return np.asarray(v, np.float32).view(np.uint32)


def _same(got, want):
    nan = np.isnan(got) & np.isnan(want)
    return bool(np.all(nan | (_bits(got) == _bits(want))))


def test_integer_fmaf_on_hard_cases(soft_lib):
    x, a, b = fma_hard_cases()
    want = fma_f32(x, a, b)
    assert _same(_call(soft_lib, "fma_double", x, a, b), want)   # the double version agrees
    got = _call(soft_lib, "fma_each", x, a, b)
    bad = np.flatnonzero(~((np.isnan(got) & np.isnan(want)) | (_bits(got) == _bits(want))))
    assert bad.size == 0, [(x[i], a[i], b[i], got[i], want[i]) for i in bad[:5]]
    assert np.count_nonzero(got == 0) > 4 and np.count_nonzero(np.isinf(got)) > 4


def test_integer_fmaf_on_random_values(soft_lib):
    rng = np.random.default_rng(8)
    n = 300_000
    x = (rng.standard_normal(n) * 2.0 ** rng.integers(-40, 41, n)).astype(np.float32)
    a = (rng.standard_normal(n) * 2.0 ** rng.integers(-40, 41, n)).astype(np.float32)
    b = (rng.standard_normal(n) * 2.0 ** rng.integers(-80, 81, n)).astype(np.float32)
    near = rng.random(n) < 0.3                                     # cancellation
    b[near] = (-(x[near].astype(np.float64) * a[near]) * (1 + rng.standard_normal(near.sum())
                                                         * 2.0**-rng.integers(1, 30, near.sum()))
               ).astype(np.float32)
    bits = rng.integers(0, 2**32, (3, n // 10), dtype=np.uint64).astype(np.uint32).view(np.float32)
    x, a, b = (np.concatenate([v, w]) for v, w in zip((x, a, b), bits))
    assert _same(_call(soft_lib, "fma_each", x, a, b), fma_f32(x, a, b))


def test_integer_fmaf_rows_with_a_stride(soft_lib):
    """One (a, b) per row, as the kernel calls it, over strided elements."""
    rng = np.random.default_rng(9)
    fp = ctypes.POINTER(ctypes.c_float)
    for _ in range(200):
        a, b = (rng.standard_normal(2) * 2.0 ** rng.integers(-20, 21, 2)).astype(np.float32)
        stride = int(rng.integers(1, 5))
        x = (rng.standard_normal(64 * stride) * 2.0 ** rng.integers(-20, 21)).astype(np.float32)
        y = np.full_like(x, 7.0)
        soft_lib.fma_row(x.ctypes.data_as(fp), y.ctypes.data_as(fp), 64, stride, a, b)
        assert _same(y[::stride], fma_f32(x[::stride], a, b))
        assert np.all(np.delete(y, np.s_[::stride]) == 7.0)       # nothing else written
