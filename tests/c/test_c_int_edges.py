"""The integer kernels on constructed cases: outputs on both sides of each
saturation limit, floor-shift edges, every vector tail length, and spatial
size 1 (N, C) tensors, bit for bit against toolkit/reference.py."""
from __future__ import annotations

import numpy as np
import pytest

from bnrt_cases import edge_int_layers, random_input, random_layer, same_bits, sweep_input
from toolkit import reference as ref
from toolkit.format.writer import write_model


def expected(layer, x):
    p = layer.params
    return ref.bn_affine_int(x, p["mult"], p["bias"], layer.shift, layer.dtype, layer.layout)


@pytest.mark.parametrize("dtype", ["s8", "s16"])
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_saturation_and_floor_edges(rt, dtype, layout):
    lo, hi = (-128, 127) if dtype == "s8" else (-32768, 32767)
    hits = set()
    for layer in edge_int_layers(dtype, layout):
        x = sweep_input(dtype, layout, layer.channels)
        want = expected(layer, x)
        hits |= set(np.unique(want).tolist()) & {lo, lo + 1, hi - 1, hi}
        assert same_bits(rt.kernel(layer, x), want), layer.shift
        assert same_bits(rt.load(write_model([layer])).run(0, x), want), layer.shift
    assert hits == {lo, lo + 1, hi - 1, hi}                # the cases reach both limits


@pytest.mark.parametrize("dtype", ["s8", "s16", "f32"])
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_every_tail_length(rt, dtype, layout):
    """Lengths 1..130 cover every remainder of the vector and unrolled loops."""
    rng = np.random.default_rng(21)
    for channels in (1, 3, 16):
        layer = random_layer(rng, dtype, layout, channels, extreme=True)
        model = rt.load(write_model([layer]))
        for n in range(1, 131):
            shape = (1, channels, n) if layout == "nchw" else (n, 1, channels)
            x = random_input(rng, dtype, shape)
            want = (ref.bn_affine_f32(x, layer.params["a"], layer.params["b"], layout, layer.fused)
                    if dtype == "f32" else expected(layer, x))
            assert same_bits(model.run(0, x), want), (channels, n)
