"""f32 kernels at the edges of the float format, on every board: subnormal
inputs, parameters and results, zeros, infinities and NaNs with payloads,
checked bit for bit against toolkit/reference.py.  Vector units that flush
subnormals or return the default NaN (Helium on qemu-mps3-an547) must fall
back to exact scalar code for exactly these cases.  Tensors cross the 256-
element blocks of the Helium kernel and its NHWC tiles."""
from __future__ import annotations

import numpy as np
import pytest

from toolkit import reference
from toolkit.format.writer import LayerBlob, write_model

pytestmark = pytest.mark.hil(boards=["host-sim", "qemu"])

TINY = np.float32(2.0 ** -126)       # smallest normal float32


def bits(v: int) -> np.float32:
    return np.array([v], np.uint32).view(np.float32)[0]


def sprinkle(rng, x: np.ndarray, values, fraction=0.02) -> np.ndarray:
    """x with `fraction` of its elements replaced by draws from `values`."""
    x = x.copy()
    flat = x.reshape(-1)
    idx = rng.choice(flat.size, max(1, int(flat.size * fraction)), replace=False)
    flat[idx] = rng.choice(np.asarray(values, np.float32), idx.size)
    return x


def subnormals(rng, n) -> np.ndarray:
    mag = rng.integers(1, 0x800000, n).astype(np.uint32)
    sign = rng.integers(0, 2, n).astype(np.uint32) << 31
    return (mag | sign).view(np.float32)


def run(bnrt_device, bnrt_load, x, a, b, layout, fused, spatial):
    layer = LayerBlob("f32", layout, a.size, {"a": a, "b": b}, fused=fused)
    assert bnrt_load(write_model([layer]))[1] == 1
    got = bnrt_device.run(0, x, spatial=spatial).output
    want = reference.bn_affine_f32(x, a, b, layout, fused=fused)
    assert got.dtype == want.dtype and got.shape == want.shape
    diff = np.flatnonzero(got.view(np.uint32) != want.view(np.uint32))
    assert diff.size == 0, (f"{diff.size} of {got.size} outputs differ, first at {diff[0]}: "
                            f"x={x.reshape(-1)[diff[0]]!r} got={got.reshape(-1)[diff[0]]!r} "
                            f"want={want.reshape(-1)[diff[0]]!r}")


def shape(layout, batch, channels, spatial):
    return (batch, channels, spatial) if layout == "nchw" else (batch, spatial, channels)


CASES = ["x-subnormal", "a-subnormal", "b-subnormal", "results-subnormal",
         "products-subnormal", "zeros-and-specials", "clean"]


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "unfused"])
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("case", CASES)
def test_f32_edges_bit_exact(bnrt_device, bnrt_load, case, layout, fused):
    rng = np.random.default_rng(sum(map(ord, case + layout)) + fused)
    channels, spatial, batch = (3, 300, 2) if layout == "nchw" else (9, 70, 2)
    a = rng.uniform(0.5, 3, channels).astype(np.float32) * rng.choice([-1, 1], channels)
    b = rng.uniform(-2, 2, channels).astype(np.float32)
    x = rng.standard_normal(shape(layout, batch, channels, spatial)).astype(np.float32)
    if case == "x-subnormal":
        a[:] = np.float32(2.0 ** 100)           # lifts a subnormal x to a normal product
        b[0] = 0.0                              # ... that b does not swamp
        x = sprinkle(rng, x, subnormals(rng, 64))
    elif case == "a-subnormal":
        a[1], b[1] = subnormals(rng, 1)[0], 0.0
        x *= np.float32(2.0 ** 100)
    elif case == "b-subnormal":
        b[:] = subnormals(rng, channels)
        x *= np.float32(2.0 ** -110)
    elif case == "results-subnormal":
        a[:] = np.float32(2.0 ** -70)
        b[:] = TINY * rng.uniform(-1, 1, channels).astype(np.float32)
        x *= np.float32(2.0 ** -57)
    elif case == "products-subnormal":
        a[:] = np.float32(2.0 ** -70)
        b[:] = 0.0
        x *= np.float32(2.0 ** -60)
    elif case == "zeros-and-specials":
        x = sprinkle(rng, x, [0.0, -0.0, np.inf, -np.inf, bits(0x7FC12345), bits(0xFFC00001),
                              bits(0x7FC00000)], fraction=0.01)
    run(bnrt_device, bnrt_load, x, a, b, layout, fused, spatial)


@pytest.mark.parametrize("channels", [1, 2, 3, 4, 8, 70, 300])
def test_f32_nhwc_tiles(bnrt_device, bnrt_load, channels):
    """NHWC with channel counts below, at and above the tile and block sizes,
    with a few subnormal inputs in the mix."""
    rng = np.random.default_rng(channels)
    spatial = max(3, 900 // channels) + 1   # odd: tails of 1-3 elements after the tiles
    a = rng.uniform(-3, 3, channels).astype(np.float32)
    b = rng.uniform(-2, 2, channels).astype(np.float32)
    x = rng.standard_normal((1, spatial, channels)).astype(np.float32)
    x = sprinkle(rng, x, subnormals(rng, 8), fraction=0.002)
    run(bnrt_device, bnrt_load, x, a, b, "nhwc", True, spatial)
