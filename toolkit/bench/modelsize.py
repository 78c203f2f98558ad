"""Section 4: model size per channel and fixed overhead, .bnm per dtype next
to the same BatchNorm2d as a torch state_dict and as ONNX.

bytes/channel = (size(C2) - size(C1)) / (C2 - C1); overhead = size(C1) - C1 * that.
"""
from __future__ import annotations

import io
import warnings

import numpy as np

from .report import Section, Target

C1, C2 = 16, 512


def _bn(c: int):
    import torch
    g = torch.Generator().manual_seed(c)
    bn = torch.nn.BatchNorm2d(c)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2, generator=g)
        bn.bias.uniform_(-1, 1, generator=g)
        bn.running_mean.normal_(generator=g)
        bn.running_var.uniform_(0.5, 2, generator=g)
    return torch.nn.Sequential(bn).eval()


def bnm_size(c: int, dtype: str) -> int:
    from ..model.export import export
    calib = np.random.default_rng(c).standard_normal((2, c, 4, 4)).astype(np.float32)
    return len(export(_bn(c), dtype=dtype, layout="nchw", calib=calib).blob)


def state_dict_size(c: int) -> int:
    import torch
    buf = io.BytesIO()
    torch.save(_bn(c).state_dict(), buf)
    return len(buf.getvalue())


def onnx_size(c: int) -> int:
    import torch
    buf = io.BytesIO()
    x = torch.zeros(1, c, 4, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(_bn(c), (x,), buf, dynamo=False)
        except TypeError:
            torch.onnx.export(_bn(c), (x,), buf)
    return len(buf.getvalue())


def run(quick: bool) -> Section:
    sec = Section("modelsize", "Model size per channel and fixed overhead",
                  [("format", ""), ("size_c16", "bytes"), ("size_c512", "bytes"),
                   ("per_channel", "bytes/channel"), ("overhead", "bytes")])
    sec.notes.append(f"One BatchNorm2d exported at C={C1} and C={C2}; per channel = "
                     f"(size({C2}) - size({C1})) / {C2 - C1}, overhead = size({C1}) - {C1} x per "
                     "channel. .bnm files come from toolkit.model.export (header, layer table, "
                     "layer name, 8-byte aligned parameters).")
    fmts = [(f".bnm {d}", (lambda c, d=d: bnm_size(c, d))) for d in ("f32", "s8", "s16")]
    fmts.append(("torch state_dict (torch.save)", state_dict_size))
    fmts.append(("ONNX (torch.onnx.export)", onnx_size))
    per = {}
    for name, fn in fmts:
        try:
            s1, s2 = fn(C1), fn(C2)
        except ImportError as e:
            sec.notes.append(f"{name}: skipped ({e}; `pip install onnx onnxscript`)")
            continue
        except Exception as e:   # an exporter that cannot run here is reported, not fatal
            sec.notes.append(f"{name}: failed: {type(e).__name__}: {str(e).splitlines()[0][:200]}")
            continue
        pc = (s2 - s1) / (C2 - C1)
        per[name] = pc
        sec.rows.append({"format": name, "size_c16": s1, "size_c512": s2, "per_channel": pc,
                         "overhead": s1 - C1 * pc})
    sec.targets.append(Target(".bnm s8 bytes per channel", per.get(".bnm s8"), "bytes/channel",
                              "<=", 9))
    return sec
