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
        return LayerBlob("f32", layout, channels, {"a": finite_f32(rng, channels),
                                                    "b": finite_f32(rng, channels)}, fused=fused)
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


def finite_f32(rng: np.random.Generator, n: int) -> np.ndarray:
    """random_f32 without NaN and infinity (the parsers refuse them as parameters)."""
    v = random_f32(rng, n)
    return np.where(np.isfinite(v), v, np.float32(0.5)).astype(np.float32)


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


def fma_hard_cases():
    """Triples where an fmaf goes wrong first: ties and near-ties, every
    exponent gap between x*a and b (the window's shift limits at 14, 38 and
    64 bits), cancellation down to an exact zero, rounding carries into the
    exponent, overflow to inf, results at the smallest normal and below,
    zeros, subnormals, inf and NaN."""
    f = np.float32
    xs, as_, bs = [], [], []

    def add(x, a, b):
        xs.append(x), as_.append(a), bs.append(b)
    one_ulp = 2.0**-23
    for k in range(-30, 31):
        for s in (1.0, -1.0):
            x, a = (1 + 2.0**-12) * 2.0**k, s * (1 + 2.0**-12)    # x*a = 1 + 2^-11 + 2^-24: a tie
            p = x * a
            for b in (0.0, 2.0**-80, -2.0**-80, 2.0**-60, -2.0**-45, 2.0**-48, -2.0**-49):
                add(x, a, b * 2.0**k)
            if k >= 20:                                            # b 100+ bits below: sticky only
                for b in (2.0**-140, -2.0**-140, 2.0**-105, -2.0**-120):
                    add(x, a, b * 2.0**k)
            for g in range(-70, 71, 3):                            # every exponent gap
                for sb in (1.0, -1.0):
                    add(x, a, sb * abs(p) * 2.0**g * (1 + 3 * one_ulp))
            add(x, a, -float(f(p)))                                # p - round(p): tiny, exact
            add(x, a, -float(f(p)) * (1 + one_ulp))
            add(x, a, -float(f(p)) * (1 - one_ulp / 2))
    for m in (0xFFFFFF, 0xFFFFFE, 0x800001, 0xC00000):             # carries, odd/even ends
        for k in (-126, -100, 0, 100, 126):
            x = f(m * 2.0**-23 * 2.0**(k // 2))
            a = f(2.0**(k - k // 2))
            for b in (2.0**(k - 25), -2.0**(k - 25), 2.0**(k - 24), 2.0**(k - 26) * 3, 0.0):
                add(float(x), float(a), b)
    big = float(np.finfo(np.float32).max)
    tiny = float(np.finfo(np.float32).tiny)
    sub = float(np.finfo(np.float32).smallest_subnormal)
    for x, a, b in [(big, 1.0, big * 2.0**-24), (big, 1.0, big * 2.0**-25), (big, 1.0, -big),
                    (2.0**127, 2.0, -big), (2.0**127, 1.5, 2.0**104), (big, -1.0, -2.0**103),
                    (tiny, 1.0, tiny), (tiny, 0.5, tiny * 0.25), (tiny, 1.0, -tiny * 0.5),
                    (tiny * 3, 0.5, -tiny), (2.0**-70, 2.0**-70, 2.0**-130), (2.0**-70, 2.0**-60, 0.0),
                    (3.0, 0.5, -1.5), (-3.0, 0.5, 1.5), (3.0, -0.5, 1.5), (0.0, 2.0, 1.0),
                    (-0.0, 2.0, 1.0), (0.0, 2.0, 0.0), (0.0, -2.0, 0.0), (-0.0, 2.0, -0.0),
                    (1.0, 2.0, -0.0), (1.0, 2.0, 0.0), (sub, 2.0, 1.0), (sub, 2.0**100, 0.0),
                    (1.0, sub, 1.0), (1.0, 2.0, sub), (1.5, tiny, -tiny), (np.inf, 1.0, 1.0),
                    (1.0, np.inf, -np.inf), (np.nan, 1.0, 1.0), (1.0, 1.0, np.nan),
                    (0.0, np.inf, 1.0), (1.0, 1.0, np.inf), (big, 2.0, -np.inf)]:
        for s in (1.0, -1.0):
            add(s * x, a, s * b)
    return (np.array(xs, np.float32), np.array(as_, np.float32), np.array(bs, np.float32))
