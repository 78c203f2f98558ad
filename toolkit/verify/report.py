"""Write a verify report: JSON, JUnit XML and a rich table."""
from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

from ..fsutil import atomic_write


def _clean(v):
    """JSON has no inf/nan: write them as the strings "inf", "-inf", "nan"."""
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def write_json(report: dict, path) -> None:
    atomic_write(path, (json.dumps(_clean(report), indent=2) + "\n").encode())


def write_junit(report: dict, path) -> None:
    layers = report["layers"]
    suite = ET.Element("testsuite", name=f"toolkit verify {report['board']} {report['dtype']}",
                       tests=str(len(layers)), failures=str(sum(not e["pass"] for e in layers)))
    for e in layers:
        case = ET.SubElement(suite, "testcase", classname=f"verify.{report['board']}.{report['dtype']}",
                             name=e["name"])
        if not e["pass"]:
            ET.SubElement(case, "failure", message="; ".join(e.get("fail_reasons", [])))
    root = ET.Element("testsuites")
    root.append(suite)
    atomic_write(path, ET.tostring(root, encoding="utf-8", xml_declaration=True))


def _fmt(v, spec=".3g") -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if isinstance(v, float):
        return format(v, spec)
    return str(v)


def table(report: dict):
    """A rich Table of the per-layer results."""
    from rich.table import Table

    from ..display import safe

    integer = report["dtype"] != "f32"
    t = Table(title=safe(f"{report['board']} · {report['dtype']} · {report['layout']} · "
                         f"{report['samples']} samples · torch {report['cpu_capability']}"))
    cols = ["layer", "kind", "C", "elements", "max err", "SNR dB"]
    cols += ["LSB", "exact int"] if integer else ["ULP", "exact torch"]
    cols += ["ticks", "train gap", "pass"]
    for c in cols:
        t.add_column(c, justify="left" if c in ("layer", "kind") else "right")
    for e in report["layers"]:
        row = [safe(e["name"]), safe(e["kind"].replace("BatchNorm", "BN")), _fmt(e["channels"]), _fmt(e["elements"]),
               _fmt(e["max_abs_err"]), _fmt(e["snr_db"], ".1f")]
        err = _fmt(e.get("max_lsb_err") if integer else e.get("max_ulp_err"))
        if e.get("nan_mismatch"):
            err += f" +{e['nan_mismatch']} NaN"
        row += [err, _fmt(e["bit_exact"])]
        row += [_fmt(e.get("device_ticks")), _fmt(e.get("train_vs_eval_max_abs")),
                "[green]pass[/]" if e["pass"] else "[red]FAIL[/]"]
        t.add_row(*row)
    return t
