"""Section 3: firmware footprint per board, from the linker map of the real
image (`make -C firmware board BOARD=<name>`, built into our own $BUILD).

Every input section the map lists is attributed to the object it came from:
  core      firmware/src/{model,crc32,status}.c + firmware/src/kernels/*  (parser + kernels)
  protocol  firmware/src/{cmdloop,cobs}.c                                  (framing + command loop)
  train     firmware/src/cmd_train.c + kernels/bn_train_f32.c            (optional on-device BN statistics)
  port      firmware/ports/*, boards/<name>/*                              (startup, HAL, UART)
  libc      libc/libm/libgcc archive members pulled in by any of the above
and to flash (.text, .rodata, .ARM.exidx, .data load image) or static RAM
(.data, .bss).  I/O frame buffers and model slots are reported apart.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

from ..boards import load_boards
from . import firmware_info
from .report import Section, Target

FLASH_SECTIONS = (".text", ".rodata", ".ARM.exidx", ".ARM.extab", ".vectors")
RAM_SECTIONS = (".data", ".bss", ".noinit")
CORE_FILES = ("src/model.o", "src/crc32.o", "src/status.o")
PROTOCOL_FILES = ("src/cmdloop.o", "src/cobs.o")
TRAIN_FILES = ("src/cmd_train.o", "src/kernels/bn_train_f32.o")
# bnrt_train_t (firmware/include/bnrt_train.h): 8 floats + 1 double per channel
TRAIN_BYTES_PER_CHANNEL = 40
TRAIN_CHANNELS_DEFAULT = 256
_IN_RE = re.compile(r"^ (\*\(COMMON\)|COMMON|\.[^\s*]+)(?:\s+(0x[0-9a-fA-F]+)\s+(0x[0-9a-fA-F]+)\s+(\S.*))?$")
_CONT_RE = re.compile(r"^\s+(0x[0-9a-fA-F]+)\s+(0x[0-9a-fA-F]+)\s+(\S.*)$")
_FILL_RE = re.compile(r"^ \*fill\*\s+(0x[0-9a-fA-F]+)\s+(0x[0-9a-fA-F]+)")
_OUT_RE = re.compile(r"^(\.\S+)\s+(0x[0-9a-fA-F]+)\s+(0x[0-9a-fA-F]+)")


def category(path: str) -> str:
    if path == "(fill)":
        return "fill"
    p = path.replace("\\", "/")
    if ".a(" in p or p.endswith(".a"):
        return "libc"
    if p.endswith(TRAIN_FILES):
        return "train"
    if "/src/kernels/" in p or p.endswith(CORE_FILES):
        return "core"
    if p.endswith(PROTOCOL_FILES):
        return "protocol"
    return "port"


def parse_map(text: str) -> list[dict]:
    """Input sections of the memory map: {out, name, size, file}."""
    lines = text.splitlines()
    try:
        start = next(i for i, l in enumerate(lines) if l.startswith("Linker script and memory map"))
    except StopIteration:
        raise ValueError("not a GNU ld map file (no memory map)") from None
    items, out = [], None
    i = start
    while i < len(lines):
        line = lines[i]
        m = _OUT_RE.match(line)
        if m or (line.startswith(".") and len(line.split()) == 1):
            out = (m.group(1) if m else line.strip())
            i += 1
            continue
        f = _FILL_RE.match(line)
        if f and out is not None:
            items.append({"out": out, "name": "*fill*", "size": int(f.group(2), 16), "file": "(fill)"})
            i += 1
            continue
        m = _IN_RE.match(line)
        if m and out is not None:
            name, size, path = m.group(1), m.group(3), m.group(4)
            if size is None and i + 1 < len(lines):
                c = _CONT_RE.match(lines[i + 1])
                if c:
                    size, path = c.group(2), c.group(3)
                    i += 1
            if size is not None and path:
                items.append({"out": out, "name": name, "size": int(size, 16), "file": path.strip()})
        i += 1
    return items


def summarize(items: list[dict], max_payload: int, slot_size: int,
              train_state: int = TRAIN_BYTES_PER_CHANNEL * TRAIN_CHANNELS_DEFAULT) -> dict:
    """Bytes per category: flash, ram, plus excluded buffers/slots (the command
    context holds the two model slots and the training state)."""
    res = {c: {"flash": 0, "ram": 0} for c in ("core", "protocol", "train", "port", "libc", "fill")}
    buffers = 0
    for it in items:
        out = it["out"]
        cat = category(it["file"])
        size = it["size"]
        if out.startswith(FLASH_SECTIONS):
            res[cat]["flash"] += size
        elif out.startswith(RAM_SECTIONS):
            if out.startswith(".data"):
                res[cat]["flash"] += size          # its initial values live in flash
            if out.startswith(".bss") and cat in ("protocol", "core", "train", "port"):
                if size >= 2 * slot_size + train_state:   # the command context
                    buffers += 2 * slot_size + train_state
                    size -= 2 * slot_size + train_state
                elif size >= max_payload:          # a frame buffer (rx/tx)
                    buffers += size
                    size = 0
            res[cat]["ram"] += size
    res["excluded_buffers"] = buffers
    return res


def build_board(board: str, build_dir: Path) -> Path:
    res = subprocess.run(["make", "-s", "--no-print-directory", "-C", str(firmware_info.FW_DIR),
                          "board", f"BOARD={board}", f"BUILD={build_dir}"],
                         capture_output=True, text=True, timeout=300)
    elf = build_dir / board / "firmware.elf"
    if res.returncode != 0 or not elf.exists():
        raise RuntimeError(f"make board BOARD={board} failed: {(res.stderr or res.stdout).strip()[-300:]}")
    return build_dir / board / "firmware.map"


def run(out_dir: Path, quick: bool) -> Section:
    sec = Section("footprint", "Firmware footprint per board (from the linker map)",
                  [("board", ""), ("cpu", ""), ("part", ""), ("flash", "bytes"),
                   ("static_ram", "bytes")])
    sec.notes.append("Each input section of firmware.map attributed to its object: core = "
                     "parser + kernels + CRC + status names, protocol = COBS framing + command "
                     "loop, train = optional on-device BN statistics (TRAIN/STATS/FREEZE: "
                     "cmd_train.c + bn_train_f32.c, not part of the target), port = startup + "
                     "HAL + UART driver + board file, libc = C library / "
                     "libgcc members (memcpy, memset, 64-bit division, ...). Flash = .text + "
                     ".rodata + .ARM.exidx + .data initial values; static RAM = .data + .bss "
                     "without the I/O frame buffers (rx/tx) and the two model slots, which are "
                     "listed apart. The stack (reserved by the linker script) is not counted.")
    if not firmware_info._arm_mk():
        sec.skip("firmware/mk/arm.mk not present yet")
        return sec
    boards = [b for b in load_boards().values() if b.kind in ("qemu", "serial")]
    if quick:
        boards = [b for b in boards if b.name == firmware_info.CORE_BOARD["m4"]] or boards[:1]
    build_dir = out_dir / "fw"
    worst = {"flash": None, "ram": None}
    for b in boards:
        try:
            mp = build_board(b.name, build_dir)
            items = parse_map(mp.read_text())
        except (RuntimeError, ValueError, OSError, subprocess.TimeoutExpired) as e:
            sec.notes.append(f"{b.name}: {e}")
            continue
        s = summarize(items, int(b.get("build.max_payload", 4096)),
                      int(b.get("build.model_slot_size", 16384)))
        for part in ("core", "protocol", "train", "port", "libc"):
            sec.rows.append({"board": b.name, "cpu": b.data.get("cpu"), "part": part,
                             "flash": s[part]["flash"], "static_ram": s[part]["ram"]})
        cp_flash = s["core"]["flash"] + s["protocol"]["flash"]
        cp_ram = s["core"]["ram"] + s["protocol"]["ram"]
        sec.rows.append({"board": b.name, "cpu": b.data.get("cpu"), "part": "core + protocol",
                         "flash": cp_flash, "static_ram": cp_ram})
        sec.rows.append({"board": b.name, "cpu": b.data.get("cpu"),
                         "part": "I/O buffers + model slots + training state (excluded)", "flash": 0,
                         "static_ram": s["excluded_buffers"]})
        if b.name == firmware_info.CORE_BOARD["m4"]:
            per_obj: dict = {}
            for it in items:
                if it["out"].startswith(FLASH_SECTIONS + (".data",)) and \
                        category(it["file"]) in ("core", "protocol", "libc"):
                    key = it["file"].split("/obj/")[-1].split("/")[-1]
                    per_obj[key] = per_obj.get(key, 0) + it["size"]
            sec.details.append(f"{b.name} flash bytes per object (core, protocol, libc):")
            sec.details += [f"  {v:6d}  {k}" for k, v in sorted(per_obj.items(), key=lambda kv: -kv[1])]
        worst["flash"] = max(worst["flash"] or 0, cp_flash)
        worst["ram"] = max(worst["ram"] or 0, cp_ram)
    sec.targets.append(Target("parser + kernels + protocol flash (worst board)", worst["flash"],
                              "bytes", "<=", 4096, "C library helpers not included"))
    sec.targets.append(Target("parser + kernels + protocol static RAM (worst board)", worst["ram"],
                              "bytes", "<=", 1024, "I/O buffers and model slots not included"))
    return sec
