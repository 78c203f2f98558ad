"""Section 1: host kernels.  The C runtime's kernels called in-process next to
torch eval-mode batch_norm (one thread) and numpy on the same tensors.

The C side is libbnrt.so (firmware/mk/core.mk, `make lib`), the library
toolkit/runtime.py wraps; the kernels are called through ctypes with
pre-bound argument types and raw pointers, so a call costs the kernel plus
about a microsecond of ctypes dispatch.  The runtime exposes no batched
entry point, so small sizes are timed as many separate calls and that
overhead is part of the figure (stated in the notes).
"""
from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from .. import reference
from ..errors import ToolMissing
from ..format import spec
from . import firmware_info
from .report import Section, Target
from .timing import interleaved, quartiles, ratio_stats

FULL_SIZES = [1024, 2048, 4096, 16384, 102400, 1048576, 4194304]
FULL_SWEEP = (102400, [3, 16, 64, 512])
QUICK_SIZES = [1024, 102400]
QUICK_SWEEP = (4096, [3, 512])
MAIN_CHANNELS = 32
DTYPES = ("f32", "s8", "s16")


def library_path() -> Path:
    """libbnrt.so, built with `make -C firmware lib` when missing or stale
    (make decides)."""
    from ..runtime import build_library

    return build_library(firmware_info.BUILD_DIR)


class Kernels:
    """The three bn_affine kernels of libbnrt.so, pre-bound for speed."""

    def __init__(self, path: Path):
        self.path = path
        try:
            from ..runtime import Runtime
            self.runtime = Runtime(path)
            lib = self.runtime.lib
        except ImportError:
            self.runtime = None
            lib = ctypes.CDLL(str(path))
        vp, u32, u8 = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint8
        self.fn = {}
        for d in DTYPES:
            f = getattr(lib, f"bnrt_bn_affine_{d}")
            f.argtypes = [vp, vp, u32, u32, u32, u8, vp, vp, u8]
            f.restype = ctypes.c_int
            self.fn[d] = f
        raw = ctypes.CDLL(str(path))           # a second handle: functions without argtypes
        self.raw = {d: getattr(raw, f"bnrt_bn_affine_{d}") for d in DTYPES}
        for f in self.raw.values():
            f.restype = ctypes.c_int

    def bind(self, dtype, x, y, channels, spatial, layout, p0, p1, last):
        """A zero-argument callable running one kernel call on these buffers:
        the arguments are converted to ctypes objects once, and the call goes
        through a handle without argtypes (no per-call conversion: about
        0.4 us per call instead of 0.7 us on the shared VM)."""
        f = self.raw[dtype]
        vp, u32, u8 = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint8
        args = (vp(x.ctypes.data), vp(y.ctypes.data), u32(x.shape[0]), u32(channels),
                u32(spatial), u8(spec.LAYOUTS[layout]), vp(p0.ctypes.data), vp(p1.ctypes.data),
                u8(last))

        def call():
            return f(*args)
        return call


def make_case(dtype: str, layout: str, channels: int, spatial: int, rng):
    shape = (1, channels, spatial) if layout == "nchw" else (1, spatial, channels)
    if dtype == "f32":
        x = rng.standard_normal(shape).astype(np.float32)
        p0 = rng.uniform(0.5, 2, channels).astype(np.float32)
        p1 = rng.uniform(-1, 1, channels).astype(np.float32)
        return x, p0, p1, spec.LAYER_FLAG_FMA
    lo, hi = spec.QRANGE[dtype]
    x = rng.integers(lo, hi + 1, shape).astype(np.int8 if dtype == "s8" else np.int16)
    if dtype == "s8":
        return (x, rng.integers(1 << 18, 1 << 21, channels).astype(np.int32),
                rng.integers(-(1 << 24), 1 << 24, channels).astype(np.int32), 20)
    return (x, rng.integers(1 << 20, 1 << 28, channels).astype(np.int32),
            rng.integers(-(1 << 50), 1 << 50, channels).astype(np.int64), 40)


def numpy_bn(dtype, x, p0, p1, last, layout):
    """numpy on the same tensors: f32 as x*a + b (numpy has no fused
    multiply-add), integers as the int32/int64 accumulate, shift and clip."""
    ax = 1 if layout == "nchw" else 2
    shape = [1, 1, 1]
    shape[ax] = -1
    a, b = p0.reshape(shape), p1.reshape(shape)
    if dtype == "f32":
        out = np.empty_like(x)

        def run():
            np.multiply(x, a, out=out)
            np.add(out, b, out=out)
        return run
    acc_t = np.int32 if dtype == "s8" else np.int64
    lo, hi = spec.QRANGE[dtype]
    a, b = a.astype(acc_t), b.astype(acc_t)
    acc = np.empty(x.shape, acc_t)
    out = np.empty_like(x)

    def run():
        np.multiply(x, a, out=acc, dtype=acc_t)
        np.add(acc, b, out=acc)
        np.right_shift(acc, last, out=acc)
        np.clip(acc, lo, hi, out=acc)
        out[...] = acc
    return run


def torch_bn(x_f32: np.ndarray, layout: str, channels: int, rng):
    import torch
    shape = x_f32.shape   # (1, C, S) or (1, S, C)
    if layout == "nchw":
        xt = torch.from_numpy(x_f32).reshape(1, channels, shape[2], 1)
    else:
        xt = torch.from_numpy(x_f32).reshape(1, shape[1], 1, channels).permute(0, 3, 1, 2)
        assert xt.is_contiguous(memory_format=torch.channels_last)
    mean = torch.from_numpy(rng.standard_normal(channels).astype(np.float32))
    var = torch.from_numpy(rng.uniform(0.5, 2, channels).astype(np.float32))
    w = torch.from_numpy(rng.uniform(0.5, 2, channels).astype(np.float32))
    bias = torch.from_numpy(rng.uniform(-1, 1, channels).astype(np.float32))
    F = torch.nn.functional

    def run():
        with torch.inference_mode():
            return F.batch_norm(xt, mean, var, w, bias, training=False, eps=1e-5)
    return run


def runtime_calls(kern: Kernels, dtype, layout, x, p0, p1, last, spatial):
    """toolkit/runtime.py on the same tensor: Model.run (bnrt_model_run on a
    loaded .bnm: the public Python path with its checks and output allocation)
    and the bound fast path (Model.bind, into a preallocated output).
    (None, None) when the binding is not there."""
    if kern.runtime is None:
        return None, None
    from ..format.writer import LayerBlob, write_model
    keys = {"f32": ("a", "b"), "s8": ("mult", "bias"), "s16": ("mult", "bias")}[dtype]
    layer = LayerBlob(dtype=dtype, layout=layout, channels=len(p0), params=dict(zip(keys, (p0, p1))),
                      fused=True, shift=0 if dtype == "f32" else last,
                      in_scale=0.0 if dtype == "f32" else 1.0, out_scale=0.0 if dtype == "f32" else 1.0)
    model = kern.runtime.load(write_model([layer]))
    bound = model.bind(0, x.shape)
    out = np.empty_like(x)

    def run():
        return model.run(0, x, spatial)

    def bound_run():
        return bound(x, out)
    return run, bound_run


def _check(dtype, kern_call, x, y, p0, p1, last, layout):
    st = kern_call()
    if st != spec.STATUS["OK"]:
        raise RuntimeError(f"bnrt_bn_affine_{dtype} returned {spec.status_name(st)}")
    if x.size > 200_000:
        return
    if dtype == "f32":
        want = reference.bn_affine_f32(x, p0, p1, layout, fused=True)
        ok = np.array_equal(y.view(np.uint32), want.view(np.uint32))
    else:
        ok = np.array_equal(y, reference.bn_affine_int(x, p0, p1, last, dtype, layout))
    if not ok:
        raise RuntimeError(f"libbnrt bn_affine_{dtype} output differs from toolkit/reference.py")


def run(quick: bool) -> Section:
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run(quick)
    finally:
        torch.set_num_threads(threads)


ROUNDS = {True: 5, False: 31}


def _run(quick: bool) -> Section:
    sec = Section("host", "Host kernels: C runtime vs torch eval vs numpy (one thread)",
                  [("dtype", ""), ("layout", ""), ("channels", "count"), ("elements", "count"),
                   ("c_rate", "Melem/s"), ("torch_f32_rate", "Melem/s"),
                   ("numpy_rate", "Melem/s"), ("runtime_run_rate", "Melem/s"),
                   ("c_call", "us"), ("run_call", "us"), ("bound_call", "us"),
                   ("torch_call", "us"), ("c_over_torch", "x"), ("c_over_torch_q1", "x"),
                   ("c_over_torch_q3", "x"), ("c_over_numpy", "x")])
    try:
        kern = Kernels(library_path())
    except (ToolMissing, OSError) as e:
        sec.skip(str(e))
        return sec
    rounds = ROUNDS[quick]
    sec.notes += [
        f"C: {kern.path.name} (firmware/mk/core.mk: gcc -O3 -march=native), "
        "the kernel symbols called through ctypes with the arguments converted once: one "
        "kernel call per Python call, including about 0.4 us of ctypes dispatch (dominant "
        "below a few thousand elements).",
        "torch: torch.nn.functional.batch_norm(training=False) under inference_mode, "
        "torch.set_num_threads(1), float32 (torch BN has no int8/int16 path, so s8/s16 rows "
        "compare against torch f32 on the same shape); NHWC rows use channels_last tensors.",
        "run_call: the same layer as a .bnm through toolkit/runtime.py Model.run (the public "
        "Python path with its checks and output allocation); bound_call: Model.bind(0, shape) "
        "called with a preallocated output.",
        "numpy: f32 as two ufunc passes x*a then +b into a preallocated output (numpy has no "
        "fma); s8/s16 as the integer accumulate, shift, clip and narrowing copy.",
        f"Interleaved timing: per shape and dtype, {rounds} rounds; each round times every "
        "runtime once in a fresh random order (the best of 5 back-to-back loops of at least "
        "0.5 ms, shorter than a scheduler time slice, so a preemption inside one loop does not "
        "count). Times and rates "
        "are medians over the rounds; c_over_torch is the median of the per-round ratios with "
        "its lower (q1) and upper (q3) quartile; targets are judged on the worst quartile. "
        "C outputs were checked bit for bit against toolkit/reference.py (up to 200k elements).",
    ]
    min_time = 0.0005
    sizes = QUICK_SIZES if quick else FULL_SIZES
    sweep_n, sweep_c = QUICK_SWEEP if quick else FULL_SWEEP
    cases = ([(4, 4)] + [(n, MAIN_CHANNELS) for n in sizes] +
             [(sweep_n, c) for c in sweep_c if c != MAIN_CHANNELS])
    rng = np.random.default_rng(1)
    for layout in ("nchw", "nhwc"):
        for n, ch in cases:
            spatial = max(1, n // ch)
            for dtype in DTYPES:
                x, p0, p1, last = make_case(dtype, layout, ch, spatial, rng)
                y = np.empty_like(x)
                call = kern.bind(dtype, x, y, ch, spatial, layout, p0, p1, last)
                _check(dtype, call, x, y, p0, p1, last, layout)
                xf = x if dtype == "f32" else x.astype(np.float32)
                fns = {"c": call, "torch": torch_bn(xf, layout, ch, rng),
                       "numpy": numpy_bn(dtype, x, p0, p1, last, layout)}
                run_fn, bound_fn = runtime_calls(kern, dtype, layout, x, p0, p1, last, spatial)
                if run_fn is not None:
                    fns["run"], fns["bound"] = run_fn, bound_fn
                t = interleaved(fns, rounds, min_time, seed=len(sec.rows))
                med = {k: quartiles(v)[1] for k, v in t.items()}
                vs_torch = ratio_stats(t["torch"], t["c"])
                el = x.size
                sec.rows.append({"dtype": dtype, "layout": layout, "channels": ch, "elements": el,
                                 "c_rate": el / med["c"] / 1e6,
                                 "torch_f32_rate": el / med["torch"] / 1e6,
                                 "numpy_rate": el / med["numpy"] / 1e6,
                                 "runtime_run_rate": el / med["run"] / 1e6 if "run" in med else None,
                                 "c_call": med["c"] * 1e6,
                                 "run_call": med["run"] * 1e6 if "run" in med else None,
                                 "bound_call": med["bound"] * 1e6 if "bound" in med else None,
                                 "torch_call": med["torch"] * 1e6,
                                 "c_over_torch": vs_torch["median"],
                                 "c_over_torch_q1": vs_torch["q1"],
                                 "c_over_torch_q3": vs_torch["q3"],
                                 "c_over_numpy": ratio_stats(t["numpy"], t["c"])["median"],
                                 "_run_q": quartiles(t["run"]) if "run" in t else None,
                                 "_bound_q": quartiles(t["bound"]) if "bound" in t else None})
    _targets(sec, rounds)
    for r in sec.rows:
        r.pop("_run_q"), r.pop("_bound_q")
    return sec


def _worst(rows, pred):
    """The row whose lower quartile of c_over_torch is lowest, as a judged
    value with its spread; (None, None, 0) when no row matches."""
    sel = [r for r in rows if pred(r)]
    if not sel:
        return None, None, 0
    w = min(sel, key=lambda r: r["c_over_torch_q1"])
    return (w["c_over_torch_q1"], {"q1": w["c_over_torch_q1"], "median": w["c_over_torch"],
                                   "q3": w["c_over_torch_q3"]}, len(sel))


def _targets(sec: Section, rounds: int) -> None:
    rows = sec.rows
    for name, pred, limit in (
            ("f32 C vs torch eval, >= 100k elements (worst row)",
             lambda r: r["dtype"] == "f32" and r["elements"] >= 100_000, 1.0),
            ("f32 C vs torch eval, 1k-4k elements (worst row)",
             lambda r: r["dtype"] == "f32" and 1000 <= r["elements"] < 4096, 5.0),
            ("s8 C vs torch eval f32, >= 1k elements (worst row)",
             lambda r: r["dtype"] == "s8" and r["elements"] >= 1000, 2.0)):
        v, spread, k = _worst(rows, pred)
        if spread:
            spread["rounds"] = rounds
        sec.targets.append(Target(name, v, "x", ">=", limit, f"{k} rows", spread))
    for key, label in (("_run_q", "Model.run"), ("_bound_q", "bound Model.bind call")):
        small = [r for r in rows if r["elements"] == 4 and r[key]]
        if small:
            w = max(small, key=lambda r: r[key][2])
            q1, med, q3 = (v * 1e6 for v in w[key])
            sec.targets.append(Target(f"{label} per call, 4-element tensor (worst dtype/layout)",
                                      q3, "us", "<=", 5.0, f"{w['dtype']} {w['layout']}",
                                      {"q1": q1, "median": med, "q3": q3, "rounds": rounds}))
