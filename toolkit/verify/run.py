"""`toolkit verify` as a library: run a model's BN layers on a board and
compare every output with what the model itself computed.

The reference of every BN call is the output captured from the model's own
forward pass (toolkit.model.capture): a BN subclass with its own forward, a
compiled module or a strided input that torch computes differently cannot
pass, and the failure says why and by how much.  A layer the model calls
several times is run and reported once per call (`name#k`).

The pass rules (docs/protocol.md, "Verification"):
  f32      device == the model's output (NaN matches any NaN, docs/format.md),
           and device bits == reference.bn_affine_f32 of the blob; <= 1 ULP
           when torch's CPU dispatch and the blob's FMA flag disagree.
  s8/s16   device == reference.bn_affine_int (bit-exact), <= 1 LSB from
           round(float_ref/out_scale) + zero_point (float_ref: the exact float64
           BN of the dequantized input the device received), and the model's
           own output within half an output LSB of the exact BN of its input.
Float metrics (max_abs_err, rmse, ...) compare the device output (dequantized
for s8/s16) with the model's output: the error a user sees end to end.
"""
from __future__ import annotations

import contextlib
import copy
import math
import warnings
from dataclasses import dataclass

import numpy as np

from .. import __version__, reference
from ..errors import BoardError, VerifyFailed
from ..format.reader import read_model
from ..protocol.client import DEFAULT_RETRIES, DEFAULT_TIMEOUT, NUMPY_DTYPES, Client
from . import metrics



@dataclass
class Thresholds:
    max_lsb_err: int = 1          # s8/s16: from the float reference
    max_ulp: int | None = None    # f32: None = 0, or 1 when dispatch and blob disagree
    bit_exact: bool = True        # require equality with the exact reference


@contextlib.contextmanager
def board_client(board_name: str, port: str | None, timeout: float = DEFAULT_TIMEOUT,
                 retries: int = DEFAULT_RETRIES):
    """Yield (Client, board) on --port, or on a board we start and stop.
    --port labgrid:... holds a place of a labgrid farm for the block (docs/farm.md)."""
    from .. import farm
    from ..boards import get_board, start_board
    board = get_board(board_name)
    with contextlib.ExitStack() as stack:
        if farm.is_spec(port):
            port = stack.enter_context(farm.lease(port)).url
        if port is None:
            session = stack.enter_context(start_board(board))
            port = session.url
        client = stack.enter_context(Client(port, timeout=timeout, retries=retries))
        yield client, board


def to_layout(x: np.ndarray, layout: str) -> np.ndarray:
    """(N, C, *spatial) -> the layer layout, C-contiguous."""
    return np.ascontiguousarray(np.moveaxis(x, 1, -1) if layout == "nhwc" and x.ndim > 2 else x)


def _spatial(x: np.ndarray) -> int:
    return int(np.prod(x.shape[2:], dtype=np.int64)) if x.ndim > 2 else 1


def _train_gap(module, x: np.ndarray, y_eval: np.ndarray) -> float | None:
    """max |train-mode output - eval output| on this batch, on a copy of the
    layer (None: not computable)."""
    if module is None:
        return None
    import torch
    m = copy.deepcopy(module).train()
    try:
        with torch.no_grad():
            y = m(torch.from_numpy(np.ascontiguousarray(x))).numpy()
    except (RuntimeError, ValueError):      # e.g. one value per channel
        return None
    with np.errstate(invalid="ignore"):
        return float(np.nanmax(np.abs(y.astype(np.float64) - y_eval), initial=0.0))


def _plain_bn(bn, x: np.ndarray) -> np.ndarray:
    """torch's eval BN with the layer's parameters on a contiguous copy of x:
    what a plain BatchNorm module would have returned."""
    import torch
    import torch.nn.functional as F
    t = lambda v: None if v is None else torch.from_numpy(np.asarray(v, np.float32))   # noqa: E731
    with torch.no_grad():
        y = F.batch_norm(torch.from_numpy(np.ascontiguousarray(x)), t(bn.running_mean), t(bn.running_var),
                         t(bn.weight), t(bn.bias), False, 0.0, bn.eps)
    return y.numpy()


def _float_ref(layer, x: np.ndarray) -> np.ndarray:
    """Exact float64 BN of (N, C, *spatial) input with the layer's running stats."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    f = lambda v: np.asarray(v, np.float64).reshape(shape)   # noqa: E731
    inv = 1.0 / np.sqrt(f(layer.running_var) + float(layer.eps))
    with np.errstate(invalid="ignore", over="ignore"):
        return (x.astype(np.float64) - f(layer.running_mean)) * inv * f(layer.gamma) + f(layer.beta)


def _cause(bn, call, model) -> str:
    """Why the model's output of a call may differ from plain BN of its input."""
    if any("overrides forward" in w for w in bn.warnings):
        return f"{bn.kind} overrides forward"
    if type(model).__name__ == "OptimizedModule":
        return "the model is compiled (torch.compile)"
    if not call.contiguous:
        return "its input is strided (torch takes another path than on a contiguous copy)"
    if call.via == "functional":
        return "the model calls the layer's forward or F.batch_norm directly"
    return "the model computes this output in its own way"


def _model_gap(bn, call, model) -> dict | None:
    """How the model's own output of a call differs from plain BN of its input
    (None: identical).  Both in NCHW."""
    y, x = call.y, call.x
    if y.shape != x.shape:
        return {"cause": f"the layer returns shape {list(y.shape)} for an input of shape {list(x.shape)}",
                "elements": int(y.size), "max_abs": math.inf, "max_ulp": None}
    plain = _plain_bn(bn, x)
    diff = ~metrics.same_values(y, plain)
    count = int(np.count_nonzero(diff))
    if not count:
        return None
    d = metrics.float_metrics(y, plain)["max_abs_err"]
    return {"cause": _cause(bn, call, model), "elements": count, "max_abs": d,
            "max_ulp": metrics.max_ulp(y, plain)}


def _gap_text(gap: dict, total: int) -> str:
    ulp = f", {gap['max_ulp']} ULP" if gap.get("max_ulp") is not None else ""
    return (f"the model's own output is not BN of its input ({gap['cause']}): "
            f"{gap['elements']} of {total} elements differ, max |diff| {gap['max_abs']:.3g}{ulp}")


def _check_f32(entry, blob_layer, x, y_model, got, dispatch_fused, th, gap):
    entry.update(metrics.float_metrics(got, y_model))
    entry["bit_exact"] = metrics.same(got, y_model)
    entry["max_ulp_err"] = metrics.max_ulp(got, y_model)
    entry["nan_mismatch"] = metrics.nan_mismatch(got, y_model)
    p = blob_layer.params
    ref = reference.bn_affine_f32(x, p["a"], p["b"], blob_layer.layout, fused=blob_layer.fused)
    entry["bit_exact_reference"] = metrics.same(got, ref)
    reasons = []
    allowed = th.max_ulp
    if allowed is None:
        allowed = 0
        if blob_layer.fused != dispatch_fused:
            allowed = 1
            entry["note"] = ("torch's CPU dispatch " + ("fuses" if dispatch_fused else "does not fuse")
                             + " x*a+b but the blob's FMA flag says otherwise: <= 1 ULP allowed")
    if th.bit_exact and not entry["bit_exact_reference"]:
        reasons.append("not bit-exact to reference.bn_affine_f32")
    if gap is not None and not entry["bit_exact"]:
        reasons.append(_gap_text(gap, got.size))
    if entry["nan_mismatch"]:
        reasons.append(f"{entry['nan_mismatch']} elements are NaN on one side only")
    if entry["max_ulp_err"] > allowed:
        reasons.append(f"{entry['max_ulp_err']} ULP from the model's output (allowed {allowed})")
    return reasons


def _check_int(entry, bn, blob_layer, x, x_nc, y_model, got, th, gap_abs, gap):
    dtype, layout = blob_layer.dtype, blob_layer.layout
    p = blob_layer.params
    ref_int = reference.bn_affine_int(x, p["mult"], p["bias"], blob_layer.shift, dtype, layout)
    entry["bit_exact"] = bool(np.array_equal(got, ref_int))
    x_dq = reference.dequantize(x, blob_layer.in_scale, blob_layer.in_zero_point)
    x_dq_nc = np.moveaxis(x_dq, -1, 1) if layout == "nhwc" and x.ndim > 2 else x_dq
    y_ref = to_layout(_float_ref(bn, x_dq_nc), layout)
    q_ref = reference.quantize(y_ref, blob_layer.out_scale, blob_layer.out_zero_point, dtype)
    finite = to_layout(np.isfinite(x_nc), layout)     # integer types have no NaN/inf (docs/format.md)
    entry["nonfinite_inputs"] = int(finite.size - np.count_nonzero(finite))
    entry["max_lsb_err"], entry["lsb_histogram"] = metrics.lsb_errors(got[finite], q_ref[finite])
    y_dq = reference.dequantize(got, blob_layer.out_scale, blob_layer.out_zero_point)
    entry.update(metrics.float_metrics(y_dq[finite], y_model[finite]))
    reasons = []
    if th.bit_exact and not entry["bit_exact"]:
        reasons.append("not bit-exact to reference.bn_affine_int")
    if entry["max_lsb_err"] > th.max_lsb_err:
        reasons.append(f"{entry['max_lsb_err']} LSB from the float reference (allowed {th.max_lsb_err})")
    half = 0.5 * float(blob_layer.out_scale)
    entry["model_vs_bn_lsb"] = gap_abs / float(blob_layer.out_scale)
    if gap is not None and not gap_abs <= half:
        reasons.append(_gap_text({**gap, "max_ulp": None}, got.size)
                       + f" ({entry['model_vs_bn_lsb']:.3g} output LSB)")
        entry["max_abs_err"] = max(entry["max_abs_err"], gap_abs)
    return reasons


def _call_entries(captured, bns):
    """(layer index, call index or None, entry name, BNLayer, Call) for every
    call, in file order; a layer called once keeps its plain name."""
    for i, bn in enumerate(bns):
        calls = captured[bn.name]
        for k, call in enumerate(calls):
            if len(calls) == 1:
                yield i, None, bn.name, bn, call
            else:
                yield i, k, f"{bn.name}#{k}", bn, call


def verify(model, inputs, *, dtype: str, layout: str = "nchw", board: str = "host-sim",
           port: str | None = None, batch_sizes=(), thresholds: Thresholds | None = None,
           on_progress=None, timeout: float = DEFAULT_TIMEOUT,
           retries: int = DEFAULT_RETRIES, upload: bool = True) -> dict:
    """Capture once, export, upload, stream every BN call's input, compare.
    Returns the report dict (see docs/protocol.md).  on_progress(stage, done, total).
    upload=False uses the model the board already runs (a boot model linked
    by `toolkit build --model`); its CRC must equal the export's."""
    import torch

    from ..model.bn import find_bn
    from ..model.capture import capture_calls
    from ..model.export import export
    from ..model.fold import cpu_capability, fused_for

    th = thresholds or Thresholds()
    progress = on_progress or (lambda *a: None)
    captured = capture_calls(model, inputs)
    bns = find_bn(model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exported = export(model, dtype=dtype, layout=layout, captured=captured)
    blob = exported.blob
    parsed = read_model(blob)
    capability = cpu_capability()
    dispatch_fused = fused_for(capability)
    modules = dict(model.named_modules()) if isinstance(model, torch.nn.Module) else {}
    first = captured[bns[0].name][0]
    n = int(first.x.shape[0])
    calls = list(_call_entries(captured, bns))

    report = {"board": board, "dtype": dtype, "layout": layout, "samples": n, "pass": False,
              "cpu_capability": capability, "torch_version": torch.__version__,
              "toolkit_version": __version__, "model_bytes": len(blob),
              "thresholds": {"max_lsb_err": th.max_lsb_err, "max_ulp": th.max_ulp,
                             "bit_exact": th.bit_exact},
              "warnings": sorted({str(w.message) for w in caught}
                                 | {f"layer {b.name!r}: {w}" for b in bns for w in b.warnings
                                    if "overrides forward" in w}),
              "layers": []}
    with board_client(board, port, timeout, retries) as (client, _):
        info = client.board
        report["board"] = info.name or board      # the board that answered (matters with --port)
        report["board_info"] = {"name": info.name, "max_payload": info.max_payload,
                                "max_model": info.max_model, "counter": info.counter,
                                "counter_hz": info.counter_hz, "firmware_version": info.firmware_version}
        if dtype not in info.dtypes:
            raise BoardError(f"board {info.name!r} does not run {dtype} (it lists {', '.join(info.dtypes)})",
                             "choose another --dtype or board")
        if upload:
            client.load(blob, progress=lambda d, t: progress("upload", d, t))
        else:
            on_board = client.model_info(0).crc32
            if on_board != parsed.crc32:
                raise VerifyFailed(f"board {info.name!r} runs a model with CRC-32 0x{on_board:08X}, this "
                                   f"export has 0x{parsed.crc32:08X}",
                                   "build the image with this model (`toolkit build --model`) or verify "
                                   "without --no-upload")
        report["uploaded"] = upload
        total = sum(c.x.size for *_, c in calls) * (1 + len(batch_sizes))
        done = 0
        for i, k, name, bn, call in calls:
            bl = parsed.layers[i]
            x_nc, y_nc = call.x, call.y
            gap = _model_gap(bn, call, model)
            x_l = to_layout(x_nc, layout)
            sent = x_l if dtype == "f32" else reference.quantize(x_l, bl.in_scale, bl.in_zero_point, dtype)
            spatial = _spatial(x_nc)
            res = client.run(i, sent.astype(NUMPY_DTYPES[dtype]), spatial,
                             progress=lambda d, t, base=done: progress("run", base + d, total))
            done += sent.size
            entry = {"name": name, "layer": bn.name, "call": k,
                     "kind": bn.kind, "channels": int(bl.channels),
                     "shape": list(x_nc.shape), "elements": int(sent.size), "fma": bl.fused,
                     "device_ticks": int(res.ticks) if info.counter_kind else None, "frames": res.frames,
                     "model_vs_bn": gap}
            if gap is not None and y_nc.shape != x_nc.shape:
                entry.update(bit_exact=False, max_abs_err=math.inf, snr_db=-math.inf)
                reasons = [_gap_text(gap, x_nc.size)]
            elif dtype == "f32":
                reasons = _check_f32(entry, bl, sent, to_layout(y_nc, layout), res.output, dispatch_fused, th, gap)
            else:
                with np.errstate(invalid="ignore", over="ignore"):
                    gap_abs = float(np.nanmax(np.abs(y_nc.astype(np.float64) - _float_ref(bn, x_nc)),
                                              initial=0.0))
                reasons = _check_int(entry, bn, bl, sent, x_nc, to_layout(y_nc, layout), res.output, th,
                                     gap_abs, gap)
            batches = {}
            for bs in batch_sizes:
                parts = [client.run(i, sent[j:j + bs].astype(NUMPY_DTYPES[dtype]), spatial).output
                         for j in range(0, sent.shape[0], bs)]
                joined = np.concatenate(parts) if parts else res.output[:0]
                batches[str(bs)] = bool(np.array_equal(joined.view(np.uint8), res.output.view(np.uint8)))
                done += sent.size
                progress("run", done, total)
            if batch_sizes:
                entry["batch_sizes_identical"] = batches
                if not all(batches.values()):
                    reasons.append("outputs depend on the batch size")
            entry["pass"] = not reasons
            if reasons:
                entry["fail_reasons"] = reasons
            entry["train_vs_eval_max_abs"] = _train_gap(modules.get(bn.name), x_nc, y_nc)
            report["layers"].append(entry)
        report["link"] = {"retries": client.retries_used}
    report["pass"] = bool(report["layers"]) and all(e["pass"] for e in report["layers"])
    return report


def failure_summary(report: dict) -> str:
    bad = [e for e in report["layers"] if not e["pass"]]
    if not bad:
        return ""
    first = bad[0]
    return (f"{len(bad)} of {len(report['layers'])} layers failed on {report['board']} ({report['dtype']}); "
            f"first: {first['name']}: {'; '.join(first.get('fail_reasons', []))}")

