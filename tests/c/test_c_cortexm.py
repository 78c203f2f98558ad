"""The kernels cross-compiled for Cortex-M3 and M4F with the firmware's flags,
run under unicorn on random and constructed cases (saturation edges, floor
edges, f32 rounding ties, NaN/inf), bit for bit against toolkit/reference.py.
Covers the Cortex-M-only paths: the f32 VLDM/VSTM blocks and NHWC pixel
blocks, the s8 strided NHWC loop and its short-call fallback, spatial 1
(BatchNorm1d) dispatch, NHWC tiles only on calls long enough for them, and the
M3's software fmaf."""
from __future__ import annotations

import numpy as np
import pytest

from bnrt_cases import (edge_int_layers, fma_hard_cases, random_input, random_layer, same_bits,
                        sweep_input)
from toolkit import reference as ref
from toolkit.bench import armcount, cortexm, firmware_info
from toolkit.format import spec

pytestmark = pytest.mark.skipif(not armcount.have_toolchain(),
                                reason="needs arm-none-eabi-gcc (apt-get install gcc-arm-none-eabi)")
pytest.importorskip("unicorn")


@pytest.fixture(scope="module", params=["m3", "m4"])
def machine(request, tmp_path_factory):
    core = request.param
    flags = firmware_info.firmware_cflags(core)
    elf = armcount.build_image(core, cortexm.kernel_sources(), list(cortexm.SYMBOL.values()),
                               tmp_path_factory.mktemp(core), opt=firmware_info.arm_opt(),
                               include=[firmware_info.FW_DIR / "include",
                                        firmware_info.FW_DIR / "src" / "kernels"], flags=flags)
    return armcount.Machine(elf, core, hard_float="-mfloat-abi=hard" in flags)


def run(m, layer, x, batch, spatial):
    """One kernel call under unicorn on x (already in the layer's layout)."""
    p = layer.params
    if layer.dtype == "f32":
        p0, p1, last = p["a"], p["b"], spec.LAYER_FLAG_FMA if layer.fused else 0
    else:
        p0, p1, last = p["mult"], p["bias"], layer.shift
    m.reset_arena()
    a_in, a_out = m.alloc(x.tobytes()), m.alloc(bytes(x.nbytes))
    a0, a1 = m.alloc(np.ascontiguousarray(p0).tobytes(), 8), m.alloc(np.ascontiguousarray(p1).tobytes(), 8)
    res = m.call(cortexm.SYMBOL[layer.dtype], [a_in, a_out, batch, layer.channels, spatial,
                                                spec.LAYOUTS[layer.layout], a0, a1, last])
    assert res.ret == spec.STATUS["OK"]
    return np.frombuffer(m.read(a_out, x.nbytes), x.dtype).reshape(x.shape)


def expected(layer, x):
    p = layer.params
    if layer.dtype == "f32":
        return ref.bn_affine_f32(x, p["a"], p["b"], layer.layout, layer.fused)
    return ref.bn_affine_int(x, p["mult"], p["bias"], layer.shift, layer.dtype, layer.layout)


# (layout, batch, channels, spatial): BN2d, BN1d (spatial 1) with few and many
# rows, NHWC with 4k channels (pixel blocks), 3 channels over and under a tile
SHAPES = [("nchw", 2, 4, 9), ("nchw", 1, 3, 7), ("nchw", 5, 3, 1), ("nchw", 20, 16, 1),
          ("nchw", 9, 7, 1), ("nhwc", 1, 16, 3), ("nhwc", 1, 8, 11), ("nhwc", 2, 3, 45),
          ("nhwc", 1, 3, 5), ("nhwc", 1, 5, 30), ("nhwc", 3, 12, 1)]


@pytest.mark.parametrize("dtype", ["f32", "s8", "s16"])
def test_random_layers_every_path(machine, dtype):
    rng = np.random.default_rng(31)
    for layout, batch, channels, spatial in SHAPES:
        for fused in (True, False) if dtype == "f32" else (True,):
            layer = random_layer(rng, dtype, layout, channels, fused=fused, extreme=True)
            shape = ((batch, channels, spatial) if layout == "nchw"
                     else (batch, spatial, channels))
            x = random_input(rng, dtype, shape)
            assert same_bits(run(machine, layer, x, batch, spatial), expected(layer, x)), \
                (layout, batch, channels, spatial, fused)


@pytest.mark.parametrize("dtype", ["s8", "s16"])
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_saturation_and_floor_edges(machine, dtype, layout):
    for layer in edge_int_layers(dtype, layout):
        x = sweep_input(dtype, layout, layer.channels)
        if dtype == "s16":                             # a slice of the sweep, both ends kept
            x = x[..., ::37] if layout == "nchw" else x[::37]
            x = np.ascontiguousarray(x)
        batch, spatial = (1, x.shape[2]) if layout == "nchw" else (x.shape[0], 1)
        assert same_bits(run(machine, layer, x, batch, spatial), expected(layer, x)), layer.shift


def test_f32_rounding_ties_fused_and_unfused(machine):
    """x*a exact and odd, b even in [2^24, 2^25): every sum is a float32 tie."""
    from toolkit.format.writer import LayerBlob
    rng = np.random.default_rng(32)
    for layout, batch, channels, spatial in (("nhwc", 1, 8, 5), ("nchw", 6, 4, 1),
                                             ("nchw", 1, 4, 6), ("nhwc", 1, 3, 4)):
        a = (rng.integers(0, 32, channels) * 2 + 1).astype(np.float32)
        b = (rng.integers(2**23, 2**24, channels) * 2).astype(np.float32)
        shape = (batch, channels, spatial) if layout == "nchw" else (batch, spatial, channels)
        x = (rng.integers(0, 500, shape) * 2 + 1).astype(np.float32)
        for fused in (True, False):
            layer = LayerBlob("f32", layout, channels, {"a": a, "b": b}, fused=fused)
            assert same_bits(run(machine, layer, x, batch, spatial), expected(layer, x))


def test_f32_fused_hard_cases(machine):
    """The fmaf hard cases (ties, every exponent gap, cancellation, overflow,
    subnormals, NaN/inf) as one NHWC pixel per case, and as rows: on the M3
    this is the integer fmaf of soft_fmaf.h, on the M4F the VFMA."""
    from toolkit.format.writer import LayerBlob
    x, a, b = fma_hard_cases()
    layer = LayerBlob("f32", "nhwc", len(x), {"a": a, "b": b}, fused=True)
    xs = x.reshape(1, 1, -1)
    assert same_bits(run(machine, layer, xs, 1, 1), expected(layer, xs))
    rows = LayerBlob("f32", "nhwc", 8, {"a": a[:8], "b": b[:8]}, fused=True)
    xr = np.resize(x, (1, 300, 8))                          # strided rows on the M3
    assert same_bits(run(machine, rows, xr, 1, 300), expected(rows, xr))
