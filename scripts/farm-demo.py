#!/usr/bin/env python3
"""Rehearse a labgrid board farm on this machine (docs/farm.md).

Starts a labgrid coordinator and an exporter serving emulated boards
(`toolkit farm serve`, loopback addresses only), runs the hardware-in-the-loop
tests sharded over them with `pytest -n N`, runs them directly on the same
boards, compares, and stops everything it started by process id.

  python scripts/farm-demo.py                       # host-sim + qemu-mps2-an386, tests/hil/test_boards.py
  python scripts/farm-demo.py --board host-sim --board qemu-mps2-an385 -- -k info
  python scripts/farm-demo.py --json

Exit status 0 when both runs agree and every board was used."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from toolkit.errors import ToolkitError  # noqa: E402
from toolkit.farm.rehearsal import rehearse  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", action="append", help="an emulated board to serve (repeat; default "
                        "host-sim and qemu-mps2-an386)")
    parser.add_argument("-n", "--workers", type=int, help="pytest-xdist workers (default: one per board)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("pytest_args", nargs="*", help="tests and pytest options (after --); default "
                        "tests/hil/test_boards.py")
    args = parser.parse_args(argv)
    boards = args.board or ["host-sim", "qemu-mps2-an386"]
    tests = args.pytest_args or ["tests/hil/test_boards.py"]
    try:
        report = rehearse(boards, tests, workers=args.workers,
                          on_step=lambda text: print(f"... {text}", file=sys.stderr))
    except ToolkitError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, outcome in report["sharded"].items():
            print(f"{outcome:<8} {key}")
        print(f"boards used: {', '.join(report['boards_used']) or 'none'} of {', '.join(boards)}")
        print(f"sharded run {report['sharded_seconds']} s (-n {report['workers']}), "
              f"direct run {report['direct_seconds']} s")
        for line in report["differences"]:
            print(f"difference: {line}")
        if report["left_running"]:
            print(f"still running after the stop: {report['left_running']}")
        print("pass" if report["pass"] else "FAIL")
    return 0 if report["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
