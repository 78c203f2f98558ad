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
