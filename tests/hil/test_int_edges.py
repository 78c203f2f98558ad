"""Integer kernels at their limits, on every board: every shift class, mult
and bias at the spec's bounds, outputs saturating on both sides, and NHWC
channel counts below, at and above the kernels' tile sizes, checked against
toolkit/reference.py.  (The Helium s8 kernel of qemu-mps3-an547 saturates with
one VQSHL by 24 - shift: shifts <= 24 and > 24 take different paths.)"""
from __future__ import annotations

import numpy as np
import pytest

from toolkit import reference
from toolkit.format import spec
from toolkit.format.writer import LayerBlob, write_model

pytestmark = pytest.mark.hil(boards=["host-sim", "qemu"])


def run_int(bnrt_device, bnrt_load, dtype, layout, mult, bias, shift, x, spatial):
    layer = LayerBlob(dtype, layout, mult.size, {"mult": mult, "bias": bias}, in_scale=0.05,
                      out_scale=0.07, shift=shift)
    assert bnrt_load(write_model([layer]))[1] == 1
    got = bnrt_device.run(0, x, spatial=spatial).output
    want = reference.bn_affine_int(x, mult, bias, shift, dtype, layout)
    assert got.dtype == want.dtype and np.array_equal(got, want)


def s8_params(rng, channels, shift):
    """mult and bias spread over the whole allowed range, ends included."""
    mult = rng.integers(-spec.S8_MULT_MAX, spec.S8_MULT_MAX + 1, channels, dtype=np.int64)
    bias = rng.integers(-spec.S8_BIAS_MAX, spec.S8_BIAS_MAX + 1, channels, dtype=np.int64)
    scale = rng.choice([1, 1 << 8, 1 << 16, 1 << 23], channels)   # small and large mults
    mult = np.clip(mult // scale, -spec.S8_MULT_MAX, spec.S8_MULT_MAX)
    bias = bias >> rng.integers(0, 31 - min(shift, 30), channels)   # outputs in range too
    mult[:2] = [spec.S8_MULT_MAX, -spec.S8_MULT_MAX][:channels]
    bias[:2] = [-spec.S8_BIAS_MAX, spec.S8_BIAS_MAX][:channels]
    return mult.astype(np.int32), bias.astype(np.int32)


def s8_input(rng, shape):
    x = rng.integers(-128, 128, shape).astype(np.int8)
    x.reshape(-1)[:4] = [-128, 127, 0, -1][:x.size]
    return x


@pytest.mark.parametrize("shift", [0, 1, 8, 16, 23, 24, 25, 30, 31])
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_s8_every_shift(bnrt_device, bnrt_load, layout, shift):
    rng = np.random.default_rng(100 * shift + (layout == "nhwc"))
    channels, spatial = 5, 203
    mult, bias = s8_params(rng, channels, shift)
    shape = (2, channels, spatial) if layout == "nchw" else (2, spatial, channels)
    run_int(bnrt_device, bnrt_load, "s8", layout, mult, bias, shift, s8_input(rng, shape), spatial)


@pytest.mark.parametrize("channels", [1, 2, 3, 8, 31, 32, 33, 100])
def test_s8_nhwc_tiles(bnrt_device, bnrt_load, channels):
    rng = np.random.default_rng(channels)
    spatial = max(3, 1500 // channels)
    mult, bias = s8_params(rng, channels, 20)
    x = s8_input(rng, (1, spatial, channels))
    run_int(bnrt_device, bnrt_load, "s8", "nhwc", mult, bias, 20, x, spatial)


@pytest.mark.parametrize("shift", [0, 15, 31, 32, 33, 46, 62])
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_s16_every_shift_class(bnrt_device, bnrt_load, layout, shift):
    rng = np.random.default_rng(1000 + shift + (layout == "nhwc"))
    channels, spatial = 5, 97
    mult = rng.integers(-2**31, 2**31, channels, dtype=np.int64)
    mult[:2] = [-2**31, 2**31 - 1]
    bias = rng.integers(-spec.S16_BIAS_MAX, spec.S16_BIAS_MAX + 1, channels, dtype=np.int64)
    bias >>= rng.integers(0, 63 - min(shift, 62), channels)
    x = rng.integers(-32768, 32768, (2, channels, spatial) if layout == "nchw"
                     else (2, spatial, channels)).astype(np.int16)
    x.reshape(-1)[:3] = [-32768, 32767, 0]
    run_int(bnrt_device, bnrt_load, "s16", layout, mult.astype(np.int32), bias, shift, x,
            spatial)


@pytest.mark.parametrize("channels", [1, 3, 32, 33, 130])
def test_s16_nhwc_tiles(bnrt_device, bnrt_load, channels):
    rng = np.random.default_rng(2000 + channels)
    spatial = max(3, 700 // channels) + 1
    mult = rng.integers(-2**31, 2**31, channels, dtype=np.int64).astype(np.int32)
    bias = rng.integers(-2**46, 2**46, channels, dtype=np.int64)
    x = rng.integers(-32768, 32768, (1, spatial, channels)).astype(np.int16)
    run_int(bnrt_device, bnrt_load, "s16", "nhwc", mult, bias, 30, x, spatial)
