"""C kernels (through the parser and bnrt_model_run / run_range) against
toolkit/reference.py, bit for bit, on randomized layers."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bnrt_cases import random_input, random_layer, same_bits
from toolkit import reference as ref
from toolkit.format import spec
from toolkit.format.writer import LayerBlob, write_model
from toolkit.runtime import StatusError

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def expected(layer: LayerBlob, x: np.ndarray) -> np.ndarray:
    p = layer.params
    if layer.dtype == "f32":
        return ref.bn_affine_f32(x, p["a"], p["b"], layer.layout, layer.fused)
    return ref.bn_affine_int(x, p["mult"], p["bias"], layer.shift, layer.dtype, layer.layout)


def tensor_shape(layout, batch, channels, spatial_dims):
    return (batch, channels, *spatial_dims) if layout == "nchw" else (batch, *spatial_dims, channels)


shapes = st.tuples(
    st.sampled_from(["f32", "s8", "s16"]),
    st.sampled_from(["nchw", "nhwc"]),
    st.one_of(st.sampled_from([1, 2, 3, 7, 64]), st.integers(1, 40), st.just(1025)),
    st.sampled_from([0, 1, 2, 5]),                                        # batch
    st.one_of(st.just(()), st.lists(st.integers(1, 9), max_size=3).map(tuple),
              st.just((300,))),                                           # spatial dims
)


@FAST
@given(shape=shapes, seed=st.integers(0, 2**32 - 1), fused=st.booleans(),
       extreme=st.booleans(), shift=st.sampled_from([None, None, 0, "max"]))
def test_run_matches_reference(rt, shape, seed, fused, extreme, shift):
    dtype, layout, channels, batch, sp = shape
    if channels * max(1, int(np.prod(sp))) > 20000:
        sp = ()
    rng = np.random.default_rng(seed)
    if shift == "max":
        shift = spec.S8_SHIFT_MAX if dtype == "s8" else spec.S16_SHIFT_MAX
    layer = random_layer(rng, dtype, layout, channels, fused=fused,
                         shift=None if dtype == "f32" else shift, extreme=extreme)
    x = random_input(rng, dtype, tensor_shape(layout, batch, channels, sp))
    model = rt.load(write_model([layer]))
    want = expected(layer, x)
    assert same_bits(model.run(0, x), want)
    assert same_bits(rt.kernel(layer, x), want)          # direct kernel call, no model
    y = x.copy()                                           # in place: in == out
    assert same_bits(model.run(0, y), want)


def test_fused_and_unfused_really_differ(rt):
    """Guards the FMA pinning: on inputs where the two roundings differ, the
    C library must follow each flag (a contracted build would fail here)."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal(8).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    x = rng.standard_normal((64, 8)).astype(np.float32)
    fused = ref.bn_affine_f32(x, a, b, "nchw", True)
    plain = ref.bn_affine_f32(x, a, b, "nchw", False)
    assert np.count_nonzero(fused != plain) > 20           # the inputs discriminate
    for flag, want in ((True, fused), (False, plain)):
        layer = LayerBlob("f32", "nchw", 8, {"a": a, "b": b}, fused=flag)
        assert same_bits(rt.load(write_model([layer])).run(0, x), want)


def test_rounding_ties(rt):
    """x*a exact and odd, b an even float32 in [2^24, 2^25): every sum is a tie."""
    rng = np.random.default_rng(2)
    C = 16
    a = (rng.integers(0, 32, C) * 2 + 1).astype(np.float32)
    b = (rng.integers(2**23, 2**24, C) * 2).astype(np.float32)
    x = (rng.integers(0, 500, (10, C)) * 2 + 1).astype(np.float32)
    for fused in (True, False):
        layer = LayerBlob("f32", "nhwc", C, {"a": a, "b": b}, fused=fused)
        y = rt.load(write_model([layer])).run(0, x)
        assert same_bits(y, ref.bn_affine_f32(x, a, b, "nhwc", fused))
    assert np.all((x * a).astype(np.int64) % 2 == 1)       # every sum is a float32 tie


@pytest.mark.parametrize("dtype", ["f32", "s8", "s16"])
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_run_range_every_split_equals_run(rt, dtype, layout):
    rng = np.random.default_rng(3)
    C, batch, sp = 3, 3, 5
    layer = random_layer(rng, dtype, layout, C)
    x = random_input(rng, dtype, tensor_shape(layout, batch, C, (sp,)))
    model = rt.load(write_model([layer]))
    whole = model.run(0, x).ravel()
    flat = x.ravel()
    n = flat.size
    for k in range(n + 1):                                 # two pieces split at k
        y = np.concatenate([model.run_range(0, flat[:k], sp, 0),
                            model.run_range(0, flat[k:], sp, k)])
        assert same_bits(y, whole), k
    for chunk in range(1, n + 1):                          # streamed in equal chunks
        y = np.concatenate([model.run_range(0, flat[i:i + chunk], sp, i)
                            for i in range(0, n, chunk)])
        assert same_bits(y, whole), chunk
    for i in range(n):                                     # any window
        for j in range(i, n + 1, 4):
            assert same_bits(model.run_range(0, flat[i:j], sp, i), whole[i:j]), (i, j)


@FAST
@given(seed=st.integers(0, 2**32 - 1), dtype=st.sampled_from(["f32", "s8", "s16"]),
       layout=st.sampled_from(["nchw", "nhwc"]), channels=st.integers(1, 9),
       batch=st.integers(1, 4), sp=st.integers(1, 7), data=st.data())
def test_run_range_random_windows(rt, seed, dtype, layout, channels, batch, sp, data):
    rng = np.random.default_rng(seed)
    layer = random_layer(rng, dtype, layout, channels)
    x = random_input(rng, dtype, tensor_shape(layout, batch, channels, (sp,))).ravel()
    model = rt.load(write_model([layer]))
    i = data.draw(st.integers(0, x.size))
    j = data.draw(st.integers(i, x.size))
    want = model.run(0, x, spatial=sp)
    assert same_bits(model.run_range(0, x[i:j], sp, i), want[i:j])


def test_run_range_statuses(rt):
    rng = np.random.default_rng(4)
    model = rt.load(write_model([random_layer(rng, "s8", "nchw", 3)]))
    x = np.zeros(4, np.int8)
    with pytest.raises(StatusError) as e:
        model.run_range(0, x, 0, 0)
    assert e.value.status == "ERR_SHAPE"
    with pytest.raises(StatusError) as e:
        model.run_range(0, x, 1, 2**32 - 2)                # first + count beyond 2^32 - 1
    assert e.value.status == "ERR_SHAPE"
    assert model.run_range(0, x[:0], 0, 0).size == 0       # count 0: nothing to check
    with pytest.raises(StatusError) as e:
        model.run_range(1, x, 1, 0)
    assert e.value.status == "ERR_LAYER"


def _call(rt, dtype, inp, out, batch, channels, spatial, layout, p0, p1, last):
    fn = getattr(rt.lib, f"bnrt_bn_affine_{dtype}")
    return rt.status_name(fn(inp, out, batch, channels, spatial, layout, p0, p1, last))


@pytest.mark.parametrize("dtype", ["f32", "s8", "s16"])
def test_kernel_argument_checks(rt, dtype):
    buf = np.zeros(64, np.int64)
    p = buf.ctypes.data
    ok = dict(inp=p, out=p, batch=1, channels=2, spatial=3, layout=0, p0=p, p1=p, last=0)
    assert _call(rt, dtype, **ok) == "OK"
    bad = [dict(channels=0), dict(layout=2), dict(inp=None), dict(out=None), dict(p0=None),
           dict(p1=None), dict(batch=2**32 - 1, channels=2**32 - 1, spatial=2**32 - 1)]
    for change in bad:
        assert _call(rt, dtype, **{**ok, **change}) == "ERR_ARG", change
    for empty in (dict(batch=0), dict(spatial=0)):          # empty tensors need no pointers
        assert _call(rt, dtype, **{**ok, **empty, "inp": None, "out": None}) == "OK"
    if dtype != "f32":
        top = spec.S8_SHIFT_MAX if dtype == "s8" else spec.S16_SHIFT_MAX
        assert _call(rt, dtype, **{**ok, "last": top}) == "OK"
        assert _call(rt, dtype, **{**ok, "last": top + 1}) == "ERR_QUANT"


@pytest.mark.parametrize("dtype", ["f32", "s8", "s16"])
def test_nhwc_few_channels_across_tile_boundaries(rt, dtype):
    """NHWC with up to 33 channels: the host kernels repeat the parameters into
    64-entry tiles; pixel counts around a tile's length and its remainder must
    give the reference's bits, fused and unfused, in place too."""
    rng = np.random.default_rng(11)
    for channels in range(1, 34):
        per_tile = max(1, (256 if dtype == "s8" else 64) // channels)   # s8 tiles are 4x longer
        for pixels in sorted({0, 1, per_tile - 1, per_tile, per_tile + 1, 3 * per_tile + 2}):
            layer = random_layer(rng, dtype, "nhwc", channels, fused=bool(pixels % 2))
            x = random_input(rng, dtype, (pixels, 1, channels))
            want = expected(layer, x)
            assert same_bits(rt.kernel(layer, x), want), (channels, pixels)
            y = x.copy()
            assert same_bits(rt.load(write_model([layer])).run(0, y), want), (channels, pixels)
