"""The farm rehearsed on one machine: serve emulated boards through labgrid,
run the hardware-in-the-loop tests sharded over them with pytest-xdist, run
the same tests directly on the same kinds of boards, and compare.

  report = rehearse(["host-sim", "qemu-mps2-an386"], ["tests/hil/test_boards.py"])

Each test of the sharded run ran on one board (the JUnit property
`bnrt_board`); the direct run ran every test on every board.  The rehearsal
passes when every board was used and each sharded (test, board) outcome
equals the direct run's.  scripts/farm-demo.py is its command line.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from ..errors import BoardError

ROOT = Path(__file__).resolve().parents[2]
SERVE_TIMEOUT = 120.0


def junit_outcomes(path: Path, board_param: str | None = None) -> dict[tuple[str, str], str]:
    """(test id without its board parameter, board) -> passed/failed/error/skipped.
    The board parameter is `board_param` (a labgrid spec), else the board's name."""
    out = {}
    if not path.exists():
        return out
    for case in ET.parse(path).iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        board = props.get("bnrt_board")
        if board is None:
            continue
        name = case.get("name")
        test, _, params = name.partition("[")
        params = params.removesuffix("]")
        prefix = board_param or board
        if params.startswith(prefix):
            params = params[len(prefix):].lstrip("-")
        kinds = [c.tag for c in case if c.tag in ("failure", "error", "skipped")]
        key = (f"{case.get('classname')}::{test}[{params}]", board)
        out[key] = {"failure": "failed", "error": "error", "skipped": "skipped"}.get(
            kinds[0] if kinds else "", "passed")
    return out


def _pytest(args: list[str], junit: Path, env: dict, timeout: float) -> int:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}", *args]
    quiet = {} if os.environ.get("BNRT_FARM_VERBOSE") else \
        {"stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT}     # outcomes come from the XML
    return subprocess.run(cmd, cwd=ROOT, env=env, timeout=timeout, stdin=subprocess.DEVNULL,
                          **quiet).returncode


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def rehearse(boards: list[str], tests: list[str], *, workers: int | None = None,
             tag: str = "farm=bnrt_rehearsal", timeout: float = 600.0,
             on_step=lambda text: None) -> dict:
    """Returns a report dict; report["pass"] says whether the rehearsal held."""
    workers = workers or len(boards)
    work = Path(tempfile.mkdtemp(prefix="bnrt-rehearsal-"))
    ready = work / "lab.json"
    env = dict(os.environ)
    env.pop("PYTEST_ADDOPTS", None)
    serve = subprocess.Popen([sys.executable, "-m", "toolkit", "farm", "serve", *boards, "--tag", tag,
                              "--name", "bnrt-rehearsal", "--ready-file", str(ready)],
                             cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                             stdout=open(work / "serve.log", "wb"), stderr=subprocess.STDOUT)
    report = {"boards": boards, "tests": tests, "workers": workers, "pass": False}
    lab = {}
    try:
        on_step(f"starting the lab: {', '.join(boards)}")
        deadline = time.monotonic() + SERVE_TIMEOUT
        while not ready.exists():
            if serve.poll() is not None or time.monotonic() > deadline:
                log = (work / "serve.log").read_text(errors="replace").strip().splitlines()
                raise BoardError(f"`toolkit farm serve` did not come up: {log[-1] if log else 'no output'}",
                                 f"run `toolkit farm serve {' '.join(boards)}` by hand")
            time.sleep(0.2)
        lab = json.loads(ready.read_text())
        report["coordinator"] = lab["coordinator"]
        on_step(f"sharded run: pytest -n {workers} --board labgrid:{tag} (coordinator {lab['coordinator']})")
        t0 = time.monotonic()
        report["sharded_status"] = _pytest(["-n", str(workers), "--bnrt-board", f"labgrid:{tag}",
                                            "--bnrt-coordinator", lab["coordinator"], *tests],
                                           work / "sharded.xml", env, timeout)
        report["sharded_seconds"] = round(time.monotonic() - t0, 1)
        on_step(f"direct run: pytest --board {','.join(sorted(set(boards)))}")
        t0 = time.monotonic()
        report["direct_status"] = _pytest(["--bnrt-board", ",".join(sorted(set(boards))), *tests],
                                          work / "direct.xml", env, timeout)
        report["direct_seconds"] = round(time.monotonic() - t0, 1)
        sharded = junit_outcomes(work / "sharded.xml", f"labgrid:{tag}")
        direct = junit_outcomes(work / "direct.xml")
    finally:
        if serve.poll() is None:
            serve.send_signal(signal.SIGTERM)
            try:
                serve.wait(30)
            except subprocess.TimeoutExpired:
                serve.kill()
                serve.wait()
    report["left_running"] = [pid for pid in lab.get("pids", []) if _alive(pid)]
    used = sorted({board for _, board in sharded})
    report["boards_used"] = used
    report["sharded"] = {f"{t} @ {b}": o for (t, b), o in sorted(sharded.items())}
    report["differences"] = [f"{t} @ {b}: sharded {o}, direct {direct.get((t, b), 'not run')}"
                             for (t, b), o in sorted(sharded.items()) if direct.get((t, b)) != o]
    report["pass"] = (bool(sharded) and set(used) == set(boards) and not report["differences"]
                      and not report["left_running"])
    shutil.rmtree(work, ignore_errors=True)
    return report
