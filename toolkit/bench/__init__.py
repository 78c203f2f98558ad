"""Benchmarks: where the runtime stands (docs/bench.md).

    run_bench(quick=False, out_dir=Path("bench-results"), sections=None, progress=print)
        -> (report dict, bench.json path, bench.md path)

Sections (keys): host, tflite, cortexm, helium, footprint, modelsize, link, micropython.
A section that cannot run here (a tool or package missing) is recorded as
skipped with the reason; one that fails is recorded as an error: the other
sections still run and both files are still written.
"""
from __future__ import annotations

import time
import traceback
from pathlib import Path

from . import firmware_info, report
from .report import Section

SECTION_KEYS = ("host", "tflite", "cortexm", "helium", "footprint", "modelsize", "link", "micropython")
TITLES = {"host": "Host kernels", "tflite": "TFLite models", "cortexm": "Cortex-M instructions",
          "helium": "Helium (Cortex-M55) instructions",
          "footprint": "Firmware footprint", "modelsize": "Model size", "link": "Link efficiency",
          "micropython": "MicroPython"}


def _run_section(key: str, quick: bool, work: Path) -> Section:
    if key == "host":
        from . import host
        return host.run(quick)
    if key == "tflite":
        from . import host, tflite
        return tflite.run(quick, lambda: host.Kernels(host.library_path()))
    if key == "cortexm":
        from . import cortexm
        return cortexm.run(work, quick)
    if key == "helium":
        from . import helium
        return helium.run(quick)
    if key == "footprint":
        from . import footprint
        return footprint.run(work, quick)
    if key == "modelsize":
        from . import modelsize
        return modelsize.run(quick)
    if key == "link":
        from . import link
        return link.run(quick)
    if key == "micropython":
        from . import mpy
        return mpy.run(quick)
    raise KeyError(key)


def run_bench(quick: bool = False, out_dir: Path = Path("bench-results"), sections=None,
              progress=None, command: str = "toolkit bench") -> tuple[dict, Path, Path]:
    keys = list(sections) if sections else list(SECTION_KEYS)
    work = firmware_info.BUILD_DIR / "bench"
    say = progress or (lambda msg: None)
    results = []
    t_all = time.perf_counter()
    for key in keys:
        t0 = time.perf_counter()
        say(f"[{key}] {TITLES[key]} ...")
        try:
            sec = _run_section(key, quick, work)
        except Exception as e:   # keep the other sections; record what broke
            sec = Section(key, TITLES[key], [("error", "")])
            sec.fail(f"{type(e).__name__}: {e}")
            sec.details += traceback.format_exc().splitlines()[-8:]
        sec.notes.append(f"Section time: {time.perf_counter() - t0:.1f} s.")
        results.append(sec)
        say(f"[{key}] {sec.status} in {time.perf_counter() - t0:.1f} s")
    rep = {
        "schema": report.SCHEMA,
        "date": firmware_info.now(),
        "command": command,
        "quick": quick,
        "duration_s": round(time.perf_counter() - t_all, 1),
        "machine": firmware_info.machine(),
        "sections": [s.to_dict() for s in results],
    }
    j, md = report.write(rep, Path(out_dir))
    return rep, j, md


def targets(rep: dict) -> list[tuple[str, report.Target]]:
    out = []
    for s in rep["sections"]:
        for t in s["targets"]:
            out.append((s["key"], report.Target(**{k: t[k] for k in
                                                   ("name", "value", "unit", "op", "threshold", "note")})))
    return out
