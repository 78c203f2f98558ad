"""Generate firmware/include/bnrt_spec.h from spec.py.

Run `python -m toolkit.format.cheader` after changing spec.py; the test
`tests/unit/test_cheader.py` fails while the committed header is stale.
"""
from __future__ import annotations

import re
import struct
import sys

from ..resources import firmware_dir
from . import spec

HEADER_PATH = firmware_dir() / "include" / "bnrt_spec.h"


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


def _struct_block(prefix: str, st: struct.Struct, names) -> list[str]:
    lines = [f"#define BNRT_{prefix}_SIZE {st.size}u"]
    for name, off, size in field_offsets(st, names):
        lines.append(f"#define BNRT_{prefix}_OFF_{name.upper()} {off}u  /* {size} byte(s) */")
    return lines


def render() -> str:
    magic = int.from_bytes(spec.MAGIC, "little")
    L = [
        "/* Generated from toolkit/format/spec.py by toolkit/format/cheader.py.",
        " * DO NOT EDIT: change spec.py and run `python -m toolkit.format.cheader`. */",
        "#ifndef BNRT_SPEC_H",
        "#define BNRT_SPEC_H",
        "",
        "/* ---- model file ---- */",
        f"#define BNRT_MAGIC 0x{magic:08X}u  /* \"{spec.MAGIC.decode()}\" little-endian */",
        f"#define BNRT_VERSION_MAJOR {spec.VERSION_MAJOR}u",
        f"#define BNRT_VERSION_MINOR {spec.VERSION_MINOR}u",
        f"#define BNRT_PARAM_ALIGN {spec.PARAM_ALIGN}u",
        f"#define BNRT_NAME_NONE 0x{spec.NAME_NONE:08X}u",
        f"#define BNRT_MAX_CHANNELS {spec.MAX_CHANNELS}u",
        f"#define BNRT_CRC_OFFSET {spec.CRC_OFFSET}u",
        f"#define BNRT_FILE_FLAG_STRINGS 0x{spec.FILE_FLAG_STRINGS:04X}u",
        f"#define BNRT_FILE_FLAGS_KNOWN 0x{spec.FILE_FLAGS_KNOWN:04X}u",
        f"#define BNRT_LAYER_FLAG_FMA 0x{spec.LAYER_FLAG_FMA:02X}u",
        f"#define BNRT_LAYER_FLAGS_KNOWN 0x{spec.LAYER_FLAGS_KNOWN:02X}u",
    ]
    L += _struct_block("HDR", spec.HEADER, spec.HEADER_FIELDS)
    L += _struct_block("LAYER", spec.LAYER, spec.LAYER_FIELDS)
    L += [f"#define BNRT_OP_{k.upper()} {v}u" for k, v in spec.OPS.items()]
    L += [f"#define BNRT_DTYPE_{k.upper()} {v}u" for k, v in spec.DTYPES.items()]
    L += [f"#define BNRT_LAYOUT_{k.upper()} {v}u" for k, v in spec.LAYOUTS.items()]
    L += [f"#define BNRT_PARAM_BYTES_{k.upper()} {v}u" for k, v in spec.PARAM_BYTES_PER_CHANNEL.items()]
    L += [
        f"#define BNRT_S8_MULT_MAX {spec.S8_MULT_MAX}L",
        f"#define BNRT_S8_BIAS_MAX {spec.S8_BIAS_MAX}L",
        f"#define BNRT_S8_SHIFT_MAX {spec.S8_SHIFT_MAX}u",
        f"#define BNRT_S16_BIAS_MAX {spec.S16_BIAS_MAX}LL",
        f"#define BNRT_S16_SHIFT_MAX {spec.S16_SHIFT_MAX}u",
        "",
        "/* ---- protocol ---- */",
        f"#define BNRT_PROTOCOL_VERSION {spec.PROTOCOL_VERSION}u",
        f"#define BNRT_FIRMWARE_VERSION {spec.FIRMWARE_VERSION}u",
        f"#define BNRT_FRAME_DELIMITER 0x{spec.FRAME_DELIMITER:02X}u",
        f"#define BNRT_FRAME_OVERHEAD {spec.FRAME_OVERHEAD}u",
        f"#define BNRT_RESPONSE_BIT 0x{spec.RESPONSE_BIT:02X}u",
        f"#define BNRT_NAK 0x{spec.NAK:02X}u",
        f"#define BNRT_FRAME_TIMEOUT_MS {spec.FRAME_TIMEOUT_MS}u",
    ]
    L += _struct_block("FRAME", spec.FRAME_HEADER, spec.FRAME_HEADER_FIELDS)
    L += [f"#define BNRT_CMD_{k} 0x{v:02X}u" for k, v in spec.COMMANDS.items()]
    L += [f"#define BNRT_COUNTER_{k.upper()} {v}u" for k, v in spec.COUNTER_KINDS.items()]
    L += _struct_block("INFO", spec.INFO_RESPONSE, spec.INFO_FIELDS)
    L += _struct_block("LOAD_BEGIN", spec.LOAD_BEGIN, ("total_size", "crc32"))
    L += _struct_block("LOAD_CHUNK", spec.LOAD_CHUNK, ("offset",))
    L += _struct_block("LOAD_COMMIT", spec.LOAD_COMMIT_RESPONSE, ("crc32", "layer_count"))
    L += _struct_block("RUN", spec.RUN, spec.RUN_FIELDS)
    L += _struct_block("RUN_RESPONSE", spec.RUN_RESPONSE, ("ticks",))
    L += _struct_block("MODEL_INFO", spec.MODEL_INFO, ("layer",))
    L += _struct_block("MODEL_INFO_RESPONSE", spec.MODEL_INFO_RESPONSE, spec.MODEL_INFO_FIELDS)
    for prefix, st, names in getattr(spec, "C_STRUCTS", ()):
        L += _struct_block(prefix, st, names)
    L += [f"#define BNRT_{k} {v}u" for k, v in getattr(spec, "C_CONSTANTS", {}).items()]
    L += ["", "/* ---- status codes: X(NAME, value, \"message\") ---- */",
          "#define BNRT_STATUS_LIST(X) \\"]
    for code, (name, msg, _) in enumerate(spec.STATUSES):
        L.append(f"    X({name}, {code}, \"{msg}\") \\")
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
          "BNRT_SPEC_ASSERT(layer_align, BNRT_LAYER_SIZE % 4u == 0u);",
          "BNRT_SPEC_ASSERT(info_size, BNRT_INFO_SIZE == BNRT_INFO_OFF_CAPABILITIES + 2u);",
          "BNRT_SPEC_ASSERT(run_size, BNRT_RUN_SIZE == BNRT_RUN_OFF_COUNT + 4u);",
          "",
          "#endif /* BNRT_SPEC_H */", ""]
    return "\n".join(L)


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if args and args[0] == "--check":
        return 0 if HEADER_PATH.read_text() == text else 1
    HEADER_PATH.write_text(text)
    print(f"wrote {HEADER_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
