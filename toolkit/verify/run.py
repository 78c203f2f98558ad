"""`toolkit verify` as a library: run a model's BN layers on a board and
compare every output with torch eval mode and the numpy reference.

The pass rules (docs/protocol.md, "Verification"):
  f32      device bits == torch eval bits; or <= 1 ULP when torch's CPU dispatch
           and the blob's FMA flag disagree (the reason is stated).
  s8/s16   device == reference.bn_affine_int (bit-exact), and <= 1 LSB from
           round(float_ref/out_scale) + zero_point, where float_ref is the
           exact (float64) BN of the dequantized input the device received.
"torch eval" is the layer's eval-mode BN on a contiguous copy of its input
(what the device gets); `torch_in_model_differs` counts the elements where
torch inside the model (strided input) rounded differently.
Float metrics (max_abs_err, rmse, ...) compare the device output (dequantized
for s8/s16) with torch eval on the original float input: the error a user
sees end to end, quantization included.
"""
from __future__ import annotations

import contextlib
import copy
import warnings
from dataclasses import dataclass

import numpy as np

from .. import __version__, reference
from ..errors import BoardError
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
    """max |train-mode output - eval output| on this batch (None: not computable)."""
    if module is None:
        return None
    import torch
    m = copy.deepcopy(module).train()
    try:
        with torch.no_grad():
            y = m(torch.from_numpy(np.ascontiguousarray(x))).numpy()
    except (RuntimeError, ValueError):      # e.g. one value per channel
        return None
    return float(np.max(np.abs(y.astype(np.float64) - y_eval), initial=0.0))


def _eval_contiguous(module, x: np.ndarray) -> np.ndarray:
    """torch eval BN of the layer on a contiguous copy of its input.  Inside
    a model the input may be strided (expand, slicing), and torch then takes a
    slower path that rounds differently; the device always sees contiguous data."""
    import torch
    import torch.nn.functional as F
    with torch.no_grad():
        y = F.batch_norm(torch.from_numpy(np.ascontiguousarray(x)), module.running_mean,
                         module.running_var, module.weight, module.bias, False, 0.0, module.eps)
    return y.numpy()


def _float_ref_dequantized(layer, x_dq: np.ndarray) -> np.ndarray:
    """Exact float64 BN of (N, C, *spatial) input with the layer's running stats."""
    shape = (1, -1) + (1,) * (x_dq.ndim - 2)
    f = lambda v: np.asarray(v, np.float64).reshape(shape)   # noqa: E731
    inv = 1.0 / np.sqrt(f(layer.running_var) + float(layer.eps))
    return (x_dq.astype(np.float64) - f(layer.running_mean)) * inv * f(layer.gamma) + f(layer.beta)


def _check_layer(entry, bn, blob_layer, x, y_eval, got, dispatch_fused, th):
    """Fill entry with metrics and pass/fail for one layer (arrays in the layer layout)."""
    dtype, layout = blob_layer.dtype, blob_layer.layout
    reasons = []
    if dtype == "f32":
        entry.update(metrics.float_metrics(got, y_eval))
        entry["bit_exact"] = metrics.bits_equal(got, y_eval)
        entry["max_ulp_err"] = metrics.max_ulp(got, y_eval)
        p = blob_layer.params
        ref = reference.bn_affine_f32(x, p["a"], p["b"], layout, fused=blob_layer.fused)
        entry["bit_exact_reference"] = metrics.bits_equal(got, ref)
        allowed = th.max_ulp
        if allowed is None:
            allowed = 0
            if blob_layer.fused != dispatch_fused:
                allowed = 1
                entry["note"] = ("torch's CPU dispatch " + ("fuses" if dispatch_fused else "does not fuse")
                                 + " x*a+b but the blob's FMA flag says otherwise: <= 1 ULP allowed")
        if th.bit_exact and not entry["bit_exact_reference"]:
            reasons.append("not bit-exact to reference.bn_affine_f32")
        if entry["max_ulp_err"] > allowed:
            reasons.append(f"{entry['max_ulp_err']} ULP from torch eval (allowed {allowed})")
    else:
        p = blob_layer.params
        ref_int = reference.bn_affine_int(x, p["mult"], p["bias"], blob_layer.shift, dtype, layout)
        entry["bit_exact"] = bool(np.array_equal(got, ref_int))
        x_dq = reference.dequantize(x, blob_layer.in_scale, blob_layer.in_zero_point)
        x_nc = np.moveaxis(x_dq, -1, 1) if layout == "nhwc" and x.ndim > 2 else x_dq
        y_ref = to_layout(_float_ref_dequantized(bn, x_nc), layout)
        q_ref = reference.quantize(y_ref, blob_layer.out_scale, blob_layer.out_zero_point, dtype)
        entry["max_lsb_err"], entry["lsb_histogram"] = metrics.lsb_errors(got, q_ref)
        y_dq = reference.dequantize(got, blob_layer.out_scale, blob_layer.out_zero_point)
        entry.update(metrics.float_metrics(y_dq, y_eval))
        if th.bit_exact and not entry["bit_exact"]:
            reasons.append("not bit-exact to reference.bn_affine_int")
        if entry["max_lsb_err"] > th.max_lsb_err:
            reasons.append(f"{entry['max_lsb_err']} LSB from the float reference (allowed {th.max_lsb_err})")
    entry["pass"] = not reasons
    if reasons:
        entry["fail_reasons"] = reasons


def verify(model, inputs, *, dtype: str, layout: str = "nchw", board: str = "host-sim",
           port: str | None = None, batch_sizes=(), thresholds: Thresholds | None = None,
           on_progress=None, timeout: float = DEFAULT_TIMEOUT,
           retries: int = DEFAULT_RETRIES) -> dict:
    """Export, upload, stream every BN layer's input, compare.  Returns the
    report dict (see docs/protocol.md).  on_progress(stage, done, total)."""
    import torch

    from ..model.bn import find_bn
    from ..model.capture import capture
    from ..model.export import export
    from ..model.fold import cpu_capability, fused_for

    th = thresholds or Thresholds()
    progress = on_progress or (lambda *a: None)
    captured = capture(model, inputs)
    bns = find_bn(model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exported = export(model, dtype=dtype, layout=layout, calib=inputs)
    blob = exported.blob if hasattr(exported, "blob") else bytes(exported)
    parsed = read_model(blob)
    capability = cpu_capability()
    dispatch_fused = fused_for(capability)
    modules = dict(model.named_modules()) if isinstance(model, torch.nn.Module) else {}
    n = int(captured[0][1].shape[0]) if captured else 0

    report = {"board": board, "dtype": dtype, "layout": layout, "samples": n, "pass": False,
              "cpu_capability": capability, "torch_version": torch.__version__,
              "toolkit_version": __version__, "model_bytes": len(blob),
              "thresholds": {"max_lsb_err": th.max_lsb_err, "max_ulp": th.max_ulp,
                             "bit_exact": th.bit_exact},
              "warnings": sorted({str(w.message) for w in caught}), "layers": []}
    with board_client(board, port, timeout, retries) as (client, _):
        info = client.board
        report["board"] = info.name or board      # the board that answered (matters with --port)
        report["board_info"] = {"name": info.name, "max_payload": info.max_payload,
                                "max_model": info.max_model, "counter": info.counter,
                                "counter_hz": info.counter_hz, "firmware_version": info.firmware_version}
        if dtype not in info.dtypes:
            raise BoardError(f"board {info.name!r} does not run {dtype} (it lists {', '.join(info.dtypes)})",
                             "choose another --dtype or board")
        client.load(blob, progress=lambda d, t: progress("upload", d, t))
        total = sum(x.size for _, x, _ in captured) * (1 + len(batch_sizes))
        done = 0
        for i, ((name, x_nc, y_nc), bn, bl) in enumerate(zip(captured, bns, parsed.layers)):
            module = modules.get(name)
            in_model_diff = None
            if module is not None:
                y_contig = _eval_contiguous(module, x_nc)
                in_model_diff = int(np.count_nonzero(y_contig.view(np.uint32) != y_nc.view(np.uint32)))
                y_nc = y_contig
            x_l, y_l = to_layout(x_nc, layout), to_layout(y_nc, layout)
            sent = x_l if dtype == "f32" else reference.quantize(x_l, bl.in_scale, bl.in_zero_point, dtype)
            spatial = _spatial(x_nc)
            res = client.run(i, sent.astype(NUMPY_DTYPES[dtype]), spatial,
                             progress=lambda d, t, base=done: progress("run", base + d, total))
            done += sent.size
            entry = {"name": name, "kind": bn.kind, "channels": int(bl.channels),
                     "shape": list(x_nc.shape), "elements": int(sent.size), "fma": bl.fused,
                     "device_ticks": int(res.ticks) if info.counter_kind else None, "frames": res.frames}
            _check_layer(entry, bn, bl, sent, y_l, res.output, dispatch_fused, th)
            batches = {}
            for bs in batch_sizes:
                parts = [client.run(i, sent[k:k + bs].astype(NUMPY_DTYPES[dtype]), spatial).output
                         for k in range(0, sent.shape[0], bs)]
                joined = np.concatenate(parts) if parts else res.output[:0]
                batches[str(bs)] = bool(np.array_equal(joined.view(np.uint8), res.output.view(np.uint8)))
                done += sent.size
                progress("run", done, total)
            if batch_sizes:
                entry["batch_sizes_identical"] = batches
                if not all(batches.values()):
                    entry["pass"] = False
                    entry.setdefault("fail_reasons", []).append("outputs depend on the batch size")
            entry["torch_in_model_differs"] = in_model_diff
            entry["train_vs_eval_max_abs"] = _train_gap(module, x_nc, y_nc)
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

