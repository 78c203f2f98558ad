"""Integer parameters of a folded BN layer (numpy only; no torch here).

Real arithmetic of one layer (x = s_in*(q - zp_in), y = a*x + b, q_out =
round(y/s_out) + zp_out) gives, per channel, in float64:
    q_out = round(M_c*q + B_c),  M_c = a_c*s_in/s_out,
    B_c = (b_c - a_c*s_in*zp_in)/s_out + zp_out
The runtime computes acc = q*mult[c] + bias[c]; q_out = sat(acc >> shift) with
    mult[c] = round(M_c * 2^shift)
    bias[c] = round(B_c * 2^shift) + 2^(shift-1)     (round-half-up folded in)
and one shift per layer, chosen as large as the spec limits allow
(spec.S8_MULT_MAX/S8_BIAS_MAX/S8_SHIFT_MAX, S16_*; s16 mult is any int32).

Saturating channels.  Let Q = 2^(bits-1) bound |q| (128 for s8, 32768 for
s16) and [lo, hi] the output range.  For every q, q*mult >= -|mult|*Q, so if
bias >= U := hi*2^shift + |mult|*Q then acc >= hi*2^shift and acc >> shift >=
hi: the output is hi for every input, whatever bias is beyond U.  Replacing
such a bias by U therefore changes no output at all.  Likewise a bias <= L :=
lo*2^shift - |mult|*Q gives acc <= lo*2^shift and the output lo for every q,
so it can be replaced by L.  We clamp bias to [L, U] only when it would not fit
the spec's bias limit otherwise (test_quantize checks the outputs unchanged).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import QuantizationError
from ..format import spec

INT32_MAX = (1 << 31) - 1
# dtype -> (max |mult|, max |bias|, max shift, Q = max |q|)
LIMITS = {
    "s8": (spec.S8_MULT_MAX, spec.S8_BIAS_MAX, spec.S8_SHIFT_MAX, -spec.QRANGE["s8"][0]),
    "s16": (INT32_MAX, spec.S16_BIAS_MAX, spec.S16_SHIFT_MAX, -spec.QRANGE["s16"][0]),
}
BIAS_DTYPE = {"s8": np.int32, "s16": np.int64}


@dataclass
class QuantParams:
    dtype: str
    in_scale: float
    in_zero_point: int
    out_scale: float
    out_zero_point: int
    shift: int
    mult: np.ndarray            # int32[C]
    bias: np.ndarray            # int32[C] (s8) or int64[C] (s16)
    clamped: list[int] = field(default_factory=list)   # channels whose bias was clamped

    def summary(self) -> dict:
        return {"in_scale": self.in_scale, "in_zero_point": self.in_zero_point,
                "out_scale": self.out_scale, "out_zero_point": self.out_zero_point,
                "shift": self.shift, "clamped_channels": list(self.clamped)}


def activation_qparams(lo: float, hi: float, dtype: str) -> tuple[float, int]:
    """(scale, zero_point) covering [lo, hi] (and 0); the scale is a float32 value.

    s8: asymmetric, zero point in [-128, 127]; s16: symmetric, zero point 0.
    """
    lo, hi = float(lo), float(hi)
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo > hi:
        raise ValueError(f"invalid range [{lo}, {hi}]")
    qlo, qhi = spec.QRANGE[dtype]
    if dtype == "s16":
        m = max(abs(lo), abs(hi))
        scale = float(np.float32(m / qhi)) if m > 0 else 1.0
        return (scale if scale > 0 else float(np.finfo(np.float32).tiny)), 0
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = float(np.float32((hi - lo) / (qhi - qlo))) if hi > lo else 1.0
    if scale <= 0:
        scale = float(np.finfo(np.float32).tiny)
    zp = int(np.clip(np.floor(qlo - lo / scale + 0.5), qlo, qhi))
    return scale, zp


def _round(x: np.ndarray) -> np.ndarray:
    return np.floor(x + 0.5)


def _try_shift(M, B, shift, dtype):
    """(mult int64[C], bias list|ndarray, clamped) at this shift, or the first
    offending channel index as an int."""
    mult_max, bias_max, _, Q = LIMITS[dtype]
    lo, hi = spec.QRANGE[dtype]
    mult_f = _round(M * 2.0 ** shift)
    over = np.flatnonzero(np.abs(mult_f) > mult_max)
    if over.size:
        return int(over[0])
    mult = mult_f.astype(np.int64)
    half = (1 << (shift - 1)) if shift else 0
    bias_f = _round(B * 2.0 ** shift) + half
    big = np.flatnonzero(np.abs(bias_f) > bias_max)
    bias = np.zeros(M.shape, np.int64)
    ok = np.abs(bias_f) <= bias_max
    bias[ok] = bias_f[ok].astype(np.int64)
    clamped = []
    for c in big:                     # exact integer bounds (Python ints)
        m = abs(int(mult[c]))
        if bias_f[c] > 0:
            bound = hi * (1 << shift) + m * Q
        else:
            bound = lo * (1 << shift) - m * Q
        if abs(bound) > bias_max:
            return int(c)
        bias[c] = bound
        clamped.append(int(c))
    return mult, bias, clamped


def integer_params(M: np.ndarray, B: np.ndarray, dtype: str, name: str = "") -> tuple:
    """(mult int32[C], bias, shift, clamped channels) with the largest valid shift."""
    M = np.asarray(M, np.float64)
    B = np.asarray(B, np.float64)
    where = f"layer {name!r}" if name else "layer"
    bad = np.flatnonzero(~(np.isfinite(M) & np.isfinite(B)))
    if bad.size:
        c = int(bad[0])
        raise QuantizationError(f"{where}, channel {c}: folded multiplier {M[c]} or offset {B[c]} is not finite",
                                "check the layer's parameters and the activation scales")
    shift_max = LIMITS[dtype][2]
    first_bad = 0
    for shift in range(shift_max, -1, -1):
        got = _try_shift(M, B, shift, dtype)
        if isinstance(got, int):
            first_bad = got
            continue
        mult, bias, clamped = got
        return mult.astype(np.int32), bias.astype(BIAS_DTYPE[dtype]), shift, clamped
    c = first_bad
    raise QuantizationError(
        f"{where}, channel {c}: {dtype} multiplier a*s_in/s_out = {M[c]:.6g} (offset {B[c]:.6g}) "
        f"does not fit the {dtype} fixed-point limits",
        "use a wider output range (--ranges) or calibration data, or export this model as s16/f32")


def quantize_layer(a, b, dtype: str, in_q: tuple[float, int], out_q: tuple[float, int],
                   name: str = "") -> QuantParams:
    """Integer parameters of a folded layer for activations (scale, zero_point) in/out."""
    if dtype not in LIMITS:
        raise ValueError(f"not an integer dtype: {dtype!r}")
    s_in, zp_in = float(np.float32(in_q[0])), int(in_q[1])
    s_out, zp_out = float(np.float32(out_q[0])), int(out_q[1])
    a = np.asarray(a, np.float32).astype(np.float64)
    b = np.asarray(b, np.float32).astype(np.float64)
    M = a * s_in / s_out
    B = (b - a * s_in * zp_in) / s_out + zp_out
    mult, bias, shift, clamped = integer_params(M, B, dtype, name)
    return QuantParams(dtype, s_in, zp_in, s_out, zp_out, shift, mult, bias, clamped)
