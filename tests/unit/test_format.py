"""writer/reader: round trip, and each corruption gets the status the C parser gives."""
from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.format import spec
from toolkit.format.reader import FormatError, read_model
from toolkit.format.writer import LayerBlob, write_model


def _layer(dtype, layout, c, seed, name=None, fused=True):
    rng = np.random.default_rng(seed)
    if dtype == "f32":
        params = {"a": rng.normal(size=c).astype(np.float32), "b": rng.normal(size=c).astype(np.float32)}
        return LayerBlob("f32", layout, c, params, fused=fused, name=name)
    mult_max = spec.S8_MULT_MAX if dtype == "s8" else (1 << 31) - 1
    bias_max = spec.S8_BIAS_MAX if dtype == "s8" else spec.S16_BIAS_MAX
    params = {"mult": rng.integers(-mult_max, mult_max, c, dtype=np.int64).astype(np.int32),
              "bias": rng.integers(-bias_max, bias_max, c, dtype=np.int64)}
    params["bias"] = params["bias"].astype(np.int32 if dtype == "s8" else np.int64)
    zp = int(rng.integers(-128, 128)) if dtype == "s8" else 0
    return LayerBlob(dtype, layout, c, params, in_scale=0.5, in_zero_point=zp, out_scale=0.25,
                     out_zero_point=-zp, shift=int(rng.integers(0, 32)), name=name)


layer_st = st.builds(
    _layer, st.sampled_from(sorted(spec.DTYPES)), st.sampled_from(sorted(spec.LAYOUTS)),
    st.integers(1, 40), st.integers(0, 2**32 - 1),
    st.one_of(st.none(), st.text(min_size=0, max_size=12).filter(lambda s: "\0" not in s)),
    st.booleans())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(layer_st, min_size=1, max_size=5))
def test_round_trip(layers):
    blob = write_model(layers)
    m = read_model(blob)
    assert m.total_size == len(blob) and m.version == (spec.VERSION_MAJOR, spec.VERSION_MINOR)
    assert len(m.layers) == len(layers)
    for a, b in zip(layers, m.layers):
        assert (a.dtype, a.layout, a.channels, a.name) == (b.dtype, b.layout, b.channels, b.name)
        assert b.fused == (a.fused and a.dtype == "f32")
        for k in a.params:
            np.testing.assert_array_equal(np.asarray(a.params[k]), b.params[k])
        if a.dtype != "f32":
            assert (b.in_scale, b.in_zero_point, b.out_zero_point, b.shift) == \
                (a.in_scale, a.in_zero_point, a.out_zero_point, a.shift)


@settings(max_examples=150, deadline=None)
@given(st.lists(layer_st, min_size=1, max_size=3), st.data())
def test_any_single_byte_change_is_rejected(layers, data):
    blob = bytearray(write_model(layers))
    i = data.draw(st.integers(0, len(blob) - 1))
    blob[i] ^= data.draw(st.integers(1, 255))
    with pytest.raises(FormatError) as e:
        read_model(bytes(blob))
    assert e.value.status in spec.STATUS
    assert e.value.exit_code == 3


@settings(max_examples=60, deadline=None)
@given(st.lists(layer_st, min_size=1, max_size=3), st.data())
def test_truncation_is_rejected(layers, data):
    blob = write_model(layers)
    n = data.draw(st.integers(0, len(blob) - 1))
    with pytest.raises(FormatError) as e:
        read_model(blob[:n])
    assert e.value.status == "ERR_TRUNCATED"


def _recrc(b: bytearray) -> bytes:
    b[spec.CRC_OFFSET:spec.CRC_OFFSET + 4] = spec.file_crc(bytes(b)).to_bytes(4, "little")
    return bytes(b)


def _patch_layer(blob, field, value, index=0):
    b = bytearray(blob)
    base = spec.HEADER_SIZE + index * spec.LAYER_SIZE
    e = dict(zip(spec.LAYER_FIELDS, spec.LAYER.unpack_from(b, base)))
    e[field] = value
    b[base:base + spec.LAYER_SIZE] = spec.LAYER.pack(*(e[f] for f in spec.LAYER_FIELDS))
    return _recrc(b)


def _patch_header(blob, field, value):
    b = bytearray(blob)
    h = dict(zip(spec.HEADER_FIELDS, spec.HEADER.unpack_from(b)))
    h[field] = value
    b[:spec.HEADER_SIZE] = spec.HEADER.pack(*(h[f] for f in spec.HEADER_FIELDS))
    return _recrc(b)


BASE = write_model([_layer("f32", "nchw", 5, 1, name="a"), _layer("s8", "nhwc", 3, 2, name="b")])


@pytest.mark.parametrize("make, status", [
    (lambda: b"XXXX" + BASE[4:], "ERR_MAGIC"),
    (lambda: _patch_header(BASE, "major", spec.VERSION_MAJOR + 1), "ERR_VERSION"),
    (lambda: _patch_header(BASE, "header_size", 40), "ERR_HEADER"),
    (lambda: BASE + b"\0" * 8, "ERR_SIZE"),
    (lambda: BASE[:-1] + bytes([BASE[-1] ^ 1]), "ERR_CRC"),
    (lambda: _patch_header(BASE, "flags", 0x8001), "ERR_HEADER"),
    (lambda: _patch_header(BASE, "layer_count", 0), "ERR_HEADER"),
    (lambda: _patch_header(BASE, "layers_offset", 34), "ERR_ALIGN"),
    (lambda: _patch_header(BASE, "layer_count", 1000), "ERR_BOUNDS"),
    (lambda: _patch_header(BASE, "strings_size", 0), "ERR_STRINGS"),
    (lambda: _patch_layer(BASE, "op", 99), "ERR_OP"),
    (lambda: _patch_layer(BASE, "dtype", 99), "ERR_DTYPE"),
    (lambda: _patch_layer(BASE, "layout", 9), "ERR_LAYOUT"),
    (lambda: _patch_layer(BASE, "flags", 0x80), "ERR_HEADER"),
    (lambda: _patch_layer(BASE, "flags", 1, index=1), "ERR_HEADER"),
    (lambda: _patch_layer(BASE, "channels", 0), "ERR_CHANNELS"),
    (lambda: _patch_layer(BASE, "channels", spec.MAX_CHANNELS + 1), "ERR_CHANNELS"),
    (lambda: _patch_layer(BASE, "params_offset", 4), "ERR_ALIGN"),
    (lambda: _patch_layer(BASE, "params_size", 8), "ERR_SIZE"),
    (lambda: _patch_layer(BASE, "params_offset", 1 << 20), "ERR_BOUNDS"),
    (lambda: _patch_layer(BASE, "name_offset", 1000), "ERR_STRINGS"),
    (lambda: _patch_layer(BASE, "shift", 1), "ERR_QUANT"),
    (lambda: _patch_layer(BASE, "shift", spec.S8_SHIFT_MAX + 1, index=1), "ERR_QUANT"),
    (lambda: _patch_layer(BASE, "in_zero_point", 128, index=1), "ERR_QUANT"),
    (lambda: _patch_layer(BASE, "out_scale", 0.0, index=1), "ERR_QUANT"),
    (lambda: _patch_layer(BASE, "in_scale", float("nan"), index=1), "ERR_QUANT"),
])
def test_rejection_status(make, status):
    with pytest.raises(FormatError) as e:
        read_model(make())
    assert e.value.status == status


def test_int_parameter_limits_are_enforced():
    bad = _layer("s8", "nchw", 2, 3)
    bad.params["mult"] = np.array([spec.S8_MULT_MAX + 1, 0], np.int32)
    with pytest.raises(FormatError, match="ERR_QUANT"):
        read_model(write_model([bad]))
    bad = _layer("s16", "nchw", 2, 3)
    bad.params["bias"] = np.array([spec.S16_BIAS_MAX + 1, 0], np.int64)
    with pytest.raises(FormatError, match="ERR_QUANT"):
        read_model(write_model([bad]))


def test_layout_of_the_file():
    blob = write_model([_layer("f32", "nchw", 3, 1, name="x")])
    h = dict(zip(spec.HEADER_FIELDS, spec.HEADER.unpack_from(blob)))
    e = dict(zip(spec.LAYER_FIELDS, spec.LAYER.unpack_from(blob, h["layers_offset"])))
    assert h["layers_offset"] == spec.HEADER_SIZE
    assert e["params_offset"] % spec.PARAM_ALIGN == 0 and e["params_size"] == 3 * 8
    assert blob[h["strings_offset"]:] == b"x\0"
    layer = read_model(blob).layers[0]
    assert struct.unpack_from("<3f", blob, e["params_offset"]) == tuple(layer.params["a"].tolist())
