"""`verify --kernel`: one layer's outputs against the reference, the
diagnosis, and the report's text lines (kernel.py runs the board)."""
from __future__ import annotations

import numpy as np

from .. import reference
from . import metrics
from .diagnose import diagnose, diagnose_s8, term_ulp

UNWRITTEN = 0xFFFFFFFF   # f32: the harness fills the output with these NaN bits before each call (cmd_user.c)


def _unwritten(entry: dict, got: np.ndarray) -> None:
    n = int(np.count_nonzero(got.view(np.uint32) == UNWRITTEN))
    if n:
        entry["unwritten"] = n
        entry.setdefault("fail_reasons", []).append(f"{n} of {got.size} outputs were never written by your function")


def check_f32(entry, layer, x, got, y_ref, calls, max_ulp) -> None:
    """Pass: bit-identical to torch eval, or within max_ulp ULP of the largest term."""
    entry.update(metrics.float_metrics(got, y_ref))
    entry["bit_exact"] = metrics.same(got, y_ref)
    entry["max_ulp_err_of_y"] = metrics.max_ulp(got, y_ref)
    tu = term_ulp(layer, x, got, y_ref)
    entry["max_ulp_err"] = int(np.ceil(tu)) if np.isfinite(tu) else float("inf")
    if entry["max_ulp_err"] > max_ulp:
        entry["fail_reasons"] = [(f"{entry['max_ulp_err']} ULP from torch eval at the scale of the "
                                  f"largest term (allowed {max_ulp})")]
    _unwritten(entry, got)
    entry["pass"] = "fail_reasons" not in entry
    if not entry["bit_exact"]:
        entry["diagnosis"] = diagnose(layer, x, got, y_ref, calls=calls)


def check_s8(entry, layer, bn, q_in, got, y_eval, quant, calls, max_lsb_err) -> None:
    """Pass: within max_lsb_err of round(exact BN(dequantized input) / out_scale) + zero point."""
    from .run import _float_ref as _float_ref_dequantized

    in_scale, in_zp, out_scale, out_zp = quant
    x_dq = reference.dequantize(q_in, in_scale, in_zp)
    q_ref = reference.quantize(_float_ref_dequantized(bn, x_dq), out_scale, out_zp, "s8")
    entry["max_lsb_err"], entry["lsb_histogram"] = metrics.lsb_errors(got, q_ref)
    entry["bit_exact"] = bool(np.array_equal(got, q_ref))
    entry.update(metrics.float_metrics(reference.dequantize(got, out_scale, out_zp), y_eval))
    if entry["max_lsb_err"] > max_lsb_err:
        entry["fail_reasons"] = [f"{entry['max_lsb_err']} LSB from the exact result (allowed {max_lsb_err})"]
    entry["pass"] = "fail_reasons" not in entry
    if not entry["bit_exact"]:
        entry["diagnosis"] = diagnose_s8(layer, x_dq, got, q_ref, (out_scale, out_zp), calls=calls)


def diagnosis_lines(report: dict) -> list[str]:
    """One line per layer that has a diagnosis or stopped the board."""
    out = []
    for e in report["layers"]:
        d = e.get("diagnosis")
        if d:
            ch = d["channels"]
            where = "all channels" if len(ch) == e["channels"] else \
                f"channel{'s' if len(ch) > 1 else ''} {', '.join(map(str, ch[:12]))}{' ...' if len(ch) > 12 else ''}"
            out.append(f"{e['name']}: {d['mistake']} ({where}): {d['explanation']}")
        elif e.get("error"):
            out.append(f"{e['name']}: {e['error']}: {e['fail_reasons'][0]}")
        if e.get("unwritten"):
            out.append(f"{e['name']}: {e['unwritten']} of {e['elements']} outputs were never written "
                       "(check the loop bounds: every batch, channel and spatial index)")
    return out


def failure_summary(report: dict) -> str:
    bad = [e for e in report["layers"] if not e["pass"]]
    if not bad:
        return ""
    first = bad[0]
    what = first.get("diagnosis", {}).get("mistake") if first.get("diagnosis") else first.get("error")
    return (f"{report['kernel']} failed {len(bad)} of {len(report['layers'])} layers on {report['board']}; "
            f"first: {first['name']}" + (f" ({what})" if what else "") + ": "
            + "; ".join(first.get("fail_reasons", [])))


def failure_fix(report: dict, report_path=None) -> str:
    first = next(e for e in report["layers"] if not e["pass"])
    if first.get("error"):
        fix = "find the bad pointer or the loop that never ends in your function"
    elif not first.get("diagnosis"):
        fix = "the reason is in the table above" + (" and the report" if report_path else "")
    elif first["diagnosis"]["mistake"] == "precision":
        fix = ("the outputs only round differently: accept it with --max-lsb-err N" if report["dtype"] == "s8"
               else "the lines above show torch's exact arithmetic; or accept the rounding with --max-ulp N")
    else:
        fix = "the lines above name the mistake and its fix"
    return fix + (f"; details in {report_path}" if report_path else "")
