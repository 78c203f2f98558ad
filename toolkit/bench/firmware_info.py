"""What the benchmarks need to know about the machine, the compilers and the
firmware build: flags per core come from the boards' board.toml (cpu, fpu,
[build].float_abi) and the optimisation level from firmware/mk/arm.mk."""
from __future__ import annotations

import datetime
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

from ..boards import load_boards
from ..resources import build_dir, firmware_dir

FW_DIR = firmware_dir()
BUILD_DIR = build_dir()
# the QEMU board whose build flags stand for each core
CORE_BOARD = {"m3": "qemu-mps2-an385", "m4": "qemu-mps2-an386", "m7": "qemu-mps2-an500"}
DEFAULT_OPT = "-O2"


def _arm_mk() -> str:
    p = FW_DIR / "mk" / "arm.mk"
    return p.read_text() if p.exists() else ""


def arm_opt() -> str:
    """The -O level the Cortex-M images build with (the last -O of ARM_CFLAGS)."""
    opts = [f for f in firmware_cflags("m4") if re.fullmatch(r"-O[0-3sgz]?", f)]
    if opts:
        return opts[-1]
    m = re.search(r"(?<![\w-])(-O[0-3sgz])\b", _arm_mk())
    return m.group(1) if m else DEFAULT_OPT


_CFLAGS_CACHE: dict = {}


def firmware_cflags(core: str) -> list[str]:
    """The code-generation flags (-m, -f, -O, -std) the firmware build uses for
    the board that stands for `core`, asked from make itself
    (`make print-kernel-cflags`); board.toml-derived flags as fallback."""
    if core in _CFLAGS_CACHE:
        return _CFLAGS_CACHE[core]
    flags = []
    if _arm_mk() and shutil.which("make"):
        try:
            res = subprocess.run(
                ["make", "-s", "--no-print-directory", "-C", str(FW_DIR),
                 f"BOARD={CORE_BOARD[core]}", "print-kernel-cflags"],
                capture_output=True, text=True, timeout=60)
            if res.returncode == 0:
                flags = [f for f in res.stdout.split()
                         if f.startswith(("-m", "-f", "-O", "-std"))]
        except (OSError, subprocess.TimeoutExpired):
            flags = []
    if not flags:
        flags = core_flags(core) + ["-std=c99", DEFAULT_OPT, "-ffp-contract=off",
                                    "-fno-strict-aliasing", "-ffunction-sections",
                                    "-fdata-sections"]
    out = list(dict.fromkeys(flags))   # drop repeats, keep order
    _CFLAGS_CACHE[core] = out
    return out


def core_flags(core: str) -> list[str]:
    """-mcpu/-mthumb/-mfpu/-mfloat-abi of the board that stands for `core`."""
    from .armcount import CORES
    board = load_boards().get(CORE_BOARD[core])
    if board is None:
        return list(CORES[core]["flags"])
    cpu = board.data.get("cpu")
    fpu = board.data["fpu"]
    abi = board.get("build.float_abi", "soft" if fpu == "none" else "hard")
    flags = [f"-mcpu={cpu}", "-mthumb"]
    if fpu != "none" and abi != "soft":
        flags.append(f"-mfpu={fpu}")
    flags.append(f"-mfloat-abi={abi}")
    return flags


def _version(cmd: list[str]) -> str | None:
    if not shutil.which(cmd[0]):
        return None
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.splitlines()[0].strip() if out else None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    import numpy as np
    import torch
    info = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "numpy": np.__version__,
        "host_cc": _version(["gcc", "--version"]),
        "arm_cc": _version(["arm-none-eabi-gcc", "--version"]),
        "qemu": _version(["qemu-system-arm", "--version"]),
        "micropython": _version(["micropython", "-c", "import sys; print(sys.version)"]),
        "arm_opt": arm_opt(),
    }
    for core in CORE_BOARD:
        info[f"flags_{core}"] = " ".join(core_flags(core))
    for pkg in ("unicorn", "tflite_micro", "ai_edge_litert", "onnx"):
        try:
            from importlib.metadata import version
            info[pkg] = version(pkg.replace("_", "-"))
        except Exception:
            info[pkg] = None
    return info


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
