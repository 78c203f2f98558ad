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
from .timing import best_time

FULL_SIZES = [1024, 2048, 4096, 16384, 102400, 1048576, 4194304]
FULL_SWEEP = (102400, [3, 16, 64, 512])
QUICK_SIZES = [1024, 102400]
QUICK_SWEEP = (4096, [3, 512])
MAIN_CHANNELS = 32
DTYPES = ("f32", "s8", "s16")


def library_path() -> Path:
    """libbnrt.so, built with `make -C firmware lib` when missing or stale
    (make decides), through toolkit/runtime.py when it is there."""
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

    def bind(self, dtype, x, y, channels, spatial, layout, p0, p1, last):
        """A zero-argument callable running one kernel call on these buffers."""
        f = self.fn[dtype]
        args = (x.ctypes.data, y.ctypes.data, x.shape[0], channels, spatial,
                spec.LAYOUTS[layout], p0.ctypes.data, p1.ctypes.data, last)

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


def runtime_run(kern: Kernels, dtype, layout, x, p0, p1, last, spatial):
    """toolkit/runtime.py's Model.run (bnrt_model_run on a loaded .bnm) on the
    same tensor: the public Python path, with its argument checks and output
    allocation per call.  None when the binding is not there."""
    if kern.runtime is None:
        return None
    from ..format.writer import LayerBlob, write_model
    keys = {"f32": ("a", "b"), "s8": ("mult", "bias"), "s16": ("mult", "bias")}[dtype]
    layer = LayerBlob(dtype=dtype, layout=layout, channels=len(p0), params=dict(zip(keys, (p0, p1))),
                      fused=True, shift=0 if dtype == "f32" else last,
                      in_scale=0.0 if dtype == "f32" else 1.0, out_scale=0.0 if dtype == "f32" else 1.0)
    model = kern.runtime.load(write_model([layer]))

    def run():
        return model.run(0, x, spatial)
    return run


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


def _run(quick: bool) -> Section:
    sec = Section("host", "Host kernels: C runtime vs torch eval vs numpy (one thread)",
                  [("dtype", ""), ("layout", ""), ("channels", "count"), ("elements", "count"),
                   ("c_rate", "Melem/s"), ("torch_f32_rate", "Melem/s"),
                   ("numpy_rate", "Melem/s"), ("runtime_run_rate", "Melem/s"),
                   ("c_call", "us"), ("torch_call", "us"),
                   ("c_over_torch", "x"), ("c_over_numpy", "x")])
    try:
        kern = Kernels(library_path())
    except (ToolMissing, OSError) as e:
        sec.skip(str(e))
        return sec
    sec.notes += [
        f"C: {kern.path.name} (firmware/mk/core.mk: gcc -O3 -march=native), "
        "the kernel symbols called through ctypes with pre-bound argument types; the runtime "
        "has no batched entry point, so each figure is one kernel call per Python call and "
        "includes about 1 us of ctypes dispatch (dominant below a few thousand elements).",
        "torch: torch.nn.functional.batch_norm(training=False) under inference_mode, "
        "torch.set_num_threads(1), float32 (torch BN has no int8/int16 path, so s8/s16 rows "
        "compare against torch f32 on the same shape); NHWC rows use channels_last tensors.",
        "runtime_run: the same layer as a .bnm through toolkit/runtime.py (Model.run -> "
        "bnrt_model_run), the public Python path with its checks and output allocation.",
        "numpy: f32 as two ufunc passes x*a then +b into a preallocated output (numpy has no "
        "fma); s8/s16 as the integer accumulate, shift, clip and narrowing copy.",
        "Rates are elements per second of the best of several timed loops; ratio = C rate / "
        "other rate. C outputs were checked bit for bit against toolkit/reference.py "
        "(up to 200k elements).",
    ]
    min_time, repeats = (0.004, 3) if quick else (0.03, 5)
    sizes = QUICK_SIZES if quick else FULL_SIZES
    sweep_n, sweep_c = QUICK_SWEEP if quick else FULL_SWEEP
    cases = [(n, MAIN_CHANNELS) for n in sizes] + [(sweep_n, c) for c in sweep_c if c != MAIN_CHANNELS]
    rng = np.random.default_rng(1)
    for layout in ("nchw", "nhwc"):
        for n, ch in cases:
            spatial = max(1, n // ch)
            torch_t = None
            for dtype in DTYPES:
                x, p0, p1, last = make_case(dtype, layout, ch, spatial, rng)
                y = np.empty_like(x)
                call = kern.bind(dtype, x, y, ch, spatial, layout, p0, p1, last)
                _check(dtype, call, x, y, p0, p1, last, layout)
                t_c = best_time(call, min_time, repeats)
                if torch_t is None:
                    xf = x if dtype == "f32" else x.astype(np.float32)
                    torch_t = best_time(torch_bn(xf, layout, ch, rng), min_time, repeats)
                t_np = best_time(numpy_bn(dtype, x, p0, p1, last, layout), min_time, repeats)
                rt_run = runtime_run(kern, dtype, layout, x, p0, p1, last, spatial)
                t_rt = best_time(rt_run, min_time, repeats) if rt_run else None
                el = x.size
                sec.rows.append({"dtype": dtype, "layout": layout, "channels": ch, "elements": el,
                                 "c_rate": el / t_c / 1e6, "torch_f32_rate": el / torch_t / 1e6,
                                 "numpy_rate": el / t_np / 1e6,
                                 "runtime_run_rate": el / t_rt / 1e6 if t_rt else None,
                                 "c_call": t_c * 1e6,
                                 "torch_call": torch_t * 1e6, "c_over_torch": torch_t / t_c,
                                 "c_over_numpy": t_np / t_c})
    _targets(sec)
    return sec


def _worst(rows, pred, key="c_over_torch"):
    vals = [r[key] for r in rows if pred(r)]
    return (min(vals), len(vals)) if vals else (None, 0)


def _targets(sec: Section) -> None:
    rows = sec.rows
    v, k = _worst(rows, lambda r: r["dtype"] == "f32" and r["elements"] >= 100_000)
    sec.targets.append(Target("f32 C vs torch eval, >= 100k elements (worst row)", v, "x", ">=", 1.0,
                              f"{k} rows"))
    v, k = _worst(rows, lambda r: r["dtype"] == "f32" and r["elements"] < 4096)
    sec.targets.append(Target("f32 C vs torch eval, < 4k elements (worst row)", v, "x", ">=", 5.0,
                              f"{k} rows"))
    v, k = _worst(rows, lambda r: r["dtype"] == "s8")
    sec.targets.append(Target("s8 C vs torch eval f32 (worst row)", v, "x", ">=", 2.0, f"{k} rows"))
