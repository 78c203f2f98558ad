"""Benchmark results: sections of rows with units, targets with met/not met,
written as bench.json and bench.md (atomically, via a temp file + os.replace)."""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..fsutil import atomic_write

SCHEMA = 1
OPS = {">=": lambda v, t: v >= t, "<=": lambda v, t: v <= t}


@dataclass
class Target:
    name: str
    value: float | None      # the measured figure the target is judged on; None: not measured
    unit: str
    op: str                  # ">=" or "<="
    threshold: float
    note: str = ""
    # interleaved timings: {"q1", "median", "q3", "rounds"} of the judged
    # figure; `value` is then its worst quartile (q1 for ">=", q3 for "<=")
    spread: dict | None = None

    @property
    def met(self) -> bool | None:
        if self.value is None or (isinstance(self.value, float) and math.isnan(self.value)):
            return None
        return bool(OPS[self.op](self.value, self.threshold))

    def verdict(self) -> str:
        return {True: "met", False: "NOT met", None: "not measured"}[self.met]

    def line(self) -> str:
        val = "-" if self.value is None else f"{fmt(self.value)} {self.unit}"
        tail = f" ({self.note})" if self.note else ""
        return f"{self.name}: {val} (target {self.op} {fmt(self.threshold)} {self.unit}): {self.verdict()}{tail}"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["met"] = self.met
        return d


@dataclass
class Section:
    key: str
    title: str
    columns: list[tuple[str, str]]         # (name, unit); unit "" for labels
    rows: list[dict] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)   # longer text (disassembly, ...)
    status: str = "ok"                     # ok | skipped | error

    def skip(self, why: str) -> None:
        self.status = "skipped"
        self.notes.append(f"Skipped: {why}")

    def fail(self, why: str) -> None:
        self.status = "error"
        self.notes.append(f"Error: {why}")

    def to_dict(self) -> dict:
        return {"key": self.key, "title": self.title, "status": self.status,
                "columns": [{"name": n, "unit": u} for n, u in self.columns],
                "rows": self.rows, "targets": [t.to_dict() for t in self.targets],
                "notes": self.notes, "details": self.details}


def fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10000 else str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        if v == 0:
            return "0"
        a = abs(v)
        if a >= 1e6:
            return f"{v:.3g}"
        if a >= 100:
            return f"{v:.0f}"
        if a >= 10:
            return f"{v:.1f}"
        if a >= 0.01:
            return f"{v:.3g}"
        return f"{v:.2e}"
    return str(v)


def _cell(v) -> str:
    return fmt(v).replace("|", "\\|").replace("\n", " ")


def to_markdown(report: dict) -> str:
    m = report["machine"]
    out = [f"# Benchmarks ({'quick' if report['quick'] else 'full'} run)", "",
           f"Date: {report['date']}  ", f"Command: `{report['command']}`", "",
           "| machine | |", "| --- | --- |"]
    for k, v in m.items():
        out.append(f"| {k} | {_cell(v)} |")
    out.append("")
    out += ["## Targets", "",
            "Timed targets are judged on the worst quartile of interleaved rounds (the lower "
            "quartile of a ratio that must be high, the upper one of a time that must be low); "
            "the spread column gives median [lower quartile, upper quartile] over the rounds.", "",
            "| section | target | measured (judged) | spread | target | verdict |",
            "| --- | --- | --- | --- | --- | --- |"]
    for s in report["sections"]:
        for t in s["targets"]:
            val = "-" if t["value"] is None else f"{fmt(t['value'])} {t['unit']}"
            sp = t.get("spread")
            spread = (f"{fmt(sp['median'])} [{fmt(sp['q1'])}, {fmt(sp['q3'])}], {sp['rounds']} rounds"
                      if sp else "-")
            verdict = {True: "met", False: "**NOT met**", None: "not measured"}[t["met"]]
            out.append(f"| {s['key']} | {_cell(t['name'])} | {val} | {spread} | "
                       f"{t['op']} {fmt(t['threshold'])} {t['unit']} | {verdict} |")
    out.append("")
    for i, s in enumerate(report["sections"], 1):
        out += [f"## {i}. {s['title']}", ""]
        if s["status"] != "ok":
            out += [f"Status: {s['status']}", ""]
        out += [n + "  " for n in s["notes"]]
        if s["notes"]:
            out.append("")
        if s["rows"]:
            cols = s["columns"]
            out.append("| " + " | ".join(f"{c['name']} [{c['unit']}]" if c["unit"] else c["name"]
                                         for c in cols) + " |")
            out.append("|" + "|".join(" --- " for _ in cols) + "|")
            for r in s["rows"]:
                out.append("| " + " | ".join(_cell(r.get(c["name"])) for c in cols) + " |")
            out.append("")
        for t in s["targets"]:
            out.append(f"- {Target(**{k: t[k] for k in ('name', 'value', 'unit', 'op', 'threshold', 'note')}).line()}")
        if s["targets"]:
            out.append("")
        if s["details"]:
            out += ["```"] + s["details"] + ["```", ""]
    return "\n".join(out).rstrip() + "\n"


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text)


def write(report: dict, out_dir: Path) -> tuple[Path, Path]:
    j, md = out_dir / "bench.json", out_dir / "bench.md"
    _atomic_write(j, json.dumps(report, indent=1, default=_json_default) + "\n")
    _atomic_write(md, to_markdown(report))
    return j, md


def _json_default(o):
    import numpy as np
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
