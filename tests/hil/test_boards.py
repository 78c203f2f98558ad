"""Hardware-in-the-loop suite: the same protocol tests on host-sim and on every
QEMU board (real Cortex-M images), or on --board/--port.  Outputs are checked
bit for bit against toolkit/reference.py; parameters and inputs are random
(seeded) within the spec's limits, tensors small to keep the suite fast."""
from __future__ import annotations

import numpy as np
import pytest

from toolkit import reference
from toolkit.errors import ProtocolError
from toolkit.format import spec
from toolkit.format.writer import LayerBlob, write_model
from toolkit.protocol.client import Client

pytestmark = pytest.mark.hil(boards=["host-sim", "qemu"])


def f32_layer(rng, channels, layout="nchw", fused=True):
    a = rng.uniform(-3, 3, channels).astype(np.float32)
    b = rng.uniform(-2, 2, channels).astype(np.float32)
    return LayerBlob("f32", layout, channels, {"a": a, "b": b}, fused=fused)


def int_layer(rng, dtype, channels, layout="nchw"):
    if dtype == "s8":   # |q*mult| <= 2^27, |bias| <= 2^28: inside S8_MULT_MAX / S8_BIAS_MAX
        mult = rng.integers(-2**20, 2**20, channels, dtype=np.int32)
        bias = rng.integers(-2**28, 2**28, channels, dtype=np.int32)
        shift, zp = 16, 3
    else:               # any int32 mult, |bias| <= 2^50 < S16_BIAS_MAX
        mult = rng.integers(-2**31, 2**31 - 1, channels, dtype=np.int64).astype(np.int32)
        bias = rng.integers(-2**50, 2**50, channels, dtype=np.int64)
        shift, zp = 30, 0
    return LayerBlob(dtype, layout, channels, {"mult": mult, "bias": bias}, in_scale=0.05,
                     in_zero_point=zp, out_scale=0.07, out_zero_point=zp, shift=shift)


def random_input(rng, layer: LayerBlob, batch: int, spatial: int) -> np.ndarray:
    shape = (batch, layer.channels, spatial) if layer.layout == "nchw" else (batch, spatial, layer.channels)
    if layer.dtype == "f32":
        return rng.standard_normal(shape).astype(np.float32) * 4
    lo, hi = spec.QRANGE[layer.dtype]
    return rng.integers(lo, hi + 1, shape).astype(np.int8 if layer.dtype == "s8" else np.int16)


def expected(layer: LayerBlob, x: np.ndarray) -> np.ndarray:
    if layer.dtype == "f32":
        return reference.bn_affine_f32(x, layer.params["a"], layer.params["b"], layer.layout,
                                       fused=layer.fused)
    return reference.bn_affine_int(x, layer.params["mult"], layer.params["bias"], layer.shift,
                                   layer.dtype, layer.layout)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| in float32 units in the last place (finite values, same sign side)."""
    def ordered(v):
        i = v.astype(np.float32).view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)
    return np.abs(ordered(a) - ordered(b))


def test_info_fields(bnrt_board, bnrt_device):
    info = bnrt_device.info()
    assert info.protocol_version == spec.PROTOCOL_VERSION
    assert info.firmware_version == spec.FIRMWARE_VERSION
    assert set(info.dtypes) == set(spec.DTYPES)
    assert set(info.layouts) == set(spec.LAYOUTS)
    assert info.ops == ["bn_affine"]
    board = bnrt_board.board
    assert info.name == board.name
    if board.kind == "qemu" or board.kind == "serial":
        assert info.max_payload == board.get("build.max_payload")
        assert info.max_model == board.get("build.model_slot_size")
    # what board.toml (and `toolkit boards`) says about the counter is what INFO reports
    assert (info.counter, info.counter_hz) == (board.get("counter.kind"), board.get("counter.hz"))


CASES = [("f32", "nchw", True), ("f32", "nhwc", False), ("f32", "nchw", False),
         ("f32", "nhwc", True), ("s8", "nchw", True),
         ("s8", "nhwc", True), ("s16", "nchw", True), ("s16", "nhwc", True)]


@pytest.mark.parametrize("dtype,layout,fused", CASES, ids=[f"{d}-{l}{'' if f else '-unfused'}"
                                                           for d, l, f in CASES])
def test_run_matches_reference(bnrt_device, bnrt_load, dtype, layout, fused):
    rng = np.random.default_rng(sum(map(ord, dtype + layout)) + fused)
    # 9 channels and 11 elements per channel: rows of two 4-element blocks plus
    # a tail, in both layouts (the Cortex-M f32 kernels work in blocks of 4)
    layer = f32_layer(rng, 9, layout, fused) if dtype == "f32" else int_layer(rng, dtype, 9, layout)
    blob = write_model([layer])
    assert bnrt_load(blob)[1] == 1
    x = random_input(rng, layer, batch=3, spatial=11)
    got = bnrt_device.run(0, x, spatial=11).output
    assert same_bits(got, expected(layer, x))


def test_multi_frame_tensor_and_counter(bnrt_board, bnrt_device, bnrt_load):
    """A tensor larger than one frame streams in element ranges; the board's
    counter is honest: at least one instruction/cycle per element, when it has one."""
    rng = np.random.default_rng(7)
    layer = f32_layer(rng, 3)
    bnrt_load(write_model([layer]))
    spatial = bnrt_device.info().max_payload // 4 // 3 + 50     # > one frame
    x = random_input(rng, layer, batch=2, spatial=spatial)
    result = bnrt_device.run(0, x, spatial=spatial)
    assert result.frames >= 2
    assert same_bits(result.output, expected(layer, x))
    if bnrt_device.info().counter in ("instructions", "cycles"):
        assert x.size <= result.ticks < 10_000 * x.size


def test_fma_double_rounding_case(bnrt_board, bnrt_device, bnrt_load, record_property):
    """x*a = 2^-24 + 2^-56 exactly (641 * 6700417 = 2^32 + 1) and b = 1: the
    exact sum lies just above a float32 midpoint, so fmaf must round up, while
    computing it in double first (x*a + b rounded to double, then to float)
    lands on the midpoint and rounds to even, one ULP low.  Hardware FMA
    (FPv4/FPv5, the host) is exact.  On the soft-float Cortex-M3, newlib's
    fmaf is that double-rounding one (measured: 1 ULP low here); the runtime
    uses its own correctly rounded software fmaf there, so every board must
    be exact."""
    scales = [2.0 ** k for k in range(-8, 9, 4)]
    a = np.array([6700417 * 2.0**-28 * s for s in scales], np.float32)
    b = np.array([s * s for s in scales], np.float32)          # keeps each case on a midpoint
    x = np.array([[641 * 2.0**-28 * s for s in scales]], np.float32)
    layer = LayerBlob("f32", "nchw", len(scales), {"a": a, "b": b}, fused=True)
    bnrt_load(write_model([layer]))
    want = expected(layer, x)
    double_rounded = (x.astype(np.float64) * a + b).astype(np.float32)
    assert np.all(ulp_distance(want, double_rounded) == 1), "each case must separate the two"
    got = bnrt_device.run(0, x, spatial=1).output
    mismatches = int(np.count_nonzero(ulp_distance(got, want)))
    record_property("fma_mismatches", mismatches)
    assert mismatches == 0, f"{mismatches}/{x.size} double-rounding cases off (max " \
                            f"{int(ulp_distance(got, want).max())} ULP): fmaf is not correctly rounded"


def test_interrupted_upload_keeps_previous_model(bnrt_board, bnrt_device, bnrt_load):
    rng = np.random.default_rng(11)
    old = f32_layer(rng, 4)
    old_blob = write_model([old])
    bnrt_load(old_blob)
    x = random_input(rng, old, batch=2, spatial=5)
    # A model of two or more chunks, cut off after its first: the link drops.
    step = bnrt_device.info().max_payload - spec.LOAD_CHUNK.size
    new_blob = write_model([f32_layer(rng, step // 8 + 16)])
    assert step < len(new_blob) <= bnrt_device.info().max_model
    bnrt_device.request("LOAD_BEGIN", spec.LOAD_BEGIN.pack(len(new_blob), spec.crc32(new_blob)))
    bnrt_device.request("LOAD_CHUNK", spec.LOAD_CHUNK.pack(0) + new_blob[:step])
    bnrt_device.close()
    with Client(bnrt_board.url) as again:
        assert same_bits(again.run(0, x, spatial=5).output, expected(old, x))
        assert again.model_info(0).crc32 == spec.file_crc(old_blob)
        # Committing the partial upload fails and still leaves the old model.
        again.request("LOAD_BEGIN", spec.LOAD_BEGIN.pack(len(new_blob), spec.crc32(new_blob)))
        again.request("LOAD_CHUNK", spec.LOAD_CHUNK.pack(0) + new_blob[:step])
        with pytest.raises(ProtocolError, match="ERR_INCOMPLETE"):
            again.request("LOAD_COMMIT")
        assert same_bits(again.run(0, x, spatial=5).output, expected(old, x))
