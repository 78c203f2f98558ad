"""Exact instruction counts of cross-compiled Cortex-M functions under unicorn.

`build_image()` compiles C sources with arm-none-eabi-gcc for one core and
links them with a tiny linker script at fixed addresses; `Machine` loads that
ELF into unicorn (Thumb, M-class, the core's CPU model, FPU enabled for
hard-float builds) and calls a symbol from the ELF symbol table with AAPCS
arguments, counting every executed instruction with a code hook.

We count instructions, not cycles: unicorn has no pipeline or memory timing.
"""
from __future__ import annotations

import collections
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import BuildFailed, ToolMissing, first_error
from .elf import Elf

CC = "arm-none-eabi-gcc"
OBJDUMP = "arm-none-eabi-objdump"

FLASH_BASE, FLASH_SIZE = 0x00000000, 0x00100000
RAM_BASE, RAM_SIZE = 0x20000000, 0x00100000      # .data, .bss, stack
ARENA_BASE, ARENA_SIZE = 0x60000000, 0x01000000   # tensors and parameters
RETURN_ADDR = FLASH_BASE + FLASH_SIZE - 0x100      # `until` address for emu_start

# The flags each core builds with; firmware/mk/arm.mk is the authority and
# `core_flags()` prefers what it says when it is present.
CORES = {
    "m3": {"cpu": "CORTEX_M3", "flags": ["-mcpu=cortex-m3", "-mthumb", "-mfloat-abi=soft"]},
    "m4": {"cpu": "CORTEX_M4", "flags": ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16",
                                         "-mfloat-abi=hard"]},
    "m7": {"cpu": "CORTEX_M7", "flags": ["-mcpu=cortex-m7", "-mthumb", "-mfpu=fpv5-d16",
                                         "-mfloat-abi=hard"]},
}
COMMON_CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-ffp-contract=off",
                 "-ffunction-sections", "-fdata-sections"]

LINKER_SCRIPT = f"""
MEMORY {{
  FLASH (rx) : ORIGIN = {FLASH_BASE:#x}, LENGTH = {FLASH_SIZE - 0x1000:#x}
  RAM (rwx)  : ORIGIN = {RAM_BASE:#x}, LENGTH = {RAM_SIZE:#x}
}}
SECTIONS {{
  .text : {{ *(.text*) *(.rodata*) }} > FLASH
  .ARM.exidx : {{ *(.ARM.exidx*) }} > FLASH
  .data : {{ *(.data*) }} > RAM
  .bss (NOLOAD) : {{ *(.bss*) *(COMMON) }} > RAM
}}
"""


def have_toolchain() -> bool:
    return shutil.which(CC) is not None and shutil.which(OBJDUMP) is not None


def _run(cmd: list[str], cwd: Path | None = None) -> str:
    try:
        res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise ToolMissing(f"{cmd[0]} not found",
                          "install gcc-arm-none-eabi (scripts/setup-and-test.sh)") from None
    if res.returncode != 0:
        raise BuildFailed(f"{cmd[0]} failed: {first_error(res.stderr, 'error')}",
                          "check the sources and flags", res.stderr)
    return res.stdout


def cc_version() -> str:
    return _run([CC, "--version"]).splitlines()[0]


def build_image(core: str, sources: list[Path], roots: list[str], out_dir: Path,
                opt: str = "-O2", include: list[Path] = (), flags: list[str] | None = None,
                extra_cflags: list[str] = ()) -> Path:
    """Compile `sources` for `core` and link an ELF that keeps `roots`.

    `flags`: the full code-generation flags (default: the core's -m flags plus
    COMMON_CFLAGS); any -O in them is replaced by `opt`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if flags is None:
        flags = list(CORES[core]["flags"]) + COMMON_CFLAGS
    flags = [f for f in flags if not f.startswith("-O")]
    cpu_flags = [f for f in flags if f.startswith("-m")]
    cflags = flags + [opt, "-Wall", "-Wextra", "-Werror"] + list(extra_cflags) + \
        [f"-I{p}" for p in include]
    objs = []
    for src in sources:
        obj = out_dir / (src.stem + ".o")
        _run([CC, *cflags, "-c", str(src), "-o", str(obj)])
        objs.append(str(obj))
    ld = out_dir / "bench.ld"
    ld.write_text(LINKER_SCRIPT)
    elf = out_dir / "bench.elf"
    undef = [f"-Wl,--undefined={r}" for r in roots]
    _run([CC, *cpu_flags, "-nostartfiles", "--specs=nano.specs", "-T", str(ld),
          "-Wl,--gc-sections", f"-Wl,--entry={roots[0]}", *undef, *objs,
          "-lm", "-lc", "-lgcc", "-o", str(elf)])
    return elf


@dataclass
class CallResult:
    ret: int
    instructions: int
    hot: dict   # address -> times executed


class Machine:
    """One unicorn Cortex-M with an ELF image loaded."""

    def __init__(self, elf_path: Path, core: str, hard_float: bool | None = None):
        import unicorn
        import unicorn.arm_const as A
        self._uc_mod, self._A = unicorn, A
        self.elf = Elf.read(elf_path)
        self.core = core
        uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS)
        uc.ctl_set_cpu_model(getattr(A, "UC_CPU_ARM_" + CORES[core]["cpu"]))
        uc.mem_map(FLASH_BASE, FLASH_SIZE)
        uc.mem_map(RAM_BASE, RAM_SIZE)
        uc.mem_map(ARENA_BASE, ARENA_SIZE)
        for seg in self.elf.segments:
            if seg.data:
                uc.mem_write(seg.vaddr, seg.data)
        # a `bx lr` landing pad is not needed: emu_start stops at RETURN_ADDR
        if hard_float is None:
            hard_float = any("-mfloat-abi=hard" in f for f in CORES[core]["flags"])
        if hard_float:
            # CPACR: full access to CP10/CP11 (the FPU); FPEXC.EN for good measure
            uc.reg_write(A.UC_ARM_REG_C1_C0_2, 0xF << 20)
            uc.reg_write(A.UC_ARM_REG_FPEXC, 0x40000000)
        self.uc = uc
        self._arena_next = ARENA_BASE
        self._counts: collections.Counter = collections.Counter()
        uc.hook_add(unicorn.UC_HOOK_CODE, self._on_code)

    def _on_code(self, uc, address, size, user):
        self._counts[address] += 1

    # -- memory
    def alloc(self, data: bytes, align: int = 16) -> int:
        addr = (self._arena_next + align - 1) // align * align
        if addr + len(data) > ARENA_BASE + ARENA_SIZE:
            raise MemoryError("unicorn arena exhausted")
        self.uc.mem_write(addr, bytes(data))
        self._arena_next = addr + len(data)
        return addr

    def reset_arena(self) -> None:
        self._arena_next = ARENA_BASE

    def read(self, addr: int, n: int) -> bytes:
        return bytes(self.uc.mem_read(addr, n))

    # -- calls
    def call(self, name: str, args: list[int]) -> CallResult:
        """Call a function with up to 4 register and any number of stack words."""
        A = self._A
        sym = self.elf.symbol(name)
        sp = RAM_BASE + RAM_SIZE - 0x40
        stack_args = [a & 0xFFFFFFFF for a in args[4:]]
        sp -= 4 * len(stack_args)
        sp &= ~7
        if stack_args:
            self.uc.mem_write(sp, struct.pack(f"<{len(stack_args)}I", *stack_args))
        for i, a in enumerate(args[:4]):
            self.uc.reg_write(A.UC_ARM_REG_R0 + i, a & 0xFFFFFFFF)
        self.uc.reg_write(A.UC_ARM_REG_SP, sp)
        self.uc.reg_write(A.UC_ARM_REG_LR, RETURN_ADDR | 1)
        self._counts = collections.Counter()
        self.uc.emu_start((sym.value & ~1) | 1, RETURN_ADDR, timeout=0, count=0)
        hot = dict(self._counts)
        return CallResult(self.uc.reg_read(A.UC_ARM_REG_R0), sum(hot.values()), hot)


def per_element(count_small: int, count_big: int, n_small: int, n_big: int) -> float:
    """Instructions per element with the call overhead removed."""
    return (count_big - count_small) / (n_big - n_small)


def disassemble(elf_path: Path, symbol: str) -> list[tuple[int, str]]:
    """(address, text) of every instruction of `symbol` (arm-none-eabi-objdump)."""
    out = _run([OBJDUMP, "-d", "--no-show-raw-insn", f"--disassemble={symbol}", str(elf_path)])
    lines = []
    for line in out.splitlines():
        head, sep, rest = line.partition(":\t")
        if sep and head.strip() and all(c in "0123456789abcdef" for c in head.strip()):
            lines.append((int(head.strip(), 16), rest.strip()))
    return lines


def backward_loops(insns: list[tuple[int, str]]) -> list[tuple[int, int]]:
    """(target, branch address) of every branch to an earlier address within the
    function: the loops of the disassembly, found without running anything."""
    loops = []
    addrs = {a for a, _ in insns}
    for addr, text in insns:
        parts = text.split()
        if not parts:
            continue
        op = parts[0].split(".")[0]
        is_branch = op in ("b", "bne", "beq", "bcc", "bcs", "bhi", "bls", "bge", "blt", "bgt",
                           "ble", "bmi", "bpl", "blo", "bhs") or op in ("cbz", "cbnz")
        if not is_branch:
            continue
        target_s = parts[-2] if parts[-1].startswith("<") else parts[-1]
        try:
            target = int(target_s.rstrip(","), 16)
        except ValueError:
            continue
        if target < addr and target in addrs:
            loops.append((target, addr))
    return loops


def hot_loop(insns: list[tuple[int, str]], hot: dict, per: int,
             min_count: int | None = None) -> list[tuple[int, str, float]]:
    """The instructions executed at least `min_count` (default `per`) times, with
    their counts divided by `per` (the element count): where the instructions go."""
    floor = per if min_count is None else min_count
    return [(a, t, hot.get(a, 0) / per) for a, t in insns if hot.get(a, 0) >= floor]
