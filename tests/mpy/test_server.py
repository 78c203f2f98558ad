"""bnrt_main on the unix port behind a pty, driven by the shared protocol client."""
from __future__ import annotations

import numpy as np
import pytest

from toolkit import reference
from toolkit.boards import get_board
from toolkit.errors import ProtocolError
from toolkit.format import spec
from toolkit.format.writer import LayerBlob, write_model
from toolkit.launchers import micropython as mp_launcher
from toolkit.protocol.client import Client
from toolkit.protocol.framing import build_frame, decode_frame

from mpy_helpers import needs_micropython

pytestmark = needs_micropython


@pytest.fixture(scope="module")
def board_url(tmp_path_factory):
    board = get_board("micropython-unix")
    with mp_launcher.start(board, fs=tmp_path_factory.mktemp("board") / "fs") as session:
        yield session.url


def _model(rng, C=6):
    layers = [
        LayerBlob("f32", "nhwc", C, {"a": rng.normal(size=C).astype(np.float32),
                                     "b": rng.normal(size=C).astype(np.float32)}, fused=True),
        LayerBlob("s8", "nchw", C, {"mult": rng.integers(-2**20, 2**20, C).astype(np.int32),
                                    "bias": rng.integers(-2**28, 2**28, C).astype(np.int32)},
                  in_scale=0.1, in_zero_point=1, out_scale=0.1, out_zero_point=-1, shift=16),
        LayerBlob("s16", "nhwc", C, {"mult": rng.integers(-2**31, 2**31, C).astype(np.int32),
                                     "bias": rng.integers(-2**50, 2**50, C).astype(np.int64)},
                  in_scale=0.1, out_scale=0.1, shift=33),
    ]
    return layers, write_model(layers)


def _err(excinfo, name):
    return spec.status_message(spec.STATUS[name]) in str(excinfo.value)


def test_info_load_run(board_url):
    rng = np.random.default_rng(3)
    layers, blob = _model(rng)
    with Client(board_url) as c:
        info = c.info()
        assert info.name == "micropython-unix"
        assert set(info.dtypes) == {"f32", "s8", "s16"} and set(info.layouts) == {"nchw", "nhwc"}
        crc, count = c.load(blob)
        assert (crc, count) == (spec.HEADER.unpack_from(blob)[4], 3)
        assert c.model_info(1).dtype == "s8" and c.model_info(1).channels == 6
        x = rng.normal(size=(2, 300, 6)).astype(np.float32)      # several frames
        np.testing.assert_array_equal(
            c.run(0, x, spatial=300).output.view(np.int32),
            reference.bn_affine_f32(x, layers[0].params["a"], layers[0].params["b"], "nhwc").view(np.int32))
        q = rng.integers(-128, 128, (3, 6, 500)).astype(np.int8)
        np.testing.assert_array_equal(c.run(1, q, spatial=500).output, reference.bn_affine_int(
            q, layers[1].params["mult"], layers[1].params["bias"], 16, "s8", "nchw"))
        q16 = rng.integers(-32768, 32768, (2, 70, 6)).astype(np.int16)
        np.testing.assert_array_equal(c.run(2, q16, spatial=70).output, reference.bn_affine_int(
            q16, layers[2].params["mult"], layers[2].params["bias"], 33, "s16", "nhwc"))


def test_bad_upload_keeps_previous_model(board_url):
    rng = np.random.default_rng(4)
    layers, blob = _model(rng)
    bad = bytearray(blob)
    bad[-1] ^= 1
    with Client(board_url) as c:
        c.load(blob)
        with pytest.raises(ProtocolError) as e:
            c.load(bytes(bad))                     # the upload CRC is right, the file CRC is not
        assert _err(e, "ERR_CRC")
        with pytest.raises(ProtocolError) as e:
            c.model_info(3)
        assert _err(e, "ERR_LAYER")
        q = rng.integers(-128, 128, (1, 6, 9)).astype(np.int8)
        np.testing.assert_array_equal(c.run(1, q, spatial=9).output, reference.bn_affine_int(
            q, layers[1].params["mult"], layers[1].params["bias"], 16, "s8", "nchw"))


def test_nak_and_unknown_command(board_url):
    import serial
    with serial.serial_for_url(board_url, timeout=2) as ser:
        wire = bytearray(build_frame(spec.COMMANDS["INFO"], 9))
        wire[2] ^= 0x40                                # breaks the CRC
        ser.write(bytes(wire))
        nak = decode_frame(ser.read_until(b"\0")[:-1])
        assert (nak.cmd, nak.status) == (spec.NAK, spec.STATUS["ERR_FRAME_CRC"])
        ser.write(build_frame(0x42, 10))
        r = decode_frame(ser.read_until(b"\0")[:-1])
        assert (r.cmd, r.seq, r.status) == (0x42 | spec.RESPONSE_BIT, 10, spec.STATUS["ERR_COMMAND"])
