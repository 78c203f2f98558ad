"""Write .bnm model files (docs/format.md); every constant comes from spec.py."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import spec

# numpy dtypes of the parameter arrays, in file order, per layer dtype (spec.PARAM_ARRAYS)
PARAM_ARRAYS = {dt: tuple((name, np.dtype(np.dtype(code).str).type) for name, code in arrays)
                for dt, arrays in spec.PARAM_ARRAYS.items()}


@dataclass
class LayerBlob:
    """One bn_affine layer as stored in the file.

    params: f32 -> {"a", "b"} float32[C]; s8 -> {"mult", "bias"} int32[C];
    s16 -> {"mult"} int32[C] and {"bias"} int64[C].
    """
    dtype: str
    layout: str
    channels: int
    params: dict
    fused: bool = True
    in_scale: float = 0.0
    in_zero_point: int = 0
    out_scale: float = 0.0
    out_zero_point: int = 0
    shift: int = 0
    name: str | None = None
    op: str = "bn_affine"

    def param_bytes(self) -> bytes:
        out = b""
        for key, dt in PARAM_ARRAYS[self.dtype]:
            arr = np.ascontiguousarray(self.params[key], dtype=np.dtype(dt).newbyteorder("<"))
            if arr.shape != (self.channels,):
                raise ValueError(f"{key} has shape {arr.shape}, expected ({self.channels},)")
            out += arr.tobytes()
        return out


def _align(n: int, to: int = spec.PARAM_ALIGN) -> int:
    return (n + to - 1) // to * to


def write_model(layers: list[LayerBlob]) -> bytes:
    """Serialize layers into a complete .bnm file (CRC filled in)."""
    if not layers:
        raise ValueError("a model file needs at least one layer")
    names = [l.name for l in layers]
    strings = b""
    name_offsets = []
    for n in names:
        if n is None:
            name_offsets.append(spec.NAME_NONE)
        else:
            name_offsets.append(len(strings))
            strings += n.encode("utf-8") + b"\0"
    layers_offset = spec.HEADER_SIZE
    pos = _align(layers_offset + spec.LAYER_SIZE * len(layers))
    entries, payloads = [], []
    for layer, name_off in zip(layers, name_offsets):
        data = layer.param_bytes()
        flags = spec.LAYER_FLAG_FMA if (layer.dtype == "f32" and layer.fused) else 0
        entries.append(spec.LAYER.pack(
            spec.OPS[layer.op], spec.DTYPES[layer.dtype], spec.LAYOUTS[layer.layout], flags,
            layer.channels, pos, len(data), layer.in_scale, layer.in_zero_point,
            layer.out_scale, layer.out_zero_point, layer.shift, name_off))
        payloads.append((pos, data))
        pos = _align(pos + len(data))
    strings_offset = pos if strings else 0
    total = pos + len(strings)
    blob = bytearray(total)
    flags = spec.FILE_FLAG_STRINGS if strings else 0
    blob[:spec.HEADER_SIZE] = spec.HEADER.pack(
        spec.MAGIC, spec.VERSION_MAJOR, spec.VERSION_MINOR, spec.HEADER_SIZE, 0, total,
        len(layers), flags, layers_offset, strings_offset, len(strings))
    for i, e in enumerate(entries):
        o = layers_offset + i * spec.LAYER_SIZE
        blob[o:o + spec.LAYER_SIZE] = e
    for off, data in payloads:
        blob[off:off + len(data)] = data
    if strings:
        blob[strings_offset:total] = strings
    blob[spec.CRC_OFFSET:spec.CRC_OFFSET + 4] = spec.file_crc(bytes(blob)).to_bytes(4, "little")
    return bytes(blob)
