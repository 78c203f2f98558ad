"""Read and validate .bnm model files.

The checks and their order are those of the C parser (firmware/src/model.c)
and of docs/format.md, "Validation", so that a corrupted file gets the same
status name from every reader.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from . import spec
from .writer import PARAM_ARRAYS, LayerBlob

_ID_TO = {kind: {v: k for k, v in table.items()}
          for kind, table in (("op", spec.OPS), ("dtype", spec.DTYPES), ("layout", spec.LAYOUTS))}


class FormatError(InputError):
    """A model file failed validation; `.status` is the spec status name."""

    def __init__(self, status: str, detail: str = ""):
        self.status = status
        code = spec.STATUS[status]
        _, msg, fix = spec.STATUSES[code]
        problem = f"invalid model file: {msg} ({status})" + (f": {detail}" if detail else "")
        super().__init__(problem, fix)


@dataclass
class Model:
    version: tuple[int, int]
    crc32: int
    total_size: int
    layers: list[LayerBlob] = field(default_factory=list)


def _fits(offset: int, size: int, limit: int) -> bool:
    return offset <= limit and size <= limit - offset


def _finite_positive(x: float) -> bool:
    return math.isfinite(x) and x > 0


def read_model(blob: bytes) -> Model:
    blob = bytes(blob)
    n = len(blob)
    if n < spec.HEADER_SIZE:
        raise FormatError("ERR_TRUNCATED", f"{n} bytes, a header alone is {spec.HEADER_SIZE}")
    h = dict(zip(spec.HEADER_FIELDS, spec.HEADER.unpack_from(blob)))
    if h["magic"] != spec.MAGIC:
        raise FormatError("ERR_MAGIC")
    if h["major"] != spec.VERSION_MAJOR:
        raise FormatError("ERR_VERSION", f"file is v{h['major']}.{h['minor']}, reader knows v{spec.VERSION_MAJOR}")
    if h["header_size"] != spec.HEADER_SIZE:
        raise FormatError("ERR_HEADER", "header_size")
    if h["total_size"] > n:
        raise FormatError("ERR_TRUNCATED", f"{n} of {h['total_size']} bytes")
    if h["total_size"] != n:
        raise FormatError("ERR_SIZE", f"total_size {h['total_size']} but {n} bytes")
    if spec.file_crc(blob) != h["crc32"]:
        raise FormatError("ERR_CRC")
    if h["flags"] & ~spec.FILE_FLAGS_KNOWN or h["layer_count"] == 0:
        raise FormatError("ERR_HEADER", "flags or layer_count")
    if h["layers_offset"] % spec.LAYER_TABLE_ALIGN:
        raise FormatError("ERR_ALIGN", "layer table")
    table_size = h["layer_count"] * spec.LAYER_SIZE
    if h["layers_offset"] < spec.HEADER_SIZE or not _fits(h["layers_offset"], table_size, n):
        raise FormatError("ERR_BOUNDS", "layer table")
    layers_end = h["layers_offset"] + table_size
    params_limit = n
    strings = b""
    if h["flags"] & spec.FILE_FLAG_STRINGS:
        so, ss = h["strings_offset"], h["strings_size"]
        if so < layers_end or ss == 0 or not _fits(so, ss, n) or blob[so + ss - 1] != 0:
            raise FormatError("ERR_STRINGS")
        params_limit = so
        strings = blob[so:so + ss]
    elif h["strings_offset"] or h["strings_size"]:
        raise FormatError("ERR_HEADER", "strings fields without the strings flag")

    model = Model((h["major"], h["minor"]), h["crc32"], n)
    blocks = []
    for i in range(h["layer_count"]):
        base = h["layers_offset"] + i * spec.LAYER_SIZE
        e = dict(zip(spec.LAYER_FIELDS, spec.LAYER.unpack_from(blob, base)))
        model.layers.append(_read_layer(blob, base, e, i, layers_end, params_limit, strings))
        start, end = e["params_offset"], e["params_offset"] + e["params_size"]
        for j, (s0, s1) in enumerate(blocks):     # each layer against the earlier ones
            if start < s1 and s0 < end:
                raise FormatError("ERR_OVERLAP", f"layer {i} and layer {j}")
        blocks.append((start, end))
    return model


def validation_status(blob: bytes) -> str:
    """The status name validation gives `blob` ("OK" when it is a valid file):
    what the C parser and the MicroPython module must also answer."""
    try:
        read_model(blob)
    except FormatError as e:
        return e.status
    return "OK"


def _read_layer(blob, base, e, i, layers_end, params_limit, strings) -> LayerBlob:
    where = f"layer {i}"
    op = _ID_TO["op"].get(e["op"])
    if op is None:
        raise FormatError("ERR_OP", f"{where}: op id {e['op']}")
    dtype = _ID_TO["dtype"].get(e["dtype"])
    if dtype is None:
        raise FormatError("ERR_DTYPE", f"{where}: dtype id {e['dtype']}")
    layout = _ID_TO["layout"].get(e["layout"])
    if layout is None:
        raise FormatError("ERR_LAYOUT", f"{where}: layout id {e['layout']}")
    reserved = blob[base + spec.LAYER_SIZE - 7: base + spec.LAYER_SIZE - 4]
    if e["flags"] & ~spec.LAYER_FLAGS_KNOWN or (dtype != "f32" and e["flags"]) or any(reserved):
        raise FormatError("ERR_HEADER", f"{where}: flags or reserved bytes")
    c = e["channels"]
    if c == 0 or c > spec.MAX_CHANNELS:
        raise FormatError("ERR_CHANNELS", f"{where}: {c} channels")
    if e["params_offset"] % spec.PARAM_ALIGN:
        raise FormatError("ERR_ALIGN", f"{where}: parameters")
    if e["params_size"] != c * spec.PARAM_BYTES_PER_CHANNEL[dtype]:
        raise FormatError("ERR_SIZE", f"{where}: params_size")
    if e["params_offset"] < layers_end or not _fits(e["params_offset"], e["params_size"], params_limit):
        raise FormatError("ERR_BOUNDS", f"{where}: parameters")
    name = None
    if e["name_offset"] != spec.NAME_NONE:
        if e["name_offset"] >= len(strings):
            raise FormatError("ERR_STRINGS", f"{where}: name")
        end = strings.index(b"\0", e["name_offset"])
        name = strings[e["name_offset"]:end].decode("utf-8", "replace")
    params, pos = {}, e["params_offset"]
    for key, dt in PARAM_ARRAYS[dtype]:
        arr = np.frombuffer(blob, np.dtype(dt).newbyteorder("<"), c, pos)
        params[key] = arr.astype(dt)
        pos += arr.nbytes
    _check_quant(dtype, e, params, where)
    if dtype == "f32" and not (np.all(np.isfinite(params["a"])) and np.all(np.isfinite(params["b"]))):
        raise FormatError("ERR_NONFINITE", where)
    return LayerBlob(dtype=dtype, layout=layout, channels=c, params=params,
                     fused=bool(e["flags"] & spec.LAYER_FLAG_FMA), in_scale=e["in_scale"],
                     in_zero_point=e["in_zero_point"], out_scale=e["out_scale"],
                     out_zero_point=e["out_zero_point"], shift=e["shift"], name=name, op=op)


def _check_quant(dtype, e, params, where):
    if dtype == "f32":
        ok = e["shift"] == 0
    elif dtype == "s8":
        lo, hi = spec.QRANGE["s8"]
        ok = (e["shift"] <= spec.S8_SHIFT_MAX
              and lo <= e["in_zero_point"] <= hi and lo <= e["out_zero_point"] <= hi
              and _finite_positive(e["in_scale"]) and _finite_positive(e["out_scale"])
              and np.all(np.abs(params["mult"].astype(np.int64)) <= spec.S8_MULT_MAX)
              and np.all(np.abs(params["bias"].astype(np.int64)) <= spec.S8_BIAS_MAX))
    else:
        b = params["bias"]
        ok = (e["shift"] <= spec.S16_SHIFT_MAX
              and e["in_zero_point"] == 0 and e["out_zero_point"] == 0
              and _finite_positive(e["in_scale"]) and _finite_positive(e["out_scale"])
              and bool(np.all((b >= -spec.S16_BIAS_MAX) & (b <= spec.S16_BIAS_MAX))))
    if not ok:
        raise FormatError("ERR_QUANT", where)
