"""Render spec.py as firmware/include/bnrt_spec.h and micropython/bnrt_spec.py.

One table of facts (`facts()`), two small formatters: the C header gets
`#define BNRT_<NAME>` lines, struct sizes and field offsets, the status X-macro
and compile-time checks; MicroPython gets `<NAME> = const(...)` values and the
struct format strings (it cannot import spec.py).  A fact tagged for one side
only (MicroPython's heap is small) is emitted there only.

Run `python -m toolkit.format.render` after changing spec.py (the older entry
points `python -m toolkit.format.cheader` and `python micropython/genspec.py`
do the same); the staleness tests fail while a committed file differs.
"""
from __future__ import annotations

import re
import struct
import sys

from ..resources import firmware_dir, micropython_dir
from . import spec

HEADER_PATH = firmware_dir() / "include" / "bnrt_spec.h"
MPY_PATH = micropython_dir() / "bnrt_spec.py"

C, MPY, BOTH = "c", "m", "cm"


def field_offsets(st: struct.Struct, names) -> list[tuple[str, int, int]]:
    """(name, offset, size) for every named field of a '<'-struct."""
    out, fmt, names = [], st.format.lstrip("<"), list(names)
    prefix = "<"
    for count, code in re.findall(r"(\d*)([a-zA-Z?])", fmt):
        item = f"{count}{code}"
        if code != "x":
            off = struct.calcsize(prefix)
            out.append((names.pop(0), off, struct.calcsize("<" + item)))
        prefix += item
    assert not names, names
    return out


class Const:
    """A number.  style: 'u' unsigned decimal, 'xN' hex of N digits, 's' signed."""

    def __init__(self, name, value, style="u", to=BOTH, comment=""):
        self.name, self.value, self.style, self.to, self.comment = name, value, style, to, comment


class Struct:
    """A wire struct.  mpy: 'full' (format, size, offsets) or 'fmt' (format, size)."""

    def __init__(self, name, st, fields, to=BOTH, mpy="fmt", mpy_name=None):
        self.name, self.st, self.fields, self.to = name, st, fields, to
        self.mpy, self.mpy_name = mpy, mpy_name or name


def facts() -> list:
    """Every fact, in output order; a str is a section title."""
    F = ["model file",
         Const("MAGIC", int.from_bytes(spec.MAGIC, "little"), "x8",
               comment=f'"{spec.MAGIC.decode()}" little-endian'),
         Const("VERSION_MAJOR", spec.VERSION_MAJOR),
         Const("VERSION_MINOR", spec.VERSION_MINOR),
         Const("PARAM_ALIGN", spec.PARAM_ALIGN),
         Const("LAYER_TABLE_ALIGN", spec.LAYER_TABLE_ALIGN),
         Const("NAME_NONE", spec.NAME_NONE, "x8"),
         Const("MAX_CHANNELS", spec.MAX_CHANNELS),
         Const("CRC_OFFSET", spec.CRC_OFFSET),
         Const("FILE_FLAG_STRINGS", spec.FILE_FLAG_STRINGS, "x4"),
         Const("FILE_FLAGS_KNOWN", spec.FILE_FLAGS_KNOWN, "x4"),
         Const("LAYER_FLAG_FMA", spec.LAYER_FLAG_FMA, "x2"),
         Const("LAYER_FLAGS_KNOWN", spec.LAYER_FLAGS_KNOWN, "x2"),
         Struct("HDR", spec.HEADER, spec.HEADER_FIELDS, mpy="full", mpy_name="HEADER"),
         Struct("LAYER", spec.LAYER, spec.LAYER_FIELDS, mpy="full")]
    F += [Const(f"OP_{k.upper()}", v) for k, v in spec.OPS.items()]
    F += [Const(f"DTYPE_{k.upper()}", v) for k, v in spec.DTYPES.items()]
    F += [Const(f"LAYOUT_{k.upper()}", v) for k, v in spec.LAYOUTS.items()]
    F += [Const(f"DTYPE_SIZE_{k.upper()}", v) for k, v in spec.DTYPE_SIZE.items()]
    F += [Const(f"PARAM_BYTES_{k.upper()}", v) for k, v in spec.PARAM_BYTES_PER_CHANNEL.items()]
    for dt, arrays in spec.PARAM_ARRAYS.items():
        start = 0
        for name, code in arrays:
            F.append(Const(f"PARAM_{dt.upper()}_{name.upper()}_START", start,
                           comment=f"{name}[C] at params + C * {start}"))
            start += struct.calcsize("<" + code)
    F += [Const("S8_MULT_MAX", spec.S8_MULT_MAX, "s"),
          Const("S8_BIAS_MAX", spec.S8_BIAS_MAX, "s"),
          Const("S8_SHIFT_MAX", spec.S8_SHIFT_MAX),
          Const("S16_BIAS_MAX", spec.S16_BIAS_MAX, "s"),
          Const("S16_SHIFT_MAX", spec.S16_SHIFT_MAX)]
    for dt, (lo, hi) in spec.QRANGE.items():
        F += [Const(f"{dt.upper()}_MIN", lo, "s"), Const(f"{dt.upper()}_MAX", hi, "s")]
    F += ["protocol",
          Const("PROTOCOL_VERSION", spec.PROTOCOL_VERSION),
          Const("FIRMWARE_VERSION", spec.FIRMWARE_VERSION),
          Const("FRAME_DELIMITER", spec.FRAME_DELIMITER, "x2"),
          Const("FRAME_CRC_SIZE", spec.FRAME_CRC_SIZE),
          Const("FRAME_OVERHEAD", spec.FRAME_OVERHEAD),
          Const("MIN_PAYLOAD", spec.MIN_PAYLOAD),
          Const("RESPONSE_BIT", spec.RESPONSE_BIT, "x2"),
          Const("NAK", spec.NAK, "x2"),
          Const("FRAME_TIMEOUT_MS", spec.FRAME_TIMEOUT_MS),
          Struct("FRAME", spec.FRAME_HEADER, spec.FRAME_HEADER_FIELDS, mpy="full")]
    F += [Const(f"CMD_{k}", v, "x2") for k, v in spec.COMMANDS.items()]
    F += [Const(f"COUNTER_{k.upper()}", v) for k, v in spec.COUNTER_KINDS.items()]
    F += [Const("DTYPE_MASK_ALL", spec.DTYPE_MASK_ALL, "x2"),
          Const("LAYOUT_MASK_ALL", spec.LAYOUT_MASK_ALL, "x2"),
          Const("OP_MASK_ALL", spec.OP_MASK_ALL, "x4"),
          Struct("INFO", spec.INFO_RESPONSE, spec.INFO_FIELDS)]
    F += [Const(f"CAP_{k.upper()}", v, "x4") for k, v in spec.CAPABILITIES.items()]
    F += [Struct("LOAD_BEGIN", spec.LOAD_BEGIN, ("total_size", "crc32")),
          Struct("LOAD_CHUNK", spec.LOAD_CHUNK, ("offset",)),
          Struct("LOAD_COMMIT", spec.LOAD_COMMIT_RESPONSE, ("crc32", "layer_count")),
          Struct("RUN", spec.RUN, spec.RUN_FIELDS),
          Struct("RUN_RESPONSE", spec.RUN_RESPONSE, ("ticks",)),
          Struct("MODEL_INFO", spec.MODEL_INFO, ("layer",)),
          Struct("MODEL_INFO_RESPONSE", spec.MODEL_INFO_RESPONSE, spec.MODEL_INFO_FIELDS)]
    F += [Struct(prefix, st, names, to=C) for prefix, st, names in spec.C_STRUCTS]
    F += [Const(k, v, to=C) for k, v in spec.C_CONSTANTS.items()]
    return F


# ------------------------------------------------------------------ C header
def _c_literal(c: Const) -> str:
    v, style = c.value, c.style
    if style.startswith("x"):
        return f"0x{v:0{int(style[1:])}X}u"
    if style == "s":
        lit = f"{v}L" if -(1 << 31) <= v < (1 << 31) else f"{v}LL"
        return f"({lit})" if v < 0 else lit
    return f"{v}u"


def render_c() -> str:
    L = ["/* Generated from toolkit/format/spec.py by toolkit/format/render.py.",
         " * DO NOT EDIT: change spec.py and run `python -m toolkit.format.render`. */",
         "#ifndef BNRT_SPEC_H",
         "#define BNRT_SPEC_H"]
    for f in facts():
        if isinstance(f, str):
            L += ["", f"/* ---- {f} ---- */"]
        elif C not in f.to:
            continue
        elif isinstance(f, Const):
            note = f"  /* {f.comment} */" if f.comment else ""
            L.append(f"#define BNRT_{f.name} {_c_literal(f)}{note}")
        else:
            L.append(f"#define BNRT_{f.name}_SIZE {f.st.size}u")
            L += [f"#define BNRT_{f.name}_OFF_{name.upper()} {off}u  /* {size} byte(s) */"
                  for name, off, size in field_offsets(f.st, f.fields)]
    L += ["", "/* ---- per-dtype lookups (0 for an unknown dtype id) ---- */"]
    for fn, table in (("DTYPE_SIZE", spec.DTYPE_SIZE), ("PARAM_BYTES", spec.PARAM_BYTES_PER_CHANNEL)):
        cases = "".join(f"(id) == BNRT_DTYPE_{dt.upper()} ? BNRT_{fn}_{dt.upper()} : " for dt in table)
        L.append(f"#define BNRT_{fn}(id) ({cases}0u)")
    L += ["", "/* ---- status codes: X(NAME, value, \"message\") ---- */",
          "#define BNRT_STATUS_LIST(X) \\"]
    L += [f"    X({name}, {code}, \"{msg}\") \\" for code, (name, msg, _) in enumerate(spec.STATUSES)]
    L += ["", "typedef enum {",
          "#define BNRT_STATUS_ENUM(name, value, msg) BNRT_##name = value,",
          "    BNRT_STATUS_LIST(BNRT_STATUS_ENUM)",
          "#undef BNRT_STATUS_ENUM",
          f"    BNRT_STATUS_COUNT = {len(spec.STATUSES)}",
          "} bnrt_status_t;", "",
          "/* compile-time checks that the sizes above add up */",
          "#define BNRT_SPEC_ASSERT(name, cond) typedef char bnrt_spec_assert_##name[(cond) ? 1 : -1]",
          "BNRT_SPEC_ASSERT(hdr_size, BNRT_HDR_SIZE == BNRT_HDR_OFF_STRINGS_SIZE + 4u);",
          "BNRT_SPEC_ASSERT(layer_size, BNRT_LAYER_SIZE == BNRT_LAYER_OFF_NAME_OFFSET + 4u);",
          "BNRT_SPEC_ASSERT(layer_align, BNRT_LAYER_SIZE % BNRT_LAYER_TABLE_ALIGN == 0u);",
          "BNRT_SPEC_ASSERT(info_size, BNRT_INFO_SIZE == BNRT_INFO_OFF_CAPABILITIES + 2u);",
          "BNRT_SPEC_ASSERT(run_size, BNRT_RUN_SIZE == BNRT_RUN_OFF_COUNT + 4u);",
          "",
          "#endif /* BNRT_SPEC_H */", ""]
    return "\n".join(L)


# ------------------------------------------------------- MicroPython module
def _mpy_value(c: Const) -> str:
    """const() only for small ints of a 32-bit port (31-bit signed)."""
    v = f"0x{c.value:0{int(c.style[1:])}X}" if c.style.startswith("x") else str(c.value)
    return f"const({v})" if -(1 << 30) <= c.value < (1 << 30) else v


def render_mpy() -> str:
    L = ["# Generated from toolkit/format/spec.py by toolkit/format/render.py.",
         "# DO NOT EDIT: change spec.py and run `python -m toolkit.format.render`.",
         "from micropython import const"]
    for f in facts():
        if isinstance(f, str):
            L += ["", f"# ---- {f}"]
        elif MPY not in f.to:
            continue
        elif isinstance(f, Const):
            if f.name == "MAGIC":
                L.append(f"MAGIC = {spec.MAGIC!r}")
            else:
                L.append(f"{f.name} = {_mpy_value(f)}")
        else:
            L += [f"{f.mpy_name}_FMT = {f.st.format!r}", f"{f.mpy_name}_SIZE = const({f.st.size})"]
            if f.mpy == "full":
                L += [f"{f.mpy_name}_OFF_{name.upper()} = const({off})"
                      for name, off, _ in field_offsets(f.st, f.fields)]
    L += ["", "# ---- status codes (spec.STATUSES order)"]
    L += [f"{name} = const({code})" for code, (name, _, _) in enumerate(spec.STATUSES)]
    L.append("STATUS_NAMES = (" + ", ".join(repr(n) for n, _, _ in spec.STATUSES) + ",)")
    L.append("")
    return "\n".join(L)


OUTPUTS = {HEADER_PATH: render_c, MPY_PATH: render_mpy}


def main(argv=None, outputs=None) -> int:
    """Write the generated files; with --check, exit 1 if any is stale."""
    args = sys.argv[1:] if argv is None else argv
    outputs = OUTPUTS if outputs is None else outputs
    check = bool(args) and args[0] == "--check"
    stale = []
    for path, fn in outputs.items():
        text = fn()
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(path)
            continue
        path.write_text(text)
        print(f"wrote {path}")
    for path in stale:
        print(f"stale: {path}", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
