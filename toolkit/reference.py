"""Pure-numpy reference of the runtime's exact arithmetic (no torch here).

The C kernels, the MicroPython module and the device must match these
functions bit for bit.  Tensors are numpy arrays in the layer's layout; the
channel axis is 1 for "nchw" (N, C, *spatial) and -1 for "nhwc" (N, *spatial, C).
"""
from __future__ import annotations

import numpy as np

from .format import spec


def channel_axis(layout: str, ndim: int) -> int:
    if layout not in spec.LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}")
    if ndim < 2:
        raise ValueError("a BN input has at least two dimensions (N, C)")
    return 1 if layout == "nchw" else ndim - 1


def _per_channel(p: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    shape = [1] * ndim
    shape[axis] = -1
    return p.reshape(shape)


def fma_f32(x, a, b) -> np.ndarray:
    """Correctly rounded float32 fma(x, a, b) for numpy arrays (broadcasting).

    x*a is exact in float64 (24+24 bits); TwoSum gives p + b = s + e exactly,
    and rounding s to float32 is the correct rounding of p + b unless s is a
    float32 rounding midpoint, where the sign of e decides.
    """
    x = np.asarray(x, np.float32)
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        p = x.astype(np.float64) * a.astype(np.float64)
        c = np.broadcast_to(b.astype(np.float64), p.shape)
        s = p + c
        bp = s - p
        e = (p - (s - bp)) + (c - bp)
        r = s.astype(np.float32)
        # Is s exactly halfway between two float32 values?  Then it was a tie,
        # and e (the part of p+b that s lost) tells which way the truth lies.
        r64 = r.astype(np.float64)
        other = np.where(s > r64, np.nextafter(r, np.float32(np.inf)),
                         np.nextafter(r, np.float32(-np.inf))).astype(np.float64)
        mid = np.isfinite(s) & (s != r64) & ((r64 + other) * 0.5 == s) & (e != 0)
        # the true value is beyond s (away from r) when e has the sign of s - r
        toward_other = mid & (np.sign(e) == np.sign(s - r64))
        r = np.where(toward_other, other.astype(np.float32), r)
        # s itself exactly representable as float32 but e != 0 cannot change
        # the rounding (|e| < half an ulp of float64).
    return r.astype(np.float32)


def bn_affine_f32(x: np.ndarray, a: np.ndarray, b: np.ndarray, layout: str,
                  fused: bool = True) -> np.ndarray:
    """y = fma(x, a[c], b[c]) when fused, else (x*a[c]) + b[c] in float32."""
    x = np.asarray(x, np.float32)
    ax = channel_axis(layout, x.ndim)
    a_ = _per_channel(np.asarray(a, np.float32), ax, x.ndim)
    b_ = _per_channel(np.asarray(b, np.float32), ax, x.ndim)
    if fused:
        return fma_f32(x, a_, b_)
    with np.errstate(over="ignore", invalid="ignore"):
        return (x * a_).astype(np.float32) + b_


def bn_affine_int(q: np.ndarray, mult: np.ndarray, bias: np.ndarray, shift: int,
                  dtype: str, layout: str) -> np.ndarray:
    """acc = q*mult[c] + bias[c]; y = saturate(acc >> shift) (floor shift)."""
    lo, hi = spec.QRANGE[dtype]
    q = np.asarray(q)
    ax = channel_axis(layout, q.ndim)
    m = _per_channel(np.asarray(mult, np.int64), ax, q.ndim)
    b_ = _per_channel(np.asarray(bias, np.int64), ax, q.ndim)
    # Within the parser's limits (spec.S8_*/S16_*) the accumulator fits:
    # s8 in int32, s16 in int64 (|q*mult| <= 2^46, |bias| <= 2^62).
    acc = q.astype(np.int64) * m + b_
    if dtype == "s8":
        assert acc.size == 0 or np.abs(acc).max() < 2**31, "s8 accumulator left int32"
    out = acc >> shift
    return np.clip(out, lo, hi).astype(np.int8 if dtype == "s8" else np.int16)


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype: str) -> np.ndarray:
    """q = saturate(floor(x / scale + 0.5) + zero_point), in float64."""
    lo, hi = spec.QRANGE[dtype]
    with np.errstate(invalid="ignore"):
        q = np.floor(np.asarray(x, np.float64) / float(scale) + 0.5) + zero_point
    q = np.nan_to_num(q, nan=0.0, posinf=hi, neginf=lo)
    return np.clip(q, lo, hi).astype(np.int8 if dtype == "s8" else np.int16)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """x = scale * (q - zero_point), as float32 (what the model sees)."""
    return (np.float32(scale) * (np.asarray(q, np.float32) - np.float32(zero_point))).astype(np.float32)
