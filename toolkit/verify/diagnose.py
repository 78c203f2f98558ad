"""Name the mistake in a user's own BatchNorm code (numpy only, no board).

Given a layer's tensors as PyTorch stores them, the inputs x and the user's
outputs y (NCHW), every entry of a catalogue of classic mistakes is computed
in float32 the ways a C programmer writes it (divide or multiply by the
inverse, fold into a*x+b or not, fmaf or not, in double) and compared with y
channel by channel.  The mistake that explains the most wrong channels is
reported, with the formula it matched and the fix (docs/verify-your-code.md).

A candidate explains a channel when every output of the channel is within
`tolerance` units in the last place of one of its variants, where the unit is
taken at the size of the largest term of the computation (|x*a|, |mean*a|,
|bias|, |y|): so rounding differences after a cancellation do not count as
errors, while a missing eps (a relative change of eps/(2 var)) does.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..reference import fma_f32
from .metrics import _ordered

MISTAKES = ("eps_missing", "eps_outside_sqrt", "var_as_std", "running_stats_ignored", "batch_stats",
            "weight_bias_swapped", "mean_var_swapped", "affine_ignored", "channel_layout",
            "precision", "unknown")
DEFAULT_TOLERANCE = 4        # ULP at the scale of the largest term
FIT_ELEMENTS = 1 << 16       # candidates are fitted on at most this many elements
TORCH_FORMULA = "a = (1/sqrt(running_var + eps)) * weight; b = fmaf(-running_mean, a, bias); y = fmaf(x, a, b)"
F32 = np.float32


@dataclass
class Layer:
    """One BN layer's tensors as PyTorch stores them (None where absent)."""
    weight: np.ndarray | None
    bias: np.ndarray | None
    running_mean: np.ndarray | None
    running_var: np.ndarray | None
    eps: float

    @classmethod
    def from_module(cls, module) -> Layer:
        def arr(t):
            return None if t is None else t.detach().cpu().numpy().astype(F32).ravel()
        return cls(arr(module.weight), arr(module.bias), arr(module.running_mean),
                   arr(module.running_var), float(module.eps))


@dataclass
class _Params:
    """Per-element effective parameters (broadcastable to (N, C, S))."""
    mean: np.ndarray
    var: np.ndarray
    weight: np.ndarray
    bias: np.ndarray
    den: str        # "sqrt_eps" | "sqrt" | "sqrt_plus_eps" | "var_eps" | "var" | "one"


def _den(p: _Params, eps: float, wide: bool) -> np.ndarray:
    t = np.float64 if wide else F32
    v, e = p.var.astype(t), t(eps)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return {"sqrt_eps": lambda: np.sqrt(v + e), "sqrt": lambda: np.sqrt(v),
                "sqrt_plus_eps": lambda: np.sqrt(v) + e, "var_eps": lambda: v + e,
                "var": lambda: v, "one": lambda: np.ones_like(v)}[p.den]().astype(t)


# C-like variants of y = (x - m) / d * w + b; each returns (name, float32 y).
def _variants(x, p: _Params, eps: float):
    m, w, b = p.mean.astype(F32), p.weight.astype(F32), p.bias.astype(F32)
    d = _den(p, eps, False)
    with np.errstate(all="ignore"):
        one = F32(1)
        inv = (one / d).astype(F32)
        a_inv = (inv * w).astype(F32)        # torch's a
        a_div = (w / d).astype(F32)
        xm = (x - m).astype(F32)
        yield "(x - mean) / d * weight + bias", ((xm / d).astype(F32) * w).astype(F32) + b
        yield "(x - mean) * (1/d) * weight + bias", ((xm * inv).astype(F32) * w).astype(F32) + b
        yield "(x - mean) * (weight/d) + bias", (xm * a_div).astype(F32) + b
        yield "fmaf((x - mean) / d, weight, bias)", fma_f32((xm / d).astype(F32), w, b)
        yield "fmaf((x - mean) * (1/d), weight, bias)", fma_f32((xm * inv).astype(F32), w, b)
        yield "fmaf(x - mean, weight/d, bias)", fma_f32(xm, a_div, b)
        yield "fmaf(x - mean, (1/d)*weight, bias)", fma_f32(xm, a_inv, b)
        for aname, a in (("(1/d)*weight", a_inv), ("weight/d", a_div)):
            b_unf = (b - (m * a).astype(F32)).astype(F32)
            b_fus = fma_f32(-m, a, b)
            yield f"x*a + (bias - mean*a), a = {aname}", (x * a).astype(F32) + b_unf
            yield f"fmaf(x, a, bias - mean*a), a = {aname}", fma_f32(x, a, b_unf)
            yield f"fmaf(x, a, fmaf(-mean, a, bias)), a = {aname}", fma_f32(x, a, b_fus)
            yield f"x*a + fmaf(-mean, a, bias), a = {aname}", (x * a).astype(F32) + b_fus
        D = _den(p, eps, True)
        wide = (x.astype(np.float64) - p.mean) / D * p.weight + p.bias.astype(np.float64)
        yield "in double: (x - mean) / d * weight + bias", wide.astype(F32)


def _scale(x, p: _Params, eps: float, y) -> np.ndarray:
    """Size of the largest term, for the unit in the last place of the tolerance."""
    with np.errstate(all="ignore"):
        a = np.abs(p.weight.astype(np.float64) / _den(p, eps, True))
        s = np.maximum(np.abs(x.astype(np.float64)) * a, np.abs(p.mean.astype(np.float64)) * a)
        s = np.maximum(s, np.abs(p.bias.astype(np.float64)))
        s = np.maximum(s, np.abs(np.asarray(y, np.float64)))
    return np.where(np.isfinite(s), s, 0.0).astype(F32)


def _errors(got, cand, scale) -> np.ndarray:
    """|got - cand| in units of spacing(scale); NaN on both sides is a match."""
    with np.errstate(all="ignore"):
        d = np.abs(got.astype(np.float64) - cand.astype(np.float64))
        e = d / np.spacing(np.maximum(scale, np.finfo(F32).tiny)).astype(np.float64)
    both_nan = np.isnan(got) & np.isnan(cand)
    same_inf = np.isinf(got) & (got == cand)
    e = np.where(both_nan | same_inf, 0.0, e)
    return np.where(np.isnan(e), np.inf, e)


def _ulps(got, cand) -> np.ndarray:
    g, c = _ordered(got), _ordered(cand)
    u = np.abs(g - c).astype(np.float64)
    nan = np.isnan(got) | np.isnan(cand)
    return np.where(nan, np.where(np.isnan(got) & np.isnan(cand), 0.0, np.inf), u)


def _per_channel_max(e: np.ndarray) -> np.ndarray:
    return e.max(axis=(0, 2), initial=0.0) if e.size else np.zeros(e.shape[1])


def _batch_stats(x: np.ndarray, calls, unbiased: bool):
    """Per-element (N, C, 1) float32 mean and variance of each call's batch."""
    n, c, s = x.shape
    bm, bv = np.zeros((n, c, 1)), np.zeros((n, c, 1))
    for lo, hi in calls:
        part = x[lo:hi].astype(np.float64)
        cnt = part.shape[0] * s
        if cnt == 0 or (unbiased and cnt < 2):
            continue
        mu = part.mean(axis=(0, 2), keepdims=True)
        bm[lo:hi] = mu
        bv[lo:hi] = ((part - mu) ** 2).sum(axis=(0, 2), keepdims=True) / (cnt - 1 if unbiased else cnt)
    return bm.astype(F32), bv.astype(F32)


def _candidates(layer: Layer, x: np.ndarray, calls):
    """(id, formula, what; fix, _Params, tolerance factor) for every applicable mistake."""
    n, c, s = x.shape
    ch = lambda v: np.asarray(v, F32).reshape(1, c, 1)
    ones, zeros = np.ones(c, F32), np.zeros(c, F32)
    w = layer.weight if layer.weight is not None else ones
    b = layer.bias if layer.bias is not None else zeros
    affine = layer.weight is not None or layer.bias is not None
    eps, running = layer.eps, layer.running_mean is not None
    stats = {u: _batch_stats(x, calls, u) for u in (False, True)}
    if running:
        m, v = ch(layer.running_mean), ch(layer.running_var)
    else:       # no running statistics: torch eval normalizes with the batch's own
        m, v = stats[False]
    std = "(x - running_mean) / sqrt(running_var + eps) * weight + bias"
    yield ("correct", std, "", _Params(ch(m), ch(v), ch(w), ch(b), "sqrt_eps"), 1)
    yield ("eps_missing", "(x - running_mean) / sqrt(running_var) * weight + bias",
           f"eps ({eps:g}) is missing; add it inside the square root: sqrt(running_var + eps)",
           _Params(ch(m), ch(v), ch(w), ch(b), "sqrt"), 1)
    yield ("eps_outside_sqrt", "(x - running_mean) / (sqrt(running_var) + eps) * weight + bias",
           "eps is added outside the square root; write sqrt(running_var + eps)",
           _Params(ch(m), ch(v), ch(w), ch(b), "sqrt_plus_eps"), 1)
    for den, text in (("var_eps", "(running_var + eps)"), ("var", "running_var")):
        yield ("var_as_std", f"(x - running_mean) / {text} * weight + bias",
               ("the variance is used as a standard deviation (no square root); "
                "divide by sqrt(running_var + eps)"), _Params(ch(m), ch(v), ch(w), ch(b), den), 1)
    yield ("running_stats_ignored", "x * weight + bias",
           ("running_mean and running_var are not applied (they are buffers, not parameters: "
            "model.parameters() does not list them); subtract running_mean and divide by "
            "sqrt(running_var + eps) before weight and bias"),
           _Params(ch(zeros), ch(ones), ch(w), ch(b), "one"), 1)
    for unbiased in (False, True) if running else ():
        bm, bv = stats[unbiased]
        kind = "unbiased" if unbiased else "biased"
        yield ("batch_stats", f"(x - batch_mean) / sqrt(batch_var + eps) * weight + bias ({kind} batch variance)",
               ("the layer normalizes with the statistics of the batch it is given (train-mode BN, as when "
                "the model was never put in model.eval()); use running_mean and running_var"),
               _Params(bm, bv, ch(w), ch(b), "sqrt_eps"), 2 + 2 * n * s)
    if affine:
        yield ("weight_bias_swapped", "(x - running_mean) / sqrt(running_var + eps) * bias + weight",
               "weight and bias are swapped; multiply by weight, then add bias",
               _Params(ch(m), ch(v), ch(b), ch(w), "sqrt_eps"), 1)
        yield ("affine_ignored", "(x - running_mean) / sqrt(running_var + eps)",
               "weight and bias are not applied; multiply by weight and add bias after normalizing",
               _Params(ch(m), ch(v), ch(ones), ch(zeros), "sqrt_eps"), 1)
    yield ("mean_var_swapped", "(x - running_var) / sqrt(running_mean + eps) * weight + bias",
           "running_mean and running_var are swapped; subtract running_mean, divide by sqrt(running_var + eps)",
           _Params(ch(v), ch(m), ch(w), ch(b), "sqrt_eps"), 1)
    flat = np.arange(n * c * s).reshape(n, c, s)
    for idx, text, fix in (
            (flat % c, "i % channels (NHWC indexing)", "the data is NCHW: channel = (i / spatial) % channels"),
            (flat // max(1, n * s), "i / (batch*spatial) (CNHW indexing)",
             "the data is NCHW: channel = (i / spatial) % channels; batch is the outermost axis")):
        if c > 1 and running and not np.array_equal(idx, flat // s % c):   # not a mistake here
            m1, v1 = layer.running_mean, layer.running_var
            yield ("channel_layout", f"{std} with the parameters of channel {text}",
                   f"element i takes the parameters of channel {text}; {fix}",
                   _Params(m1[idx], v1[idx], w[idx], b[idx], "sqrt_eps"), 1)


def _fit(x, y, layer, params, tol_factor, tolerance):
    """(per-channel best scaled error, per-channel ULP of that variant, per-channel variant name)."""
    scale = _scale(x, params, layer.eps, y)
    best_e = best_u = None
    names = np.empty(x.shape[1], dtype=object)
    for name, cand in _variants(x, params, layer.eps):
        cand = np.broadcast_to(cand, x.shape)
        e = _per_channel_max(_errors(y, cand, scale)) / tol_factor
        u = _per_channel_max(_ulps(y, cand))
        if best_e is None:
            best_e, best_u, names[:] = e, u, name
            continue
        better = (e < best_e) | ((e == best_e) & (u < best_u))
        best_e, best_u = np.where(better, e, best_e), np.where(better, u, best_u)
        names[better] = name
    return best_e, best_u, names


def term_ulp(layer: Layer, x: np.ndarray, y: np.ndarray, y_ref: np.ndarray) -> float:
    """Largest |y - y_ref| in units in the last place of the computation's
    largest term (|x*a|, |mean*a|, |bias|, |y|) rather than of y: the measure
    in which a correct but differently rounded kernel is 1 or 2 ULP away even
    where y is tiny after a cancellation."""
    x = np.asarray(x, F32)
    n, c = x.shape[:2]
    x = x.reshape(n, c, -1)
    params = next(p for mid, _f, _w, p, _t in _candidates(layer, x, [(0, n)]) if mid == "correct")
    scale = _scale(x, params, layer.eps, np.asarray(y_ref, F32).reshape(x.shape))
    e = _errors(np.asarray(y, F32).reshape(x.shape), np.asarray(y_ref, F32).reshape(x.shape), scale)
    return float(e.max(initial=0.0))


def _ulp_text(u: float) -> str:
    return "inf" if not np.isfinite(u) else str(int(u))


def _subset(shape) -> tuple:
    """The first samples (and spatial positions) of a large layer: candidates
    are fitted there, statistics and channel indices come from the whole."""
    n, c, s = shape
    if n * c * s <= FIT_ELEMENTS:
        return (slice(None),) * 3
    keep_s = max(1, min(s, FIT_ELEMENTS // c))
    keep_n = max(1, min(n, FIT_ELEMENTS // (c * keep_s)))
    return (slice(0, keep_n), slice(None), slice(0, keep_s))


def diagnose(layer: Layer, x: np.ndarray, y: np.ndarray, y_ref: np.ndarray, *,
             calls=None, tolerance: float = DEFAULT_TOLERANCE) -> dict | None:
    """The mistake that explains y (the user's outputs for x, NCHW) where it
    differs from y_ref (torch eval).  None when y equals y_ref bit for bit.
    `calls`: the (first, stop) sample ranges the user's function was called
    on (batch statistics depend on them); default one call on all samples.
    On layers of more than FIT_ELEMENTS elements the candidates are fitted on
    the first samples and spatial positions (the error map covers all)."""
    x = np.asarray(x, F32)
    n, c = x.shape[:2]
    x = x.reshape(n, c, -1)
    y = np.asarray(y, F32).reshape(x.shape)
    y_ref = np.asarray(y_ref, F32).reshape(x.shape)
    ref_ulp = _per_channel_max(_ulps(y, y_ref))
    bad = np.flatnonzero(ref_ulp > 0)
    if bad.size == 0:
        return None
    calls = list(calls) if calls else [(0, n)]
    found = {}     # id -> (channels mask, ulp per channel, formula, what, variant per channel)
    sub = _subset(x.shape)
    xs, ys = x[sub], y[sub]
    for mid, formula, what, params, factor in _candidates(layer, x, calls):
        params = _Params(*(np.asarray(a)[sub] for a in (params.mean, params.var, params.weight, params.bias)),
                         params.den)
        e, u, names = _fit(xs, ys, layer, params, factor, tolerance)
        ok = e <= tolerance
        key = "precision" if mid == "correct" else mid
        prev = found.get(key)
        if prev is None or ok[bad].sum() > prev[0][bad].sum():
            found[key] = (ok, u, formula, what, names)
    bad_mask = np.zeros(c, bool)
    bad_mask[bad] = True
    best, score = None, None
    for key, (ok, u, *_rest) in found.items():
        hit = ok & bad_mask
        exact = int(np.sum(hit & (u == 0)))
        sc = (int(hit.sum()), exact, -MISTAKES.index(key))
        if hit.any() and (score is None or sc > score):
            best, score = key, sc
    with np.errstate(invalid="ignore"):
        abs_err = _per_channel_max(np.nan_to_num(np.abs(y.astype(np.float64) - y_ref), nan=np.inf))
    result = {"channel_max_ulp": [_ulp_text(v) if not np.isfinite(v) else int(v) for v in ref_ulp],
              "channel_max_abs_err": [float(v) for v in abs_err]}
    if best is None:
        result.update(mistake="unknown", channels=[int(i) for i in bad],
                      explanation=(f"{bad.size} of {c} channels differ from torch eval (up to "
                                   f"{float(abs_err.max()):.3g} absolute) and no known mistake explains them; "
                                   "channel_max_abs_err and channel_max_ulp show where"))
        return result
    ok, u, formula, what, names = found[best]
    hit = np.flatnonzero(ok & bad_mask)
    worst = float(u[hit].max())
    variant = names[hit[int(np.argmax(u[hit]))]]
    if best == "precision":
        tu = term_ulp(layer, x, y, y_ref)
        text = (f"within {tu:.3g} ULP of torch eval at the scale of the largest term ({_ulp_text(ref_ulp[hit].max())} "
                f"ULP of y, {float(abs_err[hit].max()):.3g} absolute): the formula is right, the rounding differs "
                f"(equal to {_ulp_text(worst)} ULP to `{variant}`, d = sqrt(running_var + eps)); torch computes "
                f"{TORCH_FORMULA}: write it that way to be bit-exact, or allow it with --max-ulp {int(np.ceil(tu))}")
    else:
        how = "equal to 0 ULP to" if worst == 0 else f"within {_ulp_text(worst)} ULP of"
        text = f"{how} {formula}: {what}"
    result.update(mistake=best, explanation=text, channels=[int(i) for i in hit], formula=formula,
                  variant=variant, max_ulp=int(worst) if np.isfinite(worst) else None)
    rest = np.setdiff1d(bad, hit)
    if rest.size:
        result["unexplained_channels"] = [int(i) for i in rest]
    return result


def diagnose_s8(layer: Layer, x_dq: np.ndarray, q: np.ndarray, q_ref: np.ndarray, out_quant, *,
                calls=None, tolerance: int = 1) -> dict | None:
    """The s8 signature: q (the user's int8 outputs for the dequantized inputs
    x_dq, NCHW) against q_ref (the exact result quantized).  Each candidate is
    computed exactly and quantized like the contract (out_quant = (out_scale,
    out_zero_point)); it explains a channel within `tolerance` LSB.  A mistake
    smaller than the quantization step cannot show, and the closest candidate
    wins on a tie (the one matching more channels exactly)."""
    from ..reference import quantize

    x = np.asarray(x_dq, F32)
    n, c = x.shape[:2]
    x = x.reshape(n, c, -1)
    q = np.asarray(q, np.int64).reshape(x.shape)
    ref_lsb = np.abs(q - np.asarray(q_ref, np.int64).reshape(x.shape)).max(axis=(0, 2), initial=0)
    bad = np.flatnonzero(ref_lsb > 0)
    if bad.size == 0:
        return None
    sub = _subset(x.shape)
    xs, qs = x[sub].astype(np.float64), q[sub]
    found = {}
    for mid, formula, what, p, _factor in _candidates(layer, x, list(calls) if calls else [(0, n)]):
        p = _Params(*(np.asarray(a)[sub] for a in (p.mean, p.var, p.weight, p.bias)), p.den)
        with np.errstate(all="ignore"):
            y = (xs - p.mean) / _den(p, layer.eps, True) * p.weight + p.bias.astype(np.float64)
        e = np.abs(qs - quantize(y, out_quant[0], out_quant[1], "s8").astype(np.int64)).max(axis=(0, 2), initial=0)
        key = "precision" if mid == "correct" else mid
        if key not in found or (e[bad] <= tolerance).sum() > (found[key][0][bad] <= tolerance).sum():
            found[key] = (e, formula, what)
    best, score = None, None
    for key, (e, *_rest) in found.items():
        sc = (int((e[bad] <= tolerance).sum()), int((e[bad] == 0).sum()), -MISTAKES.index(key))
        if sc[0] and (score is None or sc > score):
            best, score = key, sc
    result = {"channel_max_lsb": [int(v) for v in ref_lsb]}
    if best is None:
        result.update(mistake="unknown", channels=[int(i) for i in bad],
                      explanation=(f"{bad.size} of {c} channels differ from the exact result (up to "
                                   f"{int(ref_lsb.max())} LSB) and no known mistake explains them; "
                                   "channel_max_lsb shows where"))
        return result
    e, formula, what = found[best]
    hit = bad[e[bad] <= tolerance]
    worst = int(e[hit].max())
    if best == "precision":
        text = (f"within {int(ref_lsb[hit].max())} LSB of the exact result: the formula is right, the rounding "
                "differs (the outputs are round(y / out_scale) + out_zero_point of the exact y); "
                "allow it with --max-lsb-err")
    else:
        text = f"{'equal to' if worst == 0 else f'within {worst} LSB of'} {formula}, quantized: {what}"
    result.update(mistake=best, explanation=text, channels=[int(i) for i in hit], formula=formula, max_lsb=worst)
    rest = np.setdiff1d(bad, hit)
    if rest.size:
        result["unexplained_channels"] = [int(i) for i in rest]
    return result
