"""Build Cortex-M firmware images (firmware/mk/arm.mk) and measure them.

`build(board)` writes the board's make fragment (toolkit/boardschema.py), runs
`make -C firmware board BOARD=<name>` (incremental: a no-op when the image is
up to date) under a per-board lock, and returns the
image paths with the flash and RAM each uses, read from the ELF's sections
(`arm-none-eabi-size -A`) and the board's memory map in board.toml.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import boardschema
from .boards import Board, get_board
from .boardschema import write_fragment
from .errors import BuildFailed, InputError, ToolMissing, first_error
from .format.spec import DTYPES as _DTYPE_IDS
from .fsutil import atomic_write, locked
from .resources import build_dir, firmware_dir

CROSS_PACKAGES = "gcc-arm-none-eabi libnewlib-arm-none-eabi"
ARM_KINDS = boardschema.ARM_KINDS
BUILD_TIMEOUT = 600
DTYPES = tuple(_DTYPE_IDS)      # f32 s8 s16: the dtypes an image can contain


@dataclass
class Image:
    board: str
    elf: Path
    bin: Path
    flash_used: int
    flash_size: int
    ram_used: int
    ram_size: int
    sections: dict = field(default_factory=dict)   # name -> (address, size)
    config: str = ""                               # the build switches (Config.describe)
    switches: dict = field(default_factory=dict)   # dtypes, train, protocol, boot_model

    def as_json(self) -> dict:
        d = asdict(self)
        d["elf"], d["bin"] = str(self.elf), str(self.bin)
        d["sections"] = {k: {"address": a, "size": s} for k, (a, s) in self.sections.items()}
        return d


def require_tool(name: str, packages: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ToolMissing(f"`{name}` is not installed",
                          f"apt-get install {packages} (scripts/setup-and-test.sh installs it)")
    return path


def _arm_board(board: Board | str) -> Board:
    board = get_board(board) if isinstance(board, str) else board
    if board.kind not in ARM_KINDS:
        raise InputError(f"board {board.name!r} is of kind {board.kind!r}: it has no Cortex-M image",
                         "pick a qemu-* board or a real one (`toolkit boards`)")
    return board


@dataclass(frozen=True)
class Config:
    """Build switches (docs/runtime.md "Build switches"): the same three as the
    make variables BNRT_DTYPES / BNRT_TRAIN / BNRT_PROTOCOL and board.toml [build]."""
    dtypes: tuple[str, ...] = DTYPES
    train: bool = True
    protocol: bool = True

    @property
    def tag(self) -> str:
        """'' for the default configuration, else the folder suffix arm.mk uses."""
        d = tuple(sorted(self.dtypes))
        return ("" if d == tuple(sorted(DTYPES)) else "-" + "-".join(d)) + ("" if self.train else "-notrain")

    def describe(self) -> str:
        return " ".join(self.dtypes) + (", train" if self.train else ", no train") + \
            (", protocol" if self.protocol else ", no protocol")

    def make_vars(self) -> list[str]:
        return [f"BNRT_DTYPES={' '.join(self.dtypes)}", f"BNRT_TRAIN={int(self.train)}",
                f"BNRT_PROTOCOL={int(self.protocol)}"]


def config_for(board: Board, dtypes=None, train=None, protocol=None) -> Config:
    """The board's [build] switches, overridden by the given ones (None: keep)."""
    b = board.data.get("build", {})
    dtypes = list(dtypes if dtypes is not None else b.get("dtypes", DTYPES))
    bad = [d for d in dtypes if d not in DTYPES]
    if bad or not dtypes:
        raise InputError(f"unknown dtype {', '.join(bad)!s}" if bad else "no dtype selected",
                         f"choose from {', '.join(DTYPES)} (e.g. --dtypes s8,f32)")
    dtypes = tuple(d for d in DTYPES if d in dtypes)
    protocol = bool(b.get("protocol", True) if protocol is None else protocol)
    train = bool(b.get("train", True) if train is None else train) and protocol
    if not protocol:
        raise InputError(f"a {board.name} image is the serial protocol server: it cannot be built "
                         "without the protocol",
                         "link the runtime into your own firmware instead (firmware/CMakeLists.txt "
                         "or firmware/bnrt.mk; examples/deploy)")
    return Config(dtypes, train, protocol)


def _boot_model_source(out: Path, model: Path) -> Path:
    """Render `model` (.bnm) as bnrt_boot_model.c in `out`; rewritten only when it changed."""
    from .format.csource import render
    from .format.reader import read_model
    try:
        blob = Path(model).read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {model}: {e.strerror or e}", "check the path") from None
    read_model(blob)
    src = out / "boot" / "bnrt_boot_model.c"
    src.parent.mkdir(parents=True, exist_ok=True)
    for path, text in render(blob, src, Path(model).name).items():
        if not path.exists() or path.read_text() != text:
            atomic_write(path, text.encode())
    return src


def build(board: Board | str, jobs: int | None = None, config: Config | None = None,
          model: str | os.PathLike | None = None) -> Image:
    """Build (or bring up to date) the image of `board` in `config` (default:
    board.toml's [build]), with `model` (.bnm) linked in as the boot model;
    returns it measured."""
    board = _arm_board(board)
    config = config or config_for(board)
    require_tool("make", "make")
    require_tool("arm-none-eabi-gcc", CROSS_PACKAGES)
    out = build_dir() / (board.name + config.tag + ("-model" if model else ""))
    cmd = ["make", "-s", "--no-print-directory", "-C", str(firmware_dir()), "board",
           f"BOARD={board.name}", f"ARM_BOARDS_DIR={board.path.parent}", f"BUILD={build_dir()}",
           f"ARM_OUT={out}", *config.make_vars(), f"-j{jobs or os.cpu_count() or 1}"]
    if model:
        cmd.append(f"BNRT_BOOT_MODEL_C={_boot_model_source(out, Path(model))}")
    # One build per board at a time, across processes (pytest -n, a CLI run).
    with locked(out):
        write_fragment(board, build_dir())
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise BuildFailed(f"building {board.name} took over {BUILD_TIMEOUT} s",
                              f"run `make -C firmware board BOARD={board.name}` to see why") from None
    if r.returncode != 0:
        output = r.stderr + r.stdout
        raise BuildFailed(f"building {board.name} failed: {first_error(output)}",
                          f"run `make -C firmware board BOARD={board.name}` for the full output",
                          output)
    image = measure(board, out / "firmware.elf")
    image.config = config.describe() + (f", boot model {Path(model).name}" if model else "")
    image.switches = {"dtypes": list(config.dtypes), "train": config.train, "protocol": config.protocol,
                      "boot_model": Path(model).name if model else None}
    return image


def section_table(elf: Path) -> dict:
    """{section: (address, size)} of the allocated sections of `elf`."""
    size_tool = require_tool("arm-none-eabi-size", CROSS_PACKAGES)
    r = subprocess.run([size_tool, "-A", "-d", str(elf)], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise ToolMissing(f"arm-none-eabi-size cannot read {elf}: {r.stderr.strip()}",
                          "rebuild with `toolkit build --board NAME`")
    sections = {}
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith(".") and parts[1].isdigit() and parts[2].isdigit():
            name, size, addr = parts[0], int(parts[1]), int(parts[2])
            if size and not name.startswith((".debug", ".comment", ".ARM.attributes")):
                sections[name] = (addr, size)
    return sections


def measure(board: Board | str, elf: Path) -> Image:
    """Flash use = every section stored in flash (code, constants, the
    initial values of .data); RAM use = every section placed in RAM (stack,
    .data, .bss including the model slots and frame buffers)."""
    board = _arm_board(board)
    elf = Path(elf)
    if not elf.exists():
        raise InputError(f"no firmware image at {elf}", f"run `toolkit build --board {board.name}`")
    mem = board.data.get("memory", {})
    f0, fs = mem["flash_origin"], mem["flash_size"]
    r0, rs = mem["ram_origin"], mem["ram_size"]
    sections = section_table(elf)
    flash = sum(s for a, s in sections.values() if f0 <= a < f0 + fs)
    ram = sum(s for a, s in sections.values() if r0 <= a < r0 + rs)
    flash += sum(s for name, (a, s) in sections.items() if name == ".data")   # its load image
    return Image(board.name, elf, elf.with_suffix(".bin"), flash, fs, ram, rs, sections)
