"""In-process access to the C runtime core (firmware/src) through ctypes.

`make -C firmware lib` builds `<build dir>/host/libbnrt.so` on first use.
The same sources run on the boards, so this is how the tests compare the C
arithmetic with toolkit/reference.py and torch, and how the benchmark times
the kernels without a serial link.

    rt = Runtime()
    model = rt.load(blob)                 # FormatError(.status) when invalid
    y = model.run(0, x)                   # x: (N, C, *sp) nchw or (N, *sp, C) nhwc
    part = model.run_range(0, x.ravel()[5:9], spatial=HW, first=5)
"""
from __future__ import annotations

import ctypes
import functools
import math
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import resources
from .errors import BuildFailed, InputError, ToolMissing, first_error
from .fsutil import locked
from .format import spec
from .format.reader import FormatError
from .format.writer import PARAM_ARRAYS, LayerBlob

NP_DTYPE = {dt: np.dtype(np.dtype(code).str).type for dt, code in spec.DTYPE_CODE.items()}
_NAME = {kind: {v: k for k, v in table.items()}
         for kind, table in (("dtype", spec.DTYPES), ("layout", spec.LAYOUTS), ("op", spec.OPS))}
_U32 = 0xFFFFFFFF


class StatusError(InputError):
    """The C runtime refused a call; `.status` is the spec status name."""

    def __init__(self, status: str, what: str):
        self.status = status
        code = spec.STATUS.get(status)
        msg, fix = (spec.STATUSES[code][1:] if code is not None else (status, ""))
        super().__init__(f"{what}: {msg} ({status})", fix)


class _Model(ctypes.Structure):
    _fields_ = [("blob", ctypes.c_void_p), ("size", ctypes.c_uint32),
                ("crc32", ctypes.c_uint32), ("layer_count", ctypes.c_uint16)]


class _Layer(ctypes.Structure):
    _fields_ = [("op", ctypes.c_uint8), ("dtype", ctypes.c_uint8), ("layout", ctypes.c_uint8),
                ("flags", ctypes.c_uint8), ("channels", ctypes.c_uint32),
                ("params", ctypes.c_void_p), ("params_size", ctypes.c_uint32),
                ("in_scale", ctypes.c_float), ("in_zero_point", ctypes.c_int32),
                ("out_scale", ctypes.c_float), ("out_zero_point", ctypes.c_int32),
                ("shift", ctypes.c_uint8), ("name_offset", ctypes.c_uint32)]


@dataclass(frozen=True)
class LayerInfo:
    """A layer-table entry as the C runtime decodes it (bnrt_layer_t)."""
    op: str
    dtype: str
    layout: str
    flags: int
    channels: int
    params_offset: int      # byte offset of the parameters in the blob
    params_size: int
    in_scale: float
    in_zero_point: int
    out_scale: float
    out_zero_point: int
    shift: int
    name_offset: int

    @property
    def fused(self) -> bool:
        return bool(self.flags & spec.LAYER_FLAG_FMA)


def build_library(build_dir: str | os.PathLike | None = None) -> Path:
    """Run `make -C firmware lib` (a no-op when up to date); return the .so path."""
    build = Path(build_dir) if build_dir else resources.build_dir()
    cmd = ["make", "-s", "-C", str(resources.firmware_dir()), "lib", f"BUILD={build}"]
    try:
        with locked(build / "host"):
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolMissing(f"cannot build the C runtime: {exc}",
                          "install make and gcc (scripts/setup-and-test.sh)") from None
    if proc.returncode != 0:
        output = proc.stderr + proc.stdout
        raise BuildFailed(f"building the C runtime failed: {first_error(output)}",
                          "run `make -C firmware lib` for the full output", output)
    return build / "host" / "libbnrt.so"


def _aligned_copy(blob: bytes, misalign: int = 0) -> np.ndarray:
    """blob copied to memory that starts `misalign` bytes past an 8-byte boundary."""
    raw = np.zeros((len(blob) + misalign) // 8 + 1, np.uint64)   # 8-byte aligned
    buf = raw.view(np.uint8)[misalign:misalign + len(blob)]
    buf[:] = np.frombuffer(blob, np.uint8)
    return buf


def _shape(x: np.ndarray, layout: str, channels: int, spatial: int | None) -> tuple[int, int]:
    """(batch, spatial) of a tensor given in the layer's layout, or flat with `spatial`."""
    if x.ndim >= 2:
        c = x.shape[1] if layout == "nchw" else x.shape[-1]
        sp_shape = x.shape[2:] if layout == "nchw" else x.shape[1:-1]
        sp = math.prod(sp_shape)
        if c != channels or (spatial is not None and spatial != sp):
            raise InputError(f"tensor of shape {x.shape} ({layout}) does not fit a layer with "
                             f"{channels} channels" + (f" and spatial {spatial}" if spatial else ""),
                             "pass the tensor in the layer's layout")
        return x.shape[0], sp
    if spatial is None or spatial <= 0 or x.size % (channels * spatial):
        raise InputError(f"{x.size} elements are not whole samples of {channels} channels "
                         f"x spatial {spatial}", "pass a (N, C, ...) tensor or a matching spatial")
    return x.size // (channels * spatial), spatial


class Runtime:
    """The loaded shared library; stateless, safe to share."""

    def __init__(self, lib_path: str | os.PathLike | None = None):
        lib = ctypes.CDLL(str(lib_path or build_library()))
        u8, u32, st, vp = ctypes.c_uint8, ctypes.c_uint32, ctypes.c_int, ctypes.c_void_p
        sigs = {
            "bnrt_status_name": (ctypes.c_char_p, [st]),
            "bnrt_crc32": (u32, [u32, vp, ctypes.c_size_t]),
            "bnrt_model_load": (st, [ctypes.POINTER(_Model), vp, ctypes.c_size_t]),
            "bnrt_model_layer": (st, [ctypes.POINTER(_Model), u32, ctypes.POINTER(_Layer)]),
            "bnrt_model_run": (st, [ctypes.POINTER(_Model), u32, vp, vp, u32, u32]),
            "bnrt_model_run_range": (st, [ctypes.POINTER(_Model), u32, u32, u32, u32, vp, vp]),
            "bnrt_bn_affine_f32": (st, [vp, vp, u32, u32, u32, u8, vp, vp, u8]),
            "bnrt_bn_affine_s8": (st, [vp, vp, u32, u32, u32, u8, vp, vp, u8]),
            "bnrt_bn_affine_s16": (st, [vp, vp, u32, u32, u32, u8, vp, vp, u8]),
        }
        for name, (res, args) in sigs.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = res, args
        self.lib = lib
        # The hot path of Model.run/bind: a second handle without argtypes, called
        # with ready ctypes objects (no per-call argument conversion).
        self._run_raw = ctypes.CDLL(str(lib._name)).bnrt_model_run
        self._run_raw.restype = ctypes.c_int

    def status_name(self, code: int) -> str:
        return self.lib.bnrt_status_name(code).decode()

    def crc32(self, data: bytes, crc: int = 0) -> int:
        buf = np.frombuffer(bytes(data), np.uint8)
        return self.lib.bnrt_crc32(crc, buf.ctypes.data if buf.size else None, buf.size)

    def load(self, blob: bytes, misalign: int = 0) -> Model:
        """Validate a .bnm blob in C (copied to 8-byte aligned memory, or
        misaligned by `misalign` bytes for tests); FormatError(.status) on failure."""
        buf = _aligned_copy(bytes(blob), misalign)
        m = _Model()
        code = self.lib.bnrt_model_load(ctypes.byref(m), buf.ctypes.data or None, buf.size)
        if code != spec.STATUS["OK"]:
            raise FormatError(self.status_name(code), "rejected by the C runtime")
        return Model(self, m, buf)

    def kernel(self, layer: LayerBlob, x: np.ndarray, spatial: int | None = None) -> np.ndarray:
        """Call bnrt_bn_affine_<dtype> directly on a whole tensor (no model file)."""
        x = np.ascontiguousarray(x)
        _check_dtype(x, layer.dtype)
        batch, sp = _shape(x, layer.layout, layer.channels, spatial)
        p0, p1 = (np.ascontiguousarray(layer.params[k], dt) for k, dt in PARAM_ARRAYS[layer.dtype])
        if layer.dtype == "s16":      # file order is bias, mult; the kernel takes mult, bias
            p0, p1 = p1, p0
        flags = spec.LAYER_FLAG_FMA if layer.dtype == "f32" and layer.fused else 0
        last = flags if layer.dtype == "f32" else layer.shift
        out = np.empty_like(x)
        fn = getattr(self.lib, f"bnrt_bn_affine_{layer.dtype}")
        code = fn(x.ctypes.data, out.ctypes.data, batch, layer.channels, sp,
                  spec.LAYOUTS[layer.layout], p0.ctypes.data, p1.ctypes.data, last)
        _check(self, code, f"bn_affine_{layer.dtype}")
        return out


def _ptr(a: np.ndarray):
    """The data address of a C-contiguous array as a ctypes argument: a
    reference to a c_char over its buffer (about 0.3 us, against 0.8 us for
    `a.ctypes.data`); read-only or empty arrays take the slow way."""
    try:
        return ctypes.byref(ctypes.c_char.from_buffer(a))
    except (TypeError, ValueError):
        return ctypes.c_void_p(a.ctypes.data)


def _check(rt: Runtime, code: int, what: str) -> None:
    if code != spec.STATUS["OK"]:
        raise StatusError(rt.status_name(code), what)


def _check_dtype(x: np.ndarray, dtype: str) -> None:
    if x.dtype != NP_DTYPE[dtype]:
        raise InputError(f"input is {x.dtype}, the layer takes {dtype}",
                         "quantize or convert the input first")


class Model:
    """A model validated by the C parser; keeps its aligned copy of the blob alive.

    The layer table is decoded once at load (`layers()`); `run` then costs
    only its checks and one ctypes call, and `bind` removes the checks that
    do not change between calls on one shape."""

    def __init__(self, rt: Runtime, m: _Model, buf: np.ndarray):
        self._rt, self._m, self._buf = rt, m, buf
        self.crc32, self.layer_count, self.size = m.crc32, m.layer_count, m.size
        self._ref = ctypes.byref(m)
        self._run = rt._run_raw
        self._layers = [self._decode(k) for k in range(self.layer_count)]
        self._np = [np.dtype(NP_DTYPE[l.dtype]) for l in self._layers]

    def _decode(self, k: int) -> LayerInfo:
        l = _Layer()
        _check(self._rt, self._rt.lib.bnrt_model_layer(ctypes.byref(self._m), k & _U32,
                                                       ctypes.byref(l)), f"layer {k}")
        return LayerInfo(_NAME["op"].get(l.op, str(l.op)), _NAME["dtype"][l.dtype],
                         _NAME["layout"][l.layout], l.flags, l.channels,
                         l.params - self._buf.ctypes.data, l.params_size, l.in_scale,
                         l.in_zero_point, l.out_scale, l.out_zero_point, l.shift, l.name_offset)

    def layer(self, k: int) -> LayerInfo:
        if type(k) is int and 0 <= k < self.layer_count:
            return self._layers[k]
        return self._decode(k)            # the C runtime's status for a bad index

    def layers(self) -> list[LayerInfo]:
        return list(self._layers)

    def run(self, k: int, x: np.ndarray, spatial: int | None = None) -> np.ndarray:
        """bnrt_model_run on a whole tensor in the layer's layout (see _shape)."""
        info = self.layer(k)
        x = np.ascontiguousarray(x)
        if x.dtype != self._np[k]:
            _check_dtype(x, info.dtype)
        batch, sp = _shape(x, info.layout, info.channels, spatial)
        if batch > _U32 or sp > _U32:
            raise InputError(f"tensor of shape {x.shape} is too large", "split the batch")
        out = np.empty_like(x)
        u32 = ctypes.c_uint32
        code = self._run(self._ref, u32(k), _ptr(x), _ptr(out), u32(batch), u32(sp))
        if code:
            _check(self._rt, code, f"run layer {k}")
        return out

    def bind(self, k: int, shape: tuple, spatial: int | None = None) -> BoundLayer:
        """A callable running layer k on tensors of exactly `shape` (the fast
        path for repeated calls: shape, layout and dtype are checked once)."""
        info = self.layer(k)
        probe = np.empty(tuple(shape), self._np[k])
        batch, sp = _shape(probe, info.layout, info.channels, spatial)
        if batch > _U32 or sp > _U32:
            raise InputError(f"tensor of shape {probe.shape} is too large", "split the batch")
        return BoundLayer(self, k, probe.shape, self._np[k], batch, sp)

    def run_range(self, k: int, x: np.ndarray, spatial: int, first: int) -> np.ndarray:
        """bnrt_model_run_range: x holds elements [first, first + x.size) of a
        tensor with `spatial` elements per channel; returns them transformed."""
        info = self.layer(k)
        x = np.ascontiguousarray(x).reshape(-1)
        _check_dtype(x, info.dtype)
        out = np.empty_like(x)
        code = self._rt.lib.bnrt_model_run_range(
            ctypes.byref(self._m), k, spatial & _U32, first & _U32, x.size & _U32,
            x.ctypes.data or None, out.ctypes.data or None)
        _check(self._rt, code, f"run layer {k}")
        return out


class BoundLayer:
    """Layer k of a model bound to one input shape: `f(x)` or `f(x, out)`.

    x must be a C-contiguous array of that shape and the layer's dtype; `out`
    (optional, the same shape and dtype, may be x itself) receives the result.
    Anything else raises InputError, as `Model.run` would."""

    def __init__(self, model: Model, k: int, shape: tuple, dtype: np.dtype, batch: int, sp: int):
        self.model, self.index, self.shape, self.dtype = model, k, shape, dtype
        self._args = (model._ref, ctypes.c_uint32(k))
        self._dims = (ctypes.c_uint32(batch), ctypes.c_uint32(sp))
        self._run = model._run

    def _bad(self, what: str, v: np.ndarray) -> InputError:
        return InputError(f"{what} has shape {getattr(v, 'shape', None)} and dtype "
                          f"{getattr(v, 'dtype', None)}; this layer was bound to {self.shape} "
                          f"{self.dtype}", "pass a C-contiguous array of the bound shape, "
                          "or bind again")

    def __call__(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        if (type(x) is not np.ndarray or x.shape != self.shape or x.dtype != self.dtype
                or not x.flags.c_contiguous):
            raise self._bad("input", x)
        if out is None:
            out = np.empty_like(x)
        elif (type(out) is not np.ndarray or out.shape != self.shape or out.dtype != self.dtype
              or not out.flags.c_contiguous or not out.flags.writeable):
            raise self._bad("out", out)
        code = self._run(*self._args, _ptr(x), _ptr(out), *self._dims)
        if code:
            _check(self.model._rt, code, f"run layer {self.index}")
        return out


@functools.cache
def default_runtime() -> Runtime:
    """One Runtime per process, building the library on first use."""
    return Runtime()


def load(blob: bytes) -> Model:
    return default_runtime().load(blob)


def crc32(data: bytes, crc: int = 0) -> int:
    return default_runtime().crc32(data, crc)
