"""Error metrics between a device output and a reference (numpy only)."""
from __future__ import annotations

import math

import numpy as np

LSB_BINS = 4      # histogram bins 0, 1, 2, 3 and ">= 4" LSB


def float_metrics(got: np.ndarray, ref: np.ndarray) -> dict:
    """max_abs_err, rmse, mae, cosine, snr_db of `got` against `ref` (float64 math)."""
    g = np.asarray(got, np.float64).ravel()
    r = np.asarray(ref, np.float64).ravel()
    if g.size == 0:
        return {"max_abs_err": 0.0, "rmse": 0.0, "mae": 0.0, "cosine": 1.0, "snr_db": math.inf}
    finite = np.isfinite(g) & np.isfinite(r)
    same_nonfinite = ~finite & ((g == r) | (np.isnan(g) & np.isnan(r)))
    if not np.all(finite | same_nonfinite):
        return {"max_abs_err": math.inf, "rmse": math.inf, "mae": math.inf, "cosine": math.nan,
                "snr_db": -math.inf}
    g, r = g[finite], r[finite]
    d = g - r
    noise = float(np.sum(d * d))
    signal = float(np.sum(r * r))
    norm = math.sqrt(float(np.sum(g * g)) * signal)
    return {
        "max_abs_err": float(np.max(np.abs(d))) if d.size else 0.0,
        "rmse": math.sqrt(noise / d.size) if d.size else 0.0,
        "mae": float(np.mean(np.abs(d))) if d.size else 0.0,
        "cosine": float(np.sum(g * r)) / norm if norm > 0 else (1.0 if noise == 0 else 0.0),
        "snr_db": 10 * math.log10(signal / noise) if noise > 0 else math.inf,
    }


def _ordered(x: np.ndarray) -> np.ndarray:
    """float32 bits as integers that are monotonic in the float value."""
    i = np.asarray(x, np.float32).view(np.int32).astype(np.int64)
    return np.where(i < 0, -(i & 0x7FFFFFFF), i)


def same_values(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Per element: equal float32 bits, or both NaN (the NaN contract of
    docs/format.md: NaN in gives NaN out, sign and payload not promised)."""
    g = np.ascontiguousarray(got, np.float32)
    r = np.ascontiguousarray(ref, np.float32)
    return (g.view(np.uint32) == r.view(np.uint32)) | (np.isnan(g) & np.isnan(r))


def same(got: np.ndarray, ref: np.ndarray) -> bool:
    """Every element the same (see same_values)."""
    g, r = np.asarray(got), np.asarray(ref)
    return g.shape == r.shape and bool(np.all(same_values(g, r)))


def nan_mismatch(got: np.ndarray, ref: np.ndarray) -> int:
    """Elements that are NaN on one side only."""
    return int(np.count_nonzero(np.isnan(np.asarray(got, np.float32)) != np.isnan(np.asarray(ref, np.float32))))


def max_ulp(got: np.ndarray, ref: np.ndarray) -> int:
    """Largest distance in float32 units in the last place over the elements
    that are NaN on neither side (count the others with nan_mismatch)."""
    g, r = np.asarray(got, np.float32).ravel(), np.asarray(ref, np.float32).ravel()
    keep = ~(np.isnan(g) | np.isnan(r))
    return int(np.max(np.abs(_ordered(g[keep]) - _ordered(r[keep])), initial=0))


def lsb_errors(got: np.ndarray, ref_q: np.ndarray) -> tuple[int, list[int]]:
    """(max |got - ref_q|, histogram over 0 .. LSB_BINS-1 and >= LSB_BINS)."""
    d = np.abs(np.asarray(got, np.int64).ravel() - np.asarray(ref_q, np.int64).ravel())
    hist = np.bincount(np.minimum(d, LSB_BINS), minlength=LSB_BINS + 1)
    return int(d.max(initial=0)), [int(v) for v in hist]
