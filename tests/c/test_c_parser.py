"""The C parser against toolkit/format/reader.py: same verdict, same status
name, for valid files, golden files and every truncation / bit flip."""
from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bnrt_cases import random_layer
from toolkit import reference
from toolkit.format import spec
from toolkit.format.reader import FormatError, read_model, validation_status
from toolkit.format.writer import LayerBlob, write_model

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden"
GOLDEN = sorted(GOLDEN_DIR.glob("*.bnm"))


def c_status(rt, blob: bytes) -> str:
    try:
        rt.load(blob)
    except FormatError as e:
        return e.status
    return "OK"


def with_crc(blob: bytearray) -> bytes:
    blob[spec.CRC_OFFSET:spec.CRC_OFFSET + 4] = spec.file_crc(bytes(blob)).to_bytes(4, "little")
    return bytes(blob)


def small_model() -> bytes:
    rng = np.random.default_rng(5)
    return write_model([
        LayerBlob("f32", "nchw", 2, {"a": np.float32([1.5, -2]), "b": np.float32([0.25, 3])},
                  name="bn"),
        random_layer(rng, "s8", "nhwc", 1),
        random_layer(rng, "s16", "nchw", 1),
    ])


def test_status_names_match_spec(rt):
    for code, (name, _, _) in enumerate(spec.STATUSES):
        assert rt.status_name(code) == name
    assert rt.status_name(len(spec.STATUSES)) == "UNKNOWN"


@given(data=st.binary(max_size=300), crc=st.integers(0, 2**32 - 1))
@settings(max_examples=200, deadline=None)
def test_crc32_is_zlib(rt, data, crc):
    assert rt.crc32(data) == zlib.crc32(data)
    assert rt.crc32(data, crc) == zlib.crc32(data, crc)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 4), names=st.booleans())
def test_writer_output_is_accepted_and_decoded_alike(rt, seed, n, names):
    rng = np.random.default_rng(seed)
    layers = [random_layer(rng, str(rng.choice(["f32", "s8", "s16"])),
                           str(rng.choice(["nchw", "nhwc"])), int(rng.integers(1, 50)),
                           fused=bool(rng.integers(2))) for _ in range(n)]
    for i, layer in enumerate(layers):
        layer.name = f"layer{i}" if names and i % 2 == 0 else None
    blob = write_model(layers)
    model, py = rt.load(blob), read_model(blob)
    assert model.crc32 == py.crc32 and model.layer_count == len(py.layers) == n
    assert model.size == len(blob)
    for info, want in zip(model.layers(), py.layers):
        assert (info.dtype, info.layout, info.channels, info.fused, info.shift) == \
               (want.dtype, want.layout, want.channels, want.fused and want.dtype == "f32",
                want.shift)
        assert (info.in_zero_point, info.out_zero_point) == (want.in_zero_point,
                                                             want.out_zero_point)
        assert np.float32(info.in_scale) == np.float32(want.in_scale)
        assert info.params_size == want.channels * spec.PARAM_BYTES_PER_CHANNEL[want.dtype]
        assert blob[info.params_offset:info.params_offset + info.params_size] == \
               want.param_bytes()


@pytest.mark.skipif(not GOLDEN, reason="no tests/golden/*.bnm yet (written by the exporter)")
@pytest.mark.parametrize("path", GOLDEN, ids=[p.name for p in GOLDEN])
def test_golden_files(rt, path):
    blob = path.read_bytes()
    assert c_status(rt, blob) == validation_status(blob) == "OK"


REJECTED = json.loads((GOLDEN_DIR / "golden.json").read_text())["rejected"]


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_rejected_golden_files(rt, name):
    blob = (GOLDEN_DIR / "rejected" / name).read_bytes()
    assert c_status(rt, blob) == validation_status(blob) == REJECTED[name]


@pytest.mark.parametrize("bits", [0x7F800000, 0xFF800000, 0x7FC00000, 0xFFFFFFFF, 0x7F800001])
@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_nonfinite_f32_parameters_are_refused(rt, bits, index):
    """a[0], a[1], b[0], b[1] of the 2-channel f32 layer set to inf/NaN; the
    largest finite float stays accepted."""
    blob = bytearray(small_model())
    off = read_params_offset(blob, 0) + 4 * index
    blob[off:off + 4] = bits.to_bytes(4, "little")
    case = with_crc(blob)
    assert c_status(rt, case) == validation_status(case) == "ERR_NONFINITE"
    blob[off:off + 4] = (0x7F7FFFFF).to_bytes(4, "little")
    case = with_crc(blob)
    assert c_status(rt, case) == validation_status(case) == "OK"


def read_params_offset(blob, layer: int) -> int:
    h = dict(zip(spec.HEADER_FIELDS, spec.HEADER.unpack_from(blob)))
    e = dict(zip(spec.LAYER_FIELDS, spec.LAYER.unpack_from(blob, h["layers_offset"] + layer * spec.LAYER_SIZE)))
    return e["params_offset"]


def test_overlapping_parameter_blocks_are_refused(rt):
    """Two layers of the same size: every 8-aligned start of layer 1 inside
    layer 0's block or touching its end; touching is fine, overlapping is not."""
    layers = [LayerBlob("s8", "nchw", 4, {"mult": np.int32([1, 2, 3, 4]), "bias": np.int32([0, 1, 2, 3])},
                        in_scale=1.0, out_scale=1.0, shift=0) for _ in range(2)]
    blob = write_model(layers)
    h = dict(zip(spec.HEADER_FIELDS, spec.HEADER.unpack_from(blob)))
    base1 = h["layers_offset"] + spec.LAYER_SIZE
    o0, size = read_params_offset(blob, 0), 4 * 8
    seen = {}
    for start in range(o0, o0 + size + 8, 8):
        b = bytearray(blob)
        e = dict(zip(spec.LAYER_FIELDS, spec.LAYER.unpack_from(b, base1)))
        e["params_offset"] = start
        spec.LAYER.pack_into(b, base1, *(e[f] for f in spec.LAYER_FIELDS))
        case = with_crc(b)
        want = "ERR_OVERLAP" if start < o0 + size and o0 < start + size else None
        seen[start] = c_status(rt, case)
        assert seen[start] == validation_status(case) == (want or "OK"), start
    assert seen[o0 + size] == "OK" and list(seen.values()).count("ERR_OVERLAP") == size // 8


def test_every_truncation(rt):
    blob = small_model()
    for n in range(len(blob)):
        assert c_status(rt, blob[:n]) == validation_status(blob[:n]), n
    assert c_status(rt, blob + b"\0") == validation_status(blob + b"\0") == "ERR_SIZE"


def test_every_bit_flip(rt):
    """Raw flips (mostly ERR_CRC, or the header checks before the CRC) and the
    same flips with the CRC recomputed, which reach every structural check."""
    blob = small_model()
    seen = set()
    for i in range(len(blob) * 8):
        bad = bytearray(blob)
        bad[i // 8] ^= 1 << (i % 8)
        for case in (bytes(bad), with_crc(bad)):
            want = validation_status(case)
            assert c_status(rt, case) == want, (i, want)
            seen.add(want)
    # the flips exercised many distinct checks, not just the CRC
    assert {"ERR_CRC", "ERR_MAGIC", "ERR_VERSION", "ERR_HEADER", "ERR_SIZE", "ERR_OP",
            "ERR_DTYPE", "ERR_LAYOUT", "ERR_CHANNELS", "ERR_ALIGN", "ERR_BOUNDS",
            "ERR_STRINGS", "ERR_QUANT", "OK"} <= seen, seen


u32 = st.integers(0, 2**32 - 1)
HEADER_FIELDS = {"layer_count": st.integers(0, 5), "flags": st.integers(0, 3),
                 "layers_offset": st.one_of(st.integers(0, 200), u32),
                 "strings_offset": st.one_of(st.integers(0, 300), u32),
                 "strings_size": st.one_of(st.integers(0, 30), u32),
                 "header_size": st.sampled_from([32, 31, 0]), "minor": st.integers(0, 255)}
LAYER_FIELDS = {"op": st.integers(0, 3), "dtype": st.integers(0, 4), "layout": st.integers(0, 2),
                "flags": st.integers(0, 3), "channels": st.one_of(st.integers(0, 4), u32),
                "params_offset": st.one_of(st.integers(0, 300), u32),
                "params_size": st.one_of(st.integers(0, 64), u32),
                "in_scale": st.floats(width=32), "out_scale": st.floats(width=32),
                "in_zero_point": st.integers(-2**31, 2**31 - 1),
                "out_zero_point": st.integers(-2**31, 2**31 - 1), "shift": st.integers(0, 255),
                "name_offset": st.one_of(st.integers(0, 10), st.just(spec.NAME_NONE), u32)}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_field_corruption_with_valid_crc(rt, data):
    blob = bytearray(small_model())
    h = dict(zip(spec.HEADER_FIELDS, spec.HEADER.unpack_from(blob)))
    for key in data.draw(st.lists(st.sampled_from(sorted(HEADER_FIELDS)), max_size=2)):
        h[key] = data.draw(HEADER_FIELDS[key])
    spec.HEADER.pack_into(blob, 0, *(h[k] for k in spec.HEADER_FIELDS))
    k = data.draw(st.integers(0, 2))
    base = spec.HEADER_SIZE + k * spec.LAYER_SIZE
    e = dict(zip(spec.LAYER_FIELDS, spec.LAYER.unpack_from(blob, base)))
    for key in data.draw(st.lists(st.sampled_from(sorted(LAYER_FIELDS)), max_size=3)):
        e[key] = data.draw(LAYER_FIELDS[key])
    spec.LAYER.pack_into(blob, base, *(e[f] for f in spec.LAYER_FIELDS))
    if data.draw(st.booleans()):
        blob[base + 33 + data.draw(st.integers(0, 2))] = data.draw(st.integers(1, 255))
    case = with_crc(blob)
    assert c_status(rt, case) == validation_status(case)


@pytest.mark.parametrize("misalign", range(1, 8))
def test_misaligned_blob_is_refused(rt, misalign):
    blob = small_model()
    with pytest.raises(FormatError) as e:
        rt.load(blob, misalign=misalign)
    assert e.value.status == "ERR_ALIGN"
    assert rt.load(blob).layer_count == 3


def test_s8_limits_keep_the_accumulator_in_int32(rt):
    """At the corner of the s8 limits (q=-128, |mult|=2^23, |bias| max) the
    kernel still matches the reference; one step beyond, both parsers refuse."""
    def layer(mult, bias):
        return LayerBlob("s8", "nchw", 1, {"mult": np.int32([mult]), "bias": np.int32([bias])},
                         in_scale=1.0, out_scale=1.0, shift=0)
    corner = layer(-spec.S8_MULT_MAX, spec.S8_BIAS_MAX)
    x = np.array([[-128], [127], [0]], np.int8)
    got = rt.load(write_model([corner])).run(0, x)
    want = reference.bn_affine_int(x, corner.params["mult"], corner.params["bias"], 0, "s8", "nchw")
    assert np.array_equal(got, want)
    beyond = write_model([layer(-spec.S8_MULT_MAX, spec.S8_BIAS_MAX + 1)])
    assert c_status(rt, beyond) == validation_status(beyond) == "ERR_QUANT"
