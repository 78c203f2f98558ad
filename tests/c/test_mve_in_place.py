"""The Helium f32 kernel in place on the Cortex-M55 (QEMU mps3-an547): the
firmware's command loop never calls a kernel in place, so tests/hil cannot
reach that path; tests/c/mve_in_place.c compares in-place against
out-of-place results on the emulated core and exits with the verdict."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FW = ROOT / "firmware"

pytestmark = pytest.mark.skipif(
    not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
    reason="needs gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm")


def test_helium_f32_in_place_equals_out_of_place(tmp_path):
    (tmp_path / "memory.ld").write_text(
        "MEMORY\n{\n    FLASH (rx) : ORIGIN = 0x00000000, LENGTH = 0x00080000\n"
        "    RAM (rwx) : ORIGIN = 0x01000000, LENGTH = 0x00200000\n}\n")
    elf = tmp_path / "test.elf"
    cc = ["arm-none-eabi-gcc", "-mcpu=cortex-m55", "-mfpu=auto", "-mfloat-abi=hard", "-mthumb",
          "-O2", "-std=c99", "-ffp-contract=off", "-fno-strict-aliasing", "-Wall", "-Werror",
          f"-I{FW / 'include'}", f"-I{FW / 'ports' / 'cortex-m'}", "-DBNRT_IRQ_COUNT=96",
          "-DBNRT_UART_IRQ=33", "-DBNRT_HAS_FPU=1", "-DBNRT_SEMIHOSTING=1",
          "-nostartfiles", "-specs=nano.specs", "-specs=nosys.specs",
          f"-Wl,-L,{tmp_path}", "-T", str(FW / "ports" / "cortex-m" / "cortex-m.ld"),
          str(FW / "ports" / "cortex-m" / "startup.c"),
          str(FW / "src" / "kernels" / "mve" / "bn_affine_f32.c"),
          str(FW / "src" / "kernels" / "kernel_args.c"),
          str(ROOT / "tests" / "c" / "mve_in_place.c"), "-lm", "-o", str(elf)]
    build = subprocess.run(cc, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run(["qemu-system-arm", "-M", "mps3-an547", "-nographic", "-monitor", "none",
                          "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"exit {run.returncode} (1: in place differs; 3: fault)"
