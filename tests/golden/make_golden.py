"""Write the golden .bnm files and golden.json from fixed parameters (no model).

    python tests/golden/make_golden.py          # rewrite the files here
    python tests/golden/make_golden.py --check  # exit 1 if a committed file is stale

Used by the C parser tests and as fuzz seeds.  golden.json describes each
file: its layers (dtype, layout, channels, flags, quantization fields, name)
and parameters, so a test can check a parser without the Python reader.
rejected/*.bnm are copies with a valid CRC that every reader must refuse with
the status golden.json lists under "rejected".
"""
from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import numpy as np

from toolkit.format import spec
from toolkit.format.cheader import field_offsets
from toolkit.format.writer import LayerBlob, write_model

GENERATOR = "tests/golden/make_golden.py"
GENERATOR_VERSION = 1
HERE = Path(__file__).resolve().parent


def _f32(values) -> np.ndarray:
    return np.asarray(values, np.float32)


def golden_layers() -> dict[str, list[LayerBlob]]:
    a5 = _f32([1.0, -0.5, 2.25, 0.125, -3.0])
    b5 = _f32([0.0, 1.5, -0.75, 10.0, -2.5])
    a3 = _f32([0.3333333, 1.0e-3, -7.5])
    b3 = _f32([-1.0, 0.0, 4.0])
    return {
        "f32_nchw_named": [LayerBlob("f32", "nchw", 5, {"a": a5, "b": b5}, fused=True, name="features.bn1"),
                           LayerBlob("f32", "nchw", 3, {"a": a3, "b": b3}, fused=True, name="head.bn")],
        "f32_nhwc_unfused_noname": [LayerBlob("f32", "nhwc", 3, {"a": a3, "b": b3}, fused=False)],
        "s8_nchw_named": [LayerBlob(
            "s8", "nchw", 4,
            {"mult": np.array([4194304, -2097152, spec.S8_MULT_MAX, 0], np.int32),
             "bias": np.array([2097152, -1000000, spec.S8_BIAS_MAX, -spec.S8_BIAS_MAX], np.int32)},
            in_scale=0.05, in_zero_point=-3, out_scale=0.1, out_zero_point=7, shift=22, name="bn")],
        "s8_nhwc_noname": [LayerBlob(
            "s8", "nhwc", 2, {"mult": np.array([123456, -654321], np.int32),
                              "bias": np.array([32768, -65536], np.int32)},
            in_scale=0.25, in_zero_point=0, out_scale=0.5, out_zero_point=-128, shift=16)],
        "s16_mixed_named": [
            LayerBlob("s16", "nchw", 3, {"mult": np.array([1 << 30, -(1 << 29), 2147483647], np.int32),
                                         "bias": np.array([1 << 29, -(1 << 40), spec.S16_BIAS_MAX], np.int64)},
                      in_scale=0.001, out_scale=0.002, shift=30, name="block.0.bn"),
            LayerBlob("f32", "nhwc", 5, {"a": a5, "b": b5}, fused=True, name="block.1.bn")],
    }


def describe(layers: list[LayerBlob]) -> list[dict]:
    out = []
    for l in layers:
        d = {"name": l.name, "op": l.op, "dtype": l.dtype, "layout": l.layout, "channels": l.channels,
             "flags": spec.LAYER_FLAG_FMA if (l.dtype == "f32" and l.fused) else 0,
             "in_scale": float(np.float32(l.in_scale)), "in_zero_point": l.in_zero_point,
             "out_scale": float(np.float32(l.out_scale)), "out_zero_point": l.out_zero_point,
             "shift": l.shift}
        d["params"] = {k: [float(v) if l.dtype == "f32" else int(v) for v in np.asarray(l.params[k])]
                       for k in l.params}
        out.append(d)
    return out


def _edit(blob: bytes, edits) -> bytes:
    """Apply (offset, struct format, value) edits and fix the CRC."""
    b = bytearray(blob)
    for off, fmt, value in edits:
        struct.pack_into(fmt, b, off, value)
    struct.pack_into("<I", b, spec.CRC_OFFSET, spec.file_crc(bytes(b)))
    return bytes(b)


def rejected() -> dict[str, tuple[bytes, str]]:
    """{file name: (blob, expected status)}: f32_nchw_named (5 then 3 channels)
    with a non-finite parameter or overlapping parameter blocks."""
    blob = write_model(golden_layers()["f32_nchw_named"])
    h = dict(zip(spec.HEADER_FIELDS, spec.HEADER.unpack_from(blob)))
    entry = [h["layers_offset"] + i * spec.LAYER_SIZE for i in range(2)]
    off = [spec.LAYER.unpack_from(blob, e)[spec.LAYER_FIELDS.index("params_offset")] for e in entry]
    field = entry[1] + {n: o for n, o, _ in field_offsets(spec.LAYER, spec.LAYER_FIELDS)}["params_offset"]
    return {
        "nonfinite_nan_b.bnm": (_edit(blob, [(off[1] + 4 * 3, "<I", 0x7FC00000)]), "ERR_NONFINITE"),
        "nonfinite_neg_inf_a.bnm": (_edit(blob, [(off[0] + 4 * 4, "<I", 0xFF800000)]), "ERR_NONFINITE"),
        "overlap_same_offset.bnm": (_edit(blob, [(field, "<I", off[0])]), "ERR_OVERLAP"),
        "overlap_partial.bnm": (_edit(blob, [(field, "<I", off[0] + 16)]), "ERR_OVERLAP"),
    }


def render() -> dict[str, bytes]:
    files, index = {}, {"generator": GENERATOR, "generator_version": GENERATOR_VERSION,
                        "format_version": f"{spec.VERSION_MAJOR}.{spec.VERSION_MINOR}", "files": {}}
    for stem, layers in golden_layers().items():
        blob = write_model(layers)
        files[f"{stem}.bnm"] = blob
        index["files"][f"{stem}.bnm"] = {"size": len(blob), "crc32": spec.file_crc(blob),
                                         "layers": describe(layers)}
    index["rejected"] = {}
    for name, (blob, status) in rejected().items():
        files[f"rejected/{name}"] = blob
        index["rejected"][name] = status
    files["golden.json"] = (json.dumps(index, indent=1) + "\n").encode()
    return files


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    files = render()
    if args and args[0] == "--check":
        stale = [n for n, data in files.items()
                 if not (HERE / n).is_file() or (HERE / n).read_bytes() != data]
        for n in stale:
            print(f"stale: tests/golden/{n}")
        return 1 if stale else 0
    (HERE / "rejected").mkdir(exist_ok=True)
    for n, data in files.items():
        (HERE / n).write_bytes(data)
        print(f"wrote tests/golden/{n} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
