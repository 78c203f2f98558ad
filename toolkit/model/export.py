"""Export a model's BN layers to .bnm bytes: find, fold, quantize, write.

    export(model, dtype="f32", layout="nchw", calib=None, ranges=None, fused=None) -> Exported

model: nn.Module, TorchScript module or torch.export ExportedProgram.
calib: calibration inputs for the model (ndarray/tensor, a tuple of them, or
a .npy path); ranges: {layer name: {"in": [lo, hi], "out": [lo, hi]}} (or a
JSON path); "out" may be omitted and is then derived from "in" through the
folded affine map.  Integer dtypes need one of them; ranges win over calib.
fused: None follows torch's CPU dispatch (fused unless 'DEFAULT').
"""
from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError, ModelError
from ..format import spec
from ..format.writer import LayerBlob, write_model
from ..fsutil import atomic_write
from .bn import TrainModeWarning, find_bn
from .fold import cpu_capability, fold, fused_for
from .quantize import QuantParams, activation_qparams, quantize_layer


@dataclass
class ExportedLayer:
    name: str
    kind: str
    channels: int
    eps: float
    momentum: float | None
    mode: str                      # mode the layer was in ("train" layers are exported as eval)
    num_batches_tracked: int | None
    dtype: str
    layout: str
    fused: bool
    a: np.ndarray
    b: np.ndarray
    quant: QuantParams | None = None
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        d = {"name": self.name, "kind": self.kind, "channels": self.channels, "eps": self.eps,
             "momentum": self.momentum, "mode": self.mode, "dtype": self.dtype,
             "layout": self.layout, "fused": self.fused, "warnings": list(self.warnings)}
        if self.quant is not None:
            d["quant"] = self.quant.summary()
        return d


@dataclass
class Exported:
    blob: bytes
    layers: list[ExportedLayer]
    cpu_capability: str
    train_mode_warning: bool
    fused: bool

    def save(self, path) -> None:
        """Write the blob atomically (no partial file on error)."""
        atomic_write(path, self.blob)

    @property
    def channels(self) -> int:
        return sum(l.channels for l in self.layers)

    @property
    def bytes_per_channel(self) -> float:
        return len(self.blob) / max(1, self.channels)


def _load_calib(calib):
    if isinstance(calib, (str, os.PathLike)):
        p = Path(calib)
        if not p.is_file():
            raise InputError(f"calibration file not found: {p}", "check the --calib path")
        try:
            return np.load(p, allow_pickle=False)
        except Exception as e:
            raise InputError(f"cannot read calibration file {p}: {e}",
                             "save the inputs with numpy.save(path, array)") from None
    return calib


def _load_ranges(ranges, names: list[str]) -> dict:
    if ranges is None:
        return {}
    if isinstance(ranges, (str, os.PathLike)):
        p = Path(ranges)
        if not p.is_file():
            raise InputError(f"ranges file not found: {p}", "check the --ranges path")
        try:
            ranges = json.loads(p.read_text())
        except (ValueError, UnicodeDecodeError) as e:
            raise InputError(f"ranges file {p} is not valid JSON: {e}", "fix the JSON") from None
    fix = 'write {"layer name": {"in": [lo, hi], "out": [lo, hi]}, ...}'
    if not isinstance(ranges, dict):
        raise InputError("ranges must map layer names to {\"in\": [lo, hi], \"out\": [lo, hi]}", fix)
    out = {}
    for name, r in ranges.items():
        if name not in names:
            raise InputError(f"ranges name an unknown layer {name!r} (layers: {', '.join(names)})",
                             "use the names `toolkit inspect MODEL` prints")
        if not isinstance(r, dict) or "in" not in r:
            raise InputError(f"ranges for layer {name!r} have no \"in\" range", fix)
        got = {}
        for key in ("in", "out"):
            if key not in r:
                continue
            v = r[key]
            ok = (isinstance(v, (list, tuple)) and len(v) == 2
                  and all(isinstance(t, (int, float)) and np.isfinite(t) for t in v) and v[0] <= v[1])
            if not ok:
                raise InputError(f"ranges for layer {name!r}: {key!r} is {v!r}, not [lo, hi] finite with lo <= hi", fix)
            got[key] = (float(v[0]), float(v[1]))
        out[name] = got
    return out


def _affine_range(a, b, lo, hi) -> tuple[float, float]:
    a, b = a.astype(np.float64), b.astype(np.float64)
    ends = np.stack([a * lo + b, a * hi + b])
    return float(ends.min()), float(ends.max())


def _span(arrays, layer: str, what: str) -> tuple[float, float]:
    """(min, max) over the finite values (integer dtypes have no NaN/inf: docs/format.md)."""
    arrays = [a[np.isfinite(a)] for a in arrays]
    arrays = [a for a in arrays if a.size]
    if not arrays:
        raise InputError(f"calibration gave layer {layer!r} no finite {what} value",
                         "give calibration inputs with finite values that reach the layer, or --ranges")
    return float(min(np.min(a) for a in arrays)), float(max(np.max(a) for a in arrays))


def _layer_ranges(model, layers, folded, dtype, calib, ranges, captured=None) -> list[tuple]:
    """[((in_lo, in_hi), (out_lo, out_hi)), ...] per layer, from ranges and/or
    calibration (over every call of a layer the model makes)."""
    names = [l.name for l in layers]
    given = _load_ranges(ranges, names)
    missing = [n for n in names if n not in given]
    if missing and calib is not None and captured is None:
        from .capture import capture_calls
        try:
            captured = capture_calls(model, calib)
        except ModelError as e:
            raise ModelError(e.problem, f"{e.fix}, or give --ranges ranges.json") from None
    captured = captured or {}
    out = []
    for layer, (a, b) in zip(layers, folded):
        g = given.get(layer.name, {})
        if layer.name in captured and layer.name not in given:
            calls = captured[layer.name]
            cin = _span([c.x for c in calls], layer.name, "input")
            cout = _span([c.y for c in calls], layer.name, "output")
        else:
            cin = cout = None
        rin = g.get("in", cin)
        if rin is None:
            raise InputError(f"{dtype} export needs the activation range of layer {layer.name!r}",
                             "give --calib inputs.npy or --ranges ranges.json (see docs/cli.md)")
        rout = g.get("out") or (cout if "in" not in g else None) or _affine_range(a, b, *rin)
        if not all(np.isfinite(v) for v in (*rin, *rout)):
            raise InputError(f"layer {layer.name!r}: calibration produced a non-finite activation",
                             "give finite calibration inputs or --ranges")
        out.append((rin, rout))
    return out


def export(model, dtype: str = "f32", layout: str = "nchw", calib=None, ranges=None,
           fused: bool | None = None, names: bool = True, captured=None) -> Exported:
    """captured: capture.capture_calls(model, calib), when the caller has it already."""
    if dtype not in spec.DTYPES:
        raise InputError(f"unknown dtype {dtype!r}", f"use one of {', '.join(spec.DTYPES)}")
    if layout not in spec.LAYOUTS:
        raise InputError(f"unknown layout {layout!r}", f"use one of {', '.join(spec.LAYOUTS)}")
    capability = cpu_capability()
    use_fma = fused_for(capability) if fused is None else bool(fused)
    layers = find_bn(model)
    for layer in layers:
        if layer.channels > spec.MAX_CHANNELS:
            raise InputError(f"layer {layer.name!r} has {layer.channels} channels, the format allows "
                             f"{spec.MAX_CHANNELS}", "split the layer")
    folded = [fold(layer, use_fma) for layer in layers]
    train_layers = [l.name or "(root)" for l in layers if l.training]
    if train_layers:
        warnings.warn(
            f"the model is in train mode (BatchNorm layers {', '.join(train_layers)}); "
            "exported with eval-mode semantics (running statistics), as after model.eval()",
            TrainModeWarning, stacklevel=2)
    quants: list[QuantParams | None] = [None] * len(layers)
    if dtype != "f32":
        if calib is None and ranges is None and captured is None:
            raise InputError(f"{dtype} export needs activation ranges",
                             "give --calib inputs.npy (model inputs) or --ranges ranges.json")
        rng = _layer_ranges(model, layers, folded, dtype, _load_calib(calib), ranges, captured)
        for i, (layer, (a, b), (rin, rout)) in enumerate(zip(layers, folded, rng)):
            quants[i] = quantize_layer(a, b, dtype, activation_qparams(*rin, dtype),
                                       activation_qparams(*rout, dtype), layer.name)
    blobs, out_layers = [], []
    for layer, (a, b), q in zip(layers, folded, quants):
        if q is None:
            params = {"a": a, "b": b}
            blob = LayerBlob(dtype, layout, layer.channels, params, fused=use_fma,
                             name=layer.name if names else None)
        else:
            blob = LayerBlob(dtype, layout, layer.channels, {"mult": q.mult, "bias": q.bias},
                             fused=False, in_scale=q.in_scale, in_zero_point=q.in_zero_point,
                             out_scale=q.out_scale, out_zero_point=q.out_zero_point,
                             shift=q.shift, name=layer.name if names else None)
        blobs.append(blob)
        warn = list(layer.warnings)
        if q is not None and q.clamped:
            warn.append(f"{len(q.clamped)} channel(s) always saturate; bias clamped (outputs unchanged)")
        out_layers.append(ExportedLayer(
            layer.name, layer.kind, layer.channels, layer.eps, layer.momentum, layer.mode,
            layer.num_batches_tracked, dtype, layout, use_fma if dtype == "f32" else False,
            a, b, q, warn))
    return Exported(write_model(blobs), out_layers, capability, bool(train_layers), use_fma)
