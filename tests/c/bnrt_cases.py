"""Random layers and inputs for the C runtime tests (imported by tests/c/test_c_*.py)."""
from __future__ import annotations

import numpy as np

from toolkit.format import spec
from toolkit.format.writer import LayerBlob


def random_layer(rng: np.random.Generator, dtype: str, layout: str, channels: int,
                 fused: bool = True, shift: int | None = None, extreme: bool = False) -> LayerBlob:
    """A valid bn_affine layer with parameters anywhere in the spec's ranges
    (extreme: mostly at the limits)."""
    def pick(lo, hi, dt):
        v = rng.integers(lo, hi, channels, endpoint=True, dtype=np.int64)
        if extreme:
            v = np.where(rng.random(channels) < 0.7, rng.choice([lo, hi, 0, 1, -1], channels), v)
        return v.astype(dt)
    if dtype == "f32":
        return LayerBlob("f32", layout, channels, {"a": random_f32(rng, channels),
                                                    "b": random_f32(rng, channels)}, fused=fused)
    if dtype == "s8":
        # |bias| = 2^30 exactly is left out: with |q*mult| = 2^30 the sum is
        # +-2^31, which reference.bn_affine_int refuses (spec issue, see
        # test_c_parser.py::test_s8_limits_keep_the_accumulator_in_int32)
        mult = pick(-spec.S8_MULT_MAX, spec.S8_MULT_MAX, np.int32)
        bias = pick(1 - spec.S8_BIAS_MAX, spec.S8_BIAS_MAX - 1, np.int32)
        sh = int(rng.integers(0, spec.S8_SHIFT_MAX, endpoint=True)) if shift is None else shift
        return LayerBlob("s8", layout, channels, {"mult": mult, "bias": bias}, shift=sh,
                         in_scale=0.05, out_scale=0.1, in_zero_point=int(rng.integers(-128, 128)),
                         out_zero_point=int(rng.integers(-128, 128)))
    mult = pick(-2**31, 2**31 - 1, np.int32)
    bias = pick(-spec.S16_BIAS_MAX, spec.S16_BIAS_MAX, np.int64)
    sh = int(rng.integers(0, spec.S16_SHIFT_MAX, endpoint=True)) if shift is None else shift
    return LayerBlob("s16", layout, channels, {"mult": mult, "bias": bias}, shift=sh,
                     in_scale=0.05, out_scale=0.1)


def random_f32(rng: np.random.Generator, n: int) -> np.ndarray:
    """float32 values mixing ordinary numbers, raw bit patterns (NaN, inf,
    subnormals, huge) and small integers (exact products, rounding ties)."""
    kind = rng.integers(0, 4, n)
    normal = rng.standard_normal(n).astype(np.float32) * np.float32(3)
    bits = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32).view(np.float32)
    ints = rng.integers(-4096, 4096, n).astype(np.float32)
    big_even = (rng.integers(2**23, 2**24, n) * 2 * rng.choice([-1, 1], n)).astype(np.float32)
    return np.choose(kind, [normal, bits, ints, big_even]).astype(np.float32)


def random_input(rng: np.random.Generator, dtype: str, shape) -> np.ndarray:
    n = int(np.prod(shape, dtype=np.int64))
    if dtype == "f32":
        return random_f32(rng, n).reshape(shape)
    lo, hi = spec.QRANGE[dtype]
    q = rng.integers(lo, hi, n, endpoint=True)
    q = np.where(rng.random(n) < 0.2, rng.choice([lo, hi, 0, -1], n), q)
    return q.astype(np.int8 if dtype == "s8" else np.int16).reshape(shape)


def same_bits(y: np.ndarray, want: np.ndarray) -> bool:
    """Bit-identical, except that any NaN matches any NaN (payloads differ by CPU)."""
    if y.shape != want.shape or y.dtype != want.dtype:
        return False
    if y.dtype == np.float32:
        nan = np.isnan(y) & np.isnan(want)
        return bool(np.all(nan | (y.view(np.uint32) == want.view(np.uint32))))
    return bool(np.array_equal(y, want))


def edge_int_layers(dtype: str, layout: str) -> list[LayerBlob]:
    """Constructed integer layers whose outputs sweep across both saturation
    limits and the floor of the shift: with mult = 2^shift (or +-MULT_MAX when
    that is too large) y = x + floor(bias / 2^shift) for bias = k*2^shift + r,
    r in {0, 1, 2^shift - 1}; a sweep over every input value then lands on
    lo - 1, lo, hi, hi + 1 and on the rounding edges."""
    lo, hi = spec.QRANGE[dtype]
    top = spec.S8_SHIFT_MAX if dtype == "s8" else spec.S16_SHIFT_MAX
    mmax = spec.S8_MULT_MAX if dtype == "s8" else 2**31 - 1
    bmax = spec.S8_BIAS_MAX - 1 if dtype == "s8" else spec.S16_BIAS_MAX
    layers = []
    for sh in sorted({0, 1, 7, 16, 23, 24, top - 1, top}):
        mults, biases = [], []
        for sign in (1, -1):
            m = sign * min(2**sh, mmax)
            for k in (0, 1, -1, hi, lo, 3 * hi, 3 * lo):
                for r in {0, 1, 2**sh - 1}:
                    b = k * 2**sh + r
                    # s8: |x*m + b| must stay below 2^31 (the spec's accumulator bound)
                    if abs(b) <= bmax and (dtype != "s8" or abs(b) + 128 * abs(m) < 2**31):
                        mults.append(m)
                        biases.append(b)
        mdt, bdt = (np.int32, np.int32) if dtype == "s8" else (np.int32, np.int64)
        layers.append(LayerBlob(dtype, layout, len(mults),
                                {"mult": np.array(mults, mdt), "bias": np.array(biases, bdt)},
                                shift=sh, in_scale=0.05, out_scale=0.1))
    return layers


def sweep_input(dtype: str, layout: str, channels: int) -> np.ndarray:
    """Every input value of the dtype (s16: every 7th plus the ends) for every
    channel, as (1, C, n) NCHW or (n, 1, C) NHWC."""
    lo, hi = spec.QRANGE[dtype]
    v = np.arange(lo, hi + 1) if dtype == "s8" else np.r_[np.arange(lo, hi + 1, 7), hi, hi - 1]
    dt = np.int8 if dtype == "s8" else np.int16
    x = np.repeat(v[None, :], channels, 0).astype(dt)
    return x[None] if layout == "nchw" else np.ascontiguousarray(x.T)[:, None, :]
