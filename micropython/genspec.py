"""Generate micropython/bnrt_spec.py (the constants for the MicroPython module)
from toolkit/format/spec.py.

MicroPython has no struct.Struct objects and cannot import spec.py, so the
numbers it needs are rendered as `const()` values.  Run
`python micropython/genspec.py` after changing spec.py; tests/mpy/test_genspec.py
fails while the committed file is stale (the same pattern as cheader.py).
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from toolkit.format import spec  # noqa: E402
from toolkit.format.cheader import field_offsets  # noqa: E402

OUTPUT = Path(__file__).resolve().parent / "bnrt_spec.py"


def c(v: int) -> str:
    """const() only for small ints of a 32-bit port (31-bit signed)."""
    return f"const({v})" if -(1 << 30) <= v < (1 << 30) else str(v)


def _struct(prefix: str, st, names) -> list[str]:
    lines = [f"{prefix}_FMT = {st.format!r}", f"{prefix}_SIZE = const({st.size})"]
    for name, off, _size in field_offsets(st, names):
        lines.append(f"{prefix}_OFF_{name.upper()} = const({off})")
    return lines


def render() -> str:
    L = [
        "# Generated from toolkit/format/spec.py by micropython/genspec.py.",
        "# DO NOT EDIT: change spec.py and run `python micropython/genspec.py`.",
        "from micropython import const",
        "",
        f"MAGIC = {spec.MAGIC!r}",
        f"VERSION_MAJOR = const({spec.VERSION_MAJOR})",
        f"VERSION_MINOR = const({spec.VERSION_MINOR})",
        f"PARAM_ALIGN = const({spec.PARAM_ALIGN})",
        f"NAME_NONE = {c(spec.NAME_NONE)}",
        f"MAX_CHANNELS = const({spec.MAX_CHANNELS})",
        f"CRC_OFFSET = const({spec.CRC_OFFSET})",
        f"FILE_FLAG_STRINGS = const({spec.FILE_FLAG_STRINGS})",
        f"FILE_FLAGS_KNOWN = const({spec.FILE_FLAGS_KNOWN})",
        f"LAYER_FLAG_FMA = const({spec.LAYER_FLAG_FMA})",
        f"LAYER_FLAGS_KNOWN = const({spec.LAYER_FLAGS_KNOWN})",
    ]
    L += _struct("HEADER", spec.HEADER, spec.HEADER_FIELDS)
    L += _struct("LAYER", spec.LAYER, spec.LAYER_FIELDS)
    L += [f"OP_{k.upper()} = const({v})" for k, v in spec.OPS.items()]
    L += [f"DTYPE_{k.upper()} = const({v})" for k, v in spec.DTYPES.items()]
    L += [f"LAYOUT_{k.upper()} = const({v})" for k, v in spec.LAYOUTS.items()]
    L += [f"DTYPE_SIZE_{k.upper()} = const({v})" for k, v in spec.DTYPE_SIZE.items()]
    L += [f"PARAM_BYTES_{k.upper()} = const({v})" for k, v in spec.PARAM_BYTES_PER_CHANNEL.items()]
    L += [
        f"S8_MULT_MAX = const({spec.S8_MULT_MAX})",
        f"S8_BIAS_MAX = {c(spec.S8_BIAS_MAX)}",
        f"S8_SHIFT_MAX = const({spec.S8_SHIFT_MAX})",
        f"S16_BIAS_MAX = {c(spec.S16_BIAS_MAX)}",
        f"S16_SHIFT_MAX = const({spec.S16_SHIFT_MAX})",
        f"S8_MIN = const({spec.QRANGE['s8'][0]})",
        f"S8_MAX = const({spec.QRANGE['s8'][1]})",
        f"S16_MIN = const({spec.QRANGE['s16'][0]})",
        f"S16_MAX = const({spec.QRANGE['s16'][1]})",
        "",
        f"PROTOCOL_VERSION = const({spec.PROTOCOL_VERSION})",
        f"FIRMWARE_VERSION = const({spec.FIRMWARE_VERSION})",
        f"FRAME_DELIMITER = const({spec.FRAME_DELIMITER})",
        f"FRAME_OVERHEAD = const({spec.FRAME_OVERHEAD})",
        f"RESPONSE_BIT = const(0x{spec.RESPONSE_BIT:02X})",
        f"NAK = const(0x{spec.NAK:02X})",
    ]
    if hasattr(spec, "FRAME_TIMEOUT_MS"):
        L.append(f"FRAME_TIMEOUT_MS = const({spec.FRAME_TIMEOUT_MS})")
    L += _struct("FRAME", spec.FRAME_HEADER, spec.FRAME_HEADER_FIELDS)
    L += [f"CMD_{k} = const(0x{v:02X})" for k, v in spec.COMMANDS.items()]
    L += [f"COUNTER_{k.upper()} = const({v})" for k, v in spec.COUNTER_KINDS.items()]
    L += [f"CAP_{k.upper()} = const(0x{v:04X})" for k, v in spec.CAPABILITIES.items()]
    L += [f"INFO_FMT = {spec.INFO_RESPONSE.format!r}",
          f"LOAD_BEGIN_FMT = {spec.LOAD_BEGIN.format!r}",
          f"LOAD_CHUNK_FMT = {spec.LOAD_CHUNK.format!r}",
          f"LOAD_CHUNK_SIZE = const({spec.LOAD_CHUNK.size})",
          f"LOAD_COMMIT_FMT = {spec.LOAD_COMMIT_RESPONSE.format!r}",
          f"RUN_FMT = {spec.RUN.format!r}",
          f"RUN_SIZE = const({spec.RUN.size})",
          f"RUN_RESPONSE_FMT = {spec.RUN_RESPONSE.format!r}",
          f"MODEL_INFO_FMT = {spec.MODEL_INFO.format!r}",
          f"MODEL_INFO_RESPONSE_FMT = {spec.MODEL_INFO_RESPONSE.format!r}",
          "", "# status codes (spec.STATUSES order)"]
    L += [f"{name} = const({code})" for code, (name, _, _) in enumerate(spec.STATUSES)]
    L.append("STATUS_NAMES = (" + ", ".join(repr(n) for n, _, _ in spec.STATUSES) + ",)")
    L.append("")
    return "\n".join(L)


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if args and args[0] == "--check":
        return 0 if OUTPUT.read_text() == text else 1
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
