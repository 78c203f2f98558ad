"""The schema of board.toml, its validator, and the make fragment made from it.

`validate(data, path)` checks every key against SCHEMA (known key, type,
allowed values, the keys its kind requires) and raises InputError naming the
file, the key and the expected type.  `toolkit.boards.load_boards()` runs it,
so `toolkit boards`, `toolkit build` and the pytest plugin all see the same
verdict.

`make_fragment(board)` renders a validated board as make variables
(`BOARD_<TABLE>_<KEY> := value`); `toolkit build` writes it to
`<build>/<board>/board.mk` before it runs make, and firmware/mk/arm.mk
includes it (and regenerates it with `python3 -m toolkit.boardschema` when it
is missing or older than board.toml), so make and the toolkit never read a
board differently.

    python -m toolkit.boardschema NAME [--boards-path DIR] [-o FILE]   # print (or write) the fragment
"""
from __future__ import annotations

import sys
from pathlib import Path

from .errors import InputError
from .format.spec import COUNTER_KINDS

KINDS = ("sim", "qemu", "serial", "micropython")
ARM_KINDS = ("qemu", "serial")
DTYPES = ("f32", "s16", "s8")


class Key:
    """One key: its type (int, str, bool, list), allowed values, and the board
    kinds that must have it."""

    def __init__(self, typ, doc="", choices=None, required=(), items=None):
        self.typ, self.doc, self.choices, self.required, self.items = typ, doc, choices, required, items

    def expected(self) -> str:
        if self.typ is list:
            what = f"a list of {_TYPE_NAMES[self.items]}"
            return what + (f" from {', '.join(map(repr, self.choices))}" if self.choices else "")
        what = _TYPE_NAMES[self.typ]
        return what + (f", one of {', '.join(map(repr, self.choices))}" if self.choices else "")


_TYPE_NAMES = {int: "an integer", str: "a string", bool: "true or false", list: "a list"}
ARM = ARM_KINDS

# The keys a board.toml may have (docs/boards.md "Adding a board"): top-level
# keys under "", tables under their name.
SCHEMA: dict[str, dict[str, Key]] = {
    "": {
        "name": Key(str, "the folder name", required=KINDS),
        "kind": Key(str, "launcher", choices=KINDS, required=KINDS),
        "description": Key(str, required=KINDS),
        "cpu": Key(str, "gcc -mcpu (host for the simulator)", required=KINDS),
        "fpu": Key(str, 'gcc -mfpu, "none", or "host"', required=KINDS),
        "real": Key(bool, "hardware, not an emulator"),
        "clock_hz": Key(int, "SysTick clock", required=ARM),
    },
    "memory": {k: Key(int, required=ARM)
               for k in ("flash_origin", "flash_size", "ram_origin", "ram_size")},
    "uart": {
        "driver": Key(str, "a folder of firmware/ports/", required=ARM),
        "base": Key(int, required=ARM),
        "irq": Key(int, "receive interrupt number", required=ARM),
        "baud": Key(int, required=ARM),
        "port": Key(str, "default serial port of a real board"),
        "apb_hz": Key(int, "STM32: the USART's bus clock"),
    },
    "counter": {
        "source": Key(str, choices=("dwt", "systick"), required=ARM),
        "kind": Key(str, choices=tuple(COUNTER_KINDS), required=KINDS),
        "hz": Key(int, required=KINDS),
    },
    "flash": {
        "method": Key(str, choices=("qemu", "pyocd", "openocd"), required=ARM),
        "pyocd_target": Key(str),
        "openocd_config": Key(str),
    },
    "qemu": {
        "machine": Key(str, required=("qemu",)),
        "extra_args": Key(list, items=str),
    },
    "build": {
        "float_abi": Key(str, choices=("soft", "softfp", "hard"), required=ARM),
        "irq_count": Key(int, "vector table length", required=ARM),
        "max_payload": Key(int, required=ARM),
        "model_slot_size": Key(int, required=ARM),
        "kernels": Key(str, "a folder of firmware/src/kernels/ whose files replace the scalar kernels"),
        "dtypes": Key(list, "dtypes built into the firmware", choices=DTYPES, items=str),
        "train": Key(bool, "train-mode BN commands"),
        "protocol": Key(bool, "the serial command loop"),
    },
    "micropython": {
        "binary": Key(str),
        "heapsize": Key(str),
        "mpy_arch": Key(str),
        "max_payload": Key(int),
        "max_model": Key(int),
        "port": Key(str),
        "emulator": Key(str, "a launcher for an emulated MicroPython board (qemu-microbit)"),
        "firmware_hex": Key(str, "the MicroPython firmware image an emulator runs"),
    },
}


def _type_ok(key: Key, value) -> bool:
    if key.typ is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if key.typ is list:
        return isinstance(value, list) and all(isinstance(v, key.items) for v in value)
    return isinstance(value, key.typ)


def _describe(value) -> str:
    kind = {bool: "boolean", int: "integer", float: "float", str: "string", list: "list",
            dict: "table"}.get(type(value), type(value).__name__)
    return f"{kind} {value!r}" if not isinstance(value, dict) else kind


def validate(data: dict, path: Path | str) -> dict:
    """Check a parsed board.toml; returns it unchanged or raises InputError."""
    path = str(path)

    def fail(dotted: str, problem: str, fix: str = "") -> InputError:
        return InputError(f"{path}: {dotted}: {problem}",
                          fix or "fix board.toml (docs/boards.md lists every key)")

    for name, value in data.items():
        if name in SCHEMA and name:
            if not isinstance(value, dict):
                raise fail(name, f"must be a table [{name}], got {_describe(value)}")
        elif name not in SCHEMA[""]:
            tables = ", ".join(f"[{t}]" for t in SCHEMA if t)
            raise fail(name, "unknown key", f"use one of {', '.join(SCHEMA[''])} or a table {tables}")
    kind = data.get("kind")
    for table, keys in SCHEMA.items():
        values = data if table == "" else data.get(table, {})
        for name, value in values.items():
            if table == "" and name in SCHEMA and name:
                continue
            dotted = f"{table}.{name}" if table else name
            key = keys.get(name)
            if key is None:
                raise fail(dotted, "unknown key", f"[{table}] has {', '.join(keys)}")
            if not _type_ok(key, value):
                raise fail(dotted, f"must be {key.expected()}, got {_describe(value)}")
            bad = [v for v in (value if key.typ is list else [value])
                   if key.choices and v not in key.choices]
            if bad:
                raise fail(dotted, f"must be {key.expected()}, got {bad[0]!r}")
        for name, key in keys.items():   # keys every kind needs are missing even without a kind
            if (kind in key.required or key.required == KINDS) and name not in values:
                dotted = f"{table}.{name}" if table else name
                need = "required" if key.required == KINDS else f"required for kind {kind!r}"
                raise fail(dotted, f"missing ({key.expected()}; {need})")
    if data["name"] != Path(path).parent.name:
        raise InputError(f"{path}: name {data['name']!r} differs from its folder",
                         "make the folder name and the name key equal")
    return data


# ------------------------------------------------------------ make fragment
HEX_TABLES = ("memory", "uart.base")   # addresses and sizes read better in hex


def _make_value(value, hexa=False) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return f"0x{value:08X}" if hexa else str(value)
    if isinstance(value, list):
        return " ".join(_make_value(v) for v in value)
    return str(value).replace("$", "$$").replace("#", "\\#")


def make_fragment(board) -> str:
    """board.toml of a validated board as make variables."""
    folder = board.path.resolve()
    toml = folder / "board.toml"
    lines = [f"# Generated by toolkit/boardschema.py from {toml}: do not edit.",
             f"BOARD_NAME := {board.name}",
             f"BOARD_DIR := {folder}",
             f"BOARD_TOML := {toml}"]
    for table, keys in SCHEMA.items():
        values = board.data if table == "" else board.data.get(table, {})
        for name in keys:
            if name not in values or (table == "" and name in ("name", "description")):
                continue
            var = "_".join(p.upper() for p in ("BOARD", table, name) if p)
            hexa = table in HEX_TABLES or f"{table}.{name}" in HEX_TABLES
            lines.append(f"{var} := {_make_value(values[name], hexa)}")
    return "\n".join(lines) + "\n"


def write_fragment(board, build_dir: Path) -> Path:
    """Write <build_dir>/<board>/board.mk when its content changed; returns the path."""
    out = Path(build_dir) / board.name / "board.mk"
    text = make_fragment(board)
    if not out.exists() or out.read_text() != text:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".mk.tmp")
        tmp.write_text(text)
        tmp.replace(out)
    return out


def main(argv=None) -> int:
    from .boards import get_board, use_boards_path
    from .errors import ToolkitError

    args = list(sys.argv[1:] if argv is None else argv)
    options = {}
    for flag in ("-o", "--boards-path"):
        if flag in args[:-1]:
            i = args.index(flag)
            options[flag], args = args[i + 1], args[:i] + args[i + 2:]
    if len(args) != 1:
        print("usage: python -m toolkit.boardschema BOARD [--boards-path DIR] [-o FILE]", file=sys.stderr)
        return 2
    out = Path(options["-o"]) if "-o" in options else None
    if "--boards-path" in options:
        use_boards_path([options["--boards-path"]])     # searched first, as make's ARM_BOARDS_DIR
    try:
        text = make_fragment(get_board(args[0]))
    except ToolkitError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    if out is None:
        sys.stdout.write(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
