"""The real firmware (bnrt-sim on a pty) against the spec and toolkit/reference.py."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest

from toolkit import reference
from toolkit.errors import BoardError, ProtocolError
from toolkit.format import spec
from toolkit.format.reader import read_model
from toolkit.format.writer import write_model
from toolkit.protocol.client import Client
from toolkit.protocol.framing import Frame, build_frame, cobs_encode, encode_frame

from sim_helpers import random_input, random_layer

CMD = spec.COMMANDS
ST = spec.STATUS


def expected(layer, x):
    p = layer.params
    if layer.dtype == "f32":
        return reference.bn_affine_f32(x, p["a"], p["b"], layer.layout, fused=layer.fused)
    return reference.bn_affine_int(x, p["mult"], p["bias"], layer.shift, layer.dtype, layer.layout)


def test_info_reports_the_board(client):
    info = client.info()
    assert info.name == "host-sim"
    assert info.protocol_version == spec.PROTOCOL_VERSION
    assert set(info.dtypes) == set(spec.DTYPES) and set(info.layouts) == set(spec.LAYOUTS)
    assert info.ops == ["bn_affine"]
    assert info.max_payload >= 64 and info.max_model >= spec.HEADER_SIZE
    assert info.counter == "time" and info.counter_hz == 10**9


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("dtype", ["f32", "s8", "s16"])
def test_run_matches_reference(client, dtype, layout):
    rng = np.random.default_rng(spec.DTYPES[dtype] * 10 + spec.LAYOUTS[layout])
    layers = [random_layer(rng, dtype, layout, 7), random_layer(rng, dtype, layout, 3, fused=False)]
    blob = write_model(layers)
    crc, count = client.load(blob)
    assert (crc, count) == (read_model(blob).crc32, 2)
    # (N, C, H, W) large enough to need several frames, and (N, C) with spatial 1
    shape = (5, 7, 37, 29) if layout == "nchw" else (5, 37, 29, 7)
    x = random_input(rng, dtype, shape)
    res = client.run(0, x, 37 * 29)
    assert res.frames > 1 and res.ticks > 0
    assert res.output.dtype == x.dtype
    assert np.array_equal(res.output.view(np.uint8), expected(layers[0], x).view(np.uint8))
    x2 = random_input(rng, dtype, (11, 3))
    out2 = client.run(1, x2, 1).output
    assert np.array_equal(out2.view(np.uint8), expected(layers[1], x2).view(np.uint8))


def test_upload_of_several_chunks(client):
    rng = np.random.default_rng(5)
    layer = random_layer(rng, "f32", "nhwc", 5000)     # 40 KB: several LOAD_CHUNKs
    blob = write_model([layer])
    sizes = []
    client.load(blob, progress=lambda done, total: sizes.append((done, total)))
    assert len(sizes) > 1 and sizes[-1] == (len(blob), len(blob))
    x = random_input(rng, "f32", (2, 5000))
    assert np.array_equal(client.run(0, x, 1).output, expected(layer, x))


def _assert_active(client, layer, blob):
    assert client.model_info(0).crc32 == read_model(blob).crc32
    x = random_input(np.random.default_rng(9), layer.dtype, (2, layer.channels, 3))
    assert np.array_equal(client.run(0, x, 3).output, expected(layer, x))


def test_interrupted_upload_keeps_previous_model(client, model_a):
    layer_a, blob_a = model_a
    client.load(blob_a)
    blob_b = write_model([random_layer(np.random.default_rng(2), "f32", "nchw", 4)])
    client.request("LOAD_BEGIN", spec.LOAD_BEGIN.pack(len(blob_b), spec.crc32(blob_b)))
    client.request("LOAD_CHUNK", spec.LOAD_CHUNK.pack(0) + blob_b[:40])
    _assert_active(client, layer_a, blob_a)                 # RUN during an upload: old model
    with pytest.raises(ProtocolError, match="ERR_INCOMPLETE"):
        client.request("LOAD_COMMIT")
    client.reset()                                           # drops the upload
    with pytest.raises(ProtocolError, match="ERR_LOAD_STATE"):
        client.request("LOAD_CHUNK", spec.LOAD_CHUNK.pack(40) + blob_b[40:])
    _assert_active(client, layer_a, blob_a)


@pytest.mark.parametrize("damage", ["transfer_crc", "bad_magic", "file_crc"])
def test_rejected_commit_keeps_previous_model(client, model_a, damage):
    layer_a, blob_a = model_a
    client.load(blob_a)
    blob = bytearray(write_model([random_layer(np.random.default_rng(3), "f32", "nchw", 4)]))
    crc = spec.crc32(bytes(blob))
    status = {"transfer_crc": "ERR_CRC", "bad_magic": "ERR_MAGIC", "file_crc": "ERR_CRC"}[damage]
    if damage == "transfer_crc":
        crc ^= 1
    else:
        blob[0 if damage == "bad_magic" else len(blob) - 1] ^= 0x40
        crc = spec.crc32(bytes(blob))        # delivered intact, but not a valid model
    client.request("LOAD_BEGIN", spec.LOAD_BEGIN.pack(len(blob), crc))
    client.request("LOAD_CHUNK", spec.LOAD_CHUNK.pack(0) + bytes(blob))
    with pytest.raises(ProtocolError, match=status):
        client.request("LOAD_COMMIT")
    _assert_active(client, layer_a, blob_a)


def test_load_range_checks(client, model_a):
    _, blob = model_a
    with pytest.raises(ProtocolError, match="ERR_TOO_LARGE"):
        client.request("LOAD_BEGIN", spec.LOAD_BEGIN.pack(client.info().max_model + 1, 0))
    client.request("LOAD_BEGIN", spec.LOAD_BEGIN.pack(len(blob), spec.crc32(blob)))
    with pytest.raises(ProtocolError, match="ERR_LOAD_RANGE"):      # a gap
        client.request("LOAD_CHUNK", spec.LOAD_CHUNK.pack(8) + blob[8:16])
    with pytest.raises(ProtocolError, match="ERR_LOAD_RANGE"):      # past the announced size
        client.request("LOAD_CHUNK", spec.LOAD_CHUNK.pack(0) + blob + b"x")
    client.request("LOAD_CHUNK", spec.LOAD_CHUNK.pack(0) + blob[:16])
    client.request("LOAD_CHUNK", spec.LOAD_CHUNK.pack(0) + blob[:16])   # a retry: harmless
    client.request("LOAD_CHUNK", spec.LOAD_CHUNK.pack(16) + blob[16:])
    assert client.request("LOAD_COMMIT")


def test_client_refuses_a_model_larger_than_the_slot(client, model_a):
    _, blob_a = model_a
    client.load(blob_a)
    with pytest.raises(BoardError, match="holds at most"):
        client.load(bytes(client.info().max_model + 1))
    assert client.model_info(0).crc32 == read_model(blob_a).crc32


def test_run_errors(client, model_a):
    layer, blob = model_a
    client.load(blob)
    with pytest.raises(ProtocolError, match="ERR_LAYER"):
        client.request("RUN", spec.RUN.pack(1, 0, 1, 0, 0))
    with pytest.raises(ProtocolError, match="ERR_SHAPE"):          # count disagrees with the bytes
        client.request("RUN", spec.RUN.pack(0, 0, 1, 0, 3) + bytes(8))
    with pytest.raises(ProtocolError, match="ERR_SHAPE"):          # spatial 0
        client.request("RUN", spec.RUN.pack(0, 0, 0, 0, 1) + bytes(4))


def test_no_model_on_a_fresh_board():
    from toolkit.boards import get_board, start_board
    with start_board(get_board("host-sim")) as s, Client(s.url) as c:
        with pytest.raises(ProtocolError, match="ERR_NO_MODEL"):
            c.model_info(0)
        with pytest.raises(ProtocolError, match="ERR_NO_MODEL"):
            c.request("RUN", spec.RUN.pack(0, 0, 1, 0, 1) + bytes(4))


def test_repeated_commit_with_same_seq_is_answered_again(raw, model_a):
    _, blob = model_a
    raw.frame(CMD["LOAD_BEGIN"], 1, spec.LOAD_BEGIN.pack(len(blob), spec.crc32(blob)))
    raw.frame(CMD["LOAD_CHUNK"], 2, spec.LOAD_CHUNK.pack(0) + blob)
    assert [raw.recv().status for _ in range(2)] == [0, 0]
    raw.frame(CMD["LOAD_COMMIT"], 3)
    first = raw.recv()
    raw.frame(CMD["LOAD_COMMIT"], 3)          # the answer was "lost": same seq again
    again = raw.recv()
    assert first.status == again.status == ST["OK"] and first.payload == again.payload
    raw.frame(CMD["LOAD_COMMIT"], 4)          # a new commit without an upload
    assert raw.recv().status == ST["ERR_LOAD_STATE"]


def test_garbage_then_resync(raw):
    garbage = bytes(b or 0x55 for b in os.urandom(300))
    raw.send(garbage + b"\x00")
    nak = raw.recv()
    assert nak.is_nak and spec.status_name(nak.status) in ("ERR_FRAME_CRC", "ERR_FRAME_FORMAT")
    raw.frame(CMD["INFO"], 9)
    info = raw.recv()
    assert (info.cmd, info.seq, info.status) == (CMD["INFO"] | spec.RESPONSE_BIT, 9, ST["OK"])


def test_oversized_frame_is_rejected_after_the_delimiter(raw, client):
    max_payload = client.info().max_payload
    client.close()
    raw.frame(CMD["LOAD_CHUNK"], 5, bytes(range(256)) * (max_payload // 256 + 1))
    nak = raw.recv()
    assert nak.is_nak and nak.status == ST["ERR_FRAME_SIZE"] and nak.seq == 5
    raw.frame(CMD["INFO"], 6)
    assert raw.recv().status == ST["OK"]


def test_bad_crc_unknown_command_and_flags(raw):
    wire = bytearray(encode_frame(Frame(CMD["INFO"], 7, 0)))
    wire[-1] ^= 0xFF
    raw.send(cobs_encode(bytes(wire)) + b"\x00")
    nak = raw.recv()
    assert nak.is_nak and nak.status == ST["ERR_FRAME_CRC"] and nak.seq == 7
    raw.frame(0x42, 8)
    r = raw.recv()
    assert (r.cmd, r.status) == (0x42 | spec.RESPONSE_BIT, ST["ERR_COMMAND"])
    raw.frame(CMD["INFO"], 9, flags=1)
    assert raw.recv().status == ST["ERR_FRAME_FORMAT"]


def test_stalled_partial_frame_is_dropped(raw):
    half = build_frame(CMD["INFO"], 1)[:5]
    raw.send(half)
    time.sleep(spec.FRAME_TIMEOUT_MS * 2 / 1000)
    raw.frame(CMD["INFO"], 2)
    r = raw.recv()
    assert (r.cmd, r.seq, r.status) == (CMD["INFO"] | spec.RESPONSE_BIT, 2, ST["OK"])


def test_silent_board_gives_board_error_within_timeout():
    master, slave = os.openpty()
    try:
        t0 = time.monotonic()
        with pytest.raises(BoardError, match="not answering"):
            with Client(os.ttyname(slave), timeout=0.2, retries=1) as c:
                c.info()
        assert time.monotonic() - t0 < 1.5
    finally:
        os.close(master)
        os.close(slave)


def test_missing_port_gives_board_error():
    with pytest.raises(BoardError, match="cannot open port"):
        Client("/dev/ttyDOES-NOT-EXIST")


def test_busy_port_gives_board_error(sim):
    with Client(sim.url):
        with pytest.raises(BoardError, match="busy"):
            Client(sim.url)


def test_naks_for_earlier_noise_do_not_use_up_retries(sim):
    with Client(sim.url, retries=0) as c:
        c._ser.write(b"\x05\x01\x00" * 5)     # five cut-short frames: five NAKs with seq 0
        assert c.info().name == "host-sim"
