"""bnrt.validate() on the unix port rejects corrupted blobs with the same status
name as toolkit/format/reader.py (the reference for the C parser's order)."""
from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from toolkit.format import spec
from toolkit.format.reader import validation_status
from toolkit.format.writer import LayerBlob, write_model
from toolkit.launchers import micropython as mp_launcher

from mpy_helpers import needs_micropython, run_mpy

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
REJECTED = json.loads((GOLDEN / "golden.json").read_text())["rejected"]

pytestmark = needs_micropython

SCRIPT = """
import bnrt, json
out = []
for name in json.loads(open('files.json').read()):
    blob = bytearray(open(name, 'rb').read())
    out.append(bnrt.status_name(bnrt.validate(blob)[0]))
print(json.dumps(out))
"""


def _recrc(blob: bytearray) -> bytes:
    blob[spec.CRC_OFFSET:spec.CRC_OFFSET + 4] = struct.pack("<I", spec.file_crc(bytes(blob)))
    return bytes(blob)


def _layer_field(blob: bytes, layer: int, field: str, value) -> bytes:
    """Rewrite one layer-table field and fix the CRC, to reach the deeper checks."""
    b = bytearray(blob)
    h = dict(zip(spec.HEADER_FIELDS, spec.HEADER.unpack_from(b)))
    base = h["layers_offset"] + layer * spec.LAYER_SIZE
    fields = dict(zip(spec.LAYER_FIELDS, spec.LAYER.unpack_from(b, base)))
    fields[field] = value
    spec.LAYER.pack_into(b, base, *fields.values())
    return _recrc(b)


def _read_field(blob: bytes, layer: int, field: str):
    h = dict(zip(spec.HEADER_FIELDS, spec.HEADER.unpack_from(blob)))
    base = h["layers_offset"] + layer * spec.LAYER_SIZE
    return dict(zip(spec.LAYER_FIELDS, spec.LAYER.unpack_from(blob, base)))[field]


def _header_field(blob: bytes, field: str, value) -> bytes:
    b = bytearray(blob)
    h = dict(zip(spec.HEADER_FIELDS, spec.HEADER.unpack_from(b)))
    h[field] = value
    spec.HEADER.pack_into(b, 0, *h.values())
    return _recrc(b) if field != "crc32" else bytes(b)


def _corruptions(blob: bytes):
    yield "intact", blob
    for n in (0, 5, spec.HEADER_SIZE - 1, spec.HEADER_SIZE, len(blob) // 2, len(blob) - 1):
        yield f"truncated to {n}", blob[:n]
    yield "one byte appended", blob + b"\0"
    for pos in (0, 4, 9, 13, 40, 60, 100, len(blob) - 3):
        b = bytearray(blob)
        b[pos] ^= 0x10
        yield f"bit flip at {pos}", bytes(b)
    yield "header_size", _header_field(blob, "header_size", 40)
    yield "unknown file flag", _header_field(blob, "flags", 0x80 | 1)
    yield "layer table misaligned", _header_field(blob, "layers_offset", 34)
    yield "layer table outside", _header_field(blob, "layers_offset", len(blob) - 8)
    yield "strings outside", _header_field(blob, "strings_size", 10 ** 6)
    yield "op", _layer_field(blob, 0, "op", 9)
    yield "dtype", _layer_field(blob, 1, "dtype", 0)
    yield "layout", _layer_field(blob, 2, "layout", 2)
    yield "flags on s8", _layer_field(blob, 1, "flags", 1)
    yield "channels 0", _layer_field(blob, 0, "channels", 0)
    yield "channels huge", _layer_field(blob, 0, "channels", spec.MAX_CHANNELS + 1)
    yield "params misaligned", _layer_field(blob, 1, "params_offset", 36)
    yield "params size", _layer_field(blob, 2, "params_size", 7)
    yield "params outside", _layer_field(blob, 2, "params_offset", 8)
    yield "name outside", _layer_field(blob, 0, "name_offset", 1000)
    yield "s8 shift", _layer_field(blob, 1, "shift", spec.S8_SHIFT_MAX + 1)
    yield "s8 zero point", _layer_field(blob, 1, "in_zero_point", 128)
    yield "s8 scale nan", _layer_field(blob, 1, "out_scale", float("nan"))
    yield "s16 zero point", _layer_field(blob, 2, "out_zero_point", 1)
    yield "s16 shift", _layer_field(blob, 2, "shift", spec.S16_SHIFT_MAX + 1)
    yield "f32 shift", _layer_field(blob, 0, "shift", 1)
    b = bytearray(blob)
    b[spec.HEADER_SIZE + spec.LAYER_SIZE + 33] = 1          # layer 1 reserved byte
    yield "reserved byte", _recrc(b)
    for dtype, key, bad in (("s8", "mult", 2 ** 23 + 1), ("s8", "bias", -(2 ** 30) - 1),
                            ("s16", "bias", 2 ** 62 + 1)):
        yield f"{dtype} {key} out of range", write_model(_layers(**{f"{dtype}_{key}": bad}))
    for name in sorted(REJECTED):
        yield f"golden rejected/{name}", (GOLDEN / "rejected" / name).read_bytes()
    l0, l2 = (_read_field(blob, i, "params_offset") for i in (0, 2))
    yield "layer 2 params over layer 0's", _layer_field(blob, 2, "params_offset", l0)
    yield "layer 2 params right after layer 0's", _layer_field(blob, 2, "params_offset", l0 + 16)
    yield "layer 0 params over layer 2's", _layer_field(blob, 0, "params_offset", l2)
    yield "version", _header_field(blob, "major", spec.VERSION_MAJOR + 1)
    yield "magic", _header_field(blob, "magic", b"BNMX")


def _layers(s8_mult=3, s8_bias=-5, s16_bias=7):
    C = 3
    return [
        LayerBlob("f32", "nchw", C, {"a": np.ones(C, np.float32), "b": np.zeros(C, np.float32)}, name="bn1"),
        LayerBlob("s8", "nhwc", C, {"mult": np.full(C, s8_mult, np.int32), "bias": np.full(C, s8_bias, np.int32)},
                  in_scale=0.1, in_zero_point=-2, out_scale=0.2, out_zero_point=3, shift=4),
        LayerBlob("s16", "nchw", C, {"mult": np.full(C, -9, np.int32), "bias": np.full(C, s16_bias, np.int64)},
                  in_scale=0.1, out_scale=0.2, shift=40, name="bn3"),
    ]


def test_same_status_as_reader(tmp_path):
    cases = list(_corruptions(write_model(_layers())))
    names = []
    for i, (_, blob) in enumerate(cases):
        (tmp_path / f"b{i}.bnm").write_bytes(blob)
        names.append(f"b{i}.bnm")
    (tmp_path / "files.json").write_text(json.dumps(names))
    lib = tmp_path / "lib"
    mp_launcher.build(lib, None)
    got = json.loads(run_mpy(SCRIPT, tmp_path, lib).strip().splitlines()[-1])
    want = [validation_status(blob) for _, blob in cases]
    assert want[0] == "OK" and len(set(want)) > 12      # the cases reach many different checks
    mismatches = [(label, w, g) for (label, _), w, g in zip(cases, want, got) if w != g]
    assert not mismatches, mismatches
    for (label, _), g in zip(cases, got):
        if label.startswith("golden rejected/"):
            assert g == REJECTED[label.split("/", 1)[1]]
