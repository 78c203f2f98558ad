"""Safe model updates: an upload interrupted anywhere (connection cut at any
byte, RESET, a new LOAD_BEGIN, a damaged chunk) leaves the previous model
active, intact and computing the same outputs; a completed upload replaces it."""
from __future__ import annotations

import numpy as np
import pytest
import serial

from toolkit.errors import ProtocolError
from toolkit.format import reader, spec
from toolkit.protocol.client import Client
from toolkit.protocol.framing import build_frame

from rel_helpers import CHUNK, X, expected_output, mixed_model, new_model, status_of, upload_frames

def assert_active(url: str, blob: bytes) -> None:
    """The board's active model is `blob`: its CRC and layer count, and its outputs."""
    with Client(url) as c:
        info = c.model_info(0)
        assert (info.crc32, info.layer_count) == (spec.file_crc(blob), len(reader.read_model(blob).layers))
        got = c.run(0, X, spatial=X.shape[2]).output
    assert got.view(np.uint32).tolist() == expected_output(blob).view(np.uint32).tolist()


@pytest.fixture
def old_model(host_sim):
    blob = mixed_model()
    with Client(host_sim) as c:
        c.load(blob)
    assert spec.file_crc(blob) != spec.file_crc(new_model())
    return blob


def test_models_differ_in_output(old_model):
    assert expected_output(old_model).tobytes() != expected_output(new_model()).tobytes()


def test_connection_cut_at_every_byte_of_an_upload(host_sim, old_model):
    """Write the upload's wire bytes up to every position, drop the
    connection, reconnect: the old model is active until COMMIT went through."""
    blob = new_model()
    frames = upload_frames(blob)
    assert len(frames) >= 5
    wire = b"".join(build_frame(spec.COMMANDS[cmd], 100 + i, payload)
                    for i, (cmd, payload) in enumerate(frames))
    # Up to the COMMIT frame's last byte before its delimiter: the old model.
    # Cut right before that delimiter, the COMMIT is complete and CRC-valid:
    # the next 0x00 (the reconnecting client's flush) executes it, unless the
    # board's FRAME_TIMEOUT_MS dropped it first.  Either model is then right.
    for cut in range(len(wire)):
        with serial.serial_for_url(host_sim, timeout=0) as raw:
            raw.write(wire[:cut])
            raw.flush()
        if cut < len(wire) - 1:
            assert_active(host_sim, old_model)
        else:
            try:
                assert_active(host_sim, blob)
            except AssertionError:
                assert_active(host_sim, old_model)
    with serial.serial_for_url(host_sim, timeout=1) as raw:     # the whole upload
        raw.write(wire)
        raw.flush()
        raw.read(64)
    assert_active(host_sim, blob)


@pytest.mark.parametrize("how", ["reset", "new-begin", "bad-chunk", "commit-early"])
def test_upload_interrupted_at_every_chunk(host_sim, old_model, how):
    blob = new_model()
    frames = upload_frames(blob)
    for k in range(1, len(frames)):                       # after BEGIN + k-1 chunks
        with Client(host_sim) as c:
            if how == "bad-chunk":
                # every chunk arrives, chunk k-1 with one byte changed (CRC-valid frames)
                sent = list(frames[:-1])
                cmd, payload = sent[k - 1] if k > 1 else sent[1]
                bad = bytearray(payload)
                bad[-1] ^= 0x40
                sent[sent.index((cmd, payload))] = (cmd, bytes(bad))
            else:
                sent = frames[:k]
            for cmd, payload in sent:
                c.request(cmd, payload)
            if how == "reset":
                c.reset()
                expect = "ERR_LOAD_STATE"
            elif how == "new-begin":
                c.request("LOAD_BEGIN", spec.LOAD_BEGIN.pack(len(blob), spec.crc32(blob)))
                expect = "ERR_INCOMPLETE"
            elif how == "bad-chunk":
                expect = "ERR_CRC"                         # the upload's CRC, checked at commit
            else:
                expect = "ERR_INCOMPLETE" if k < len(frames) - 1 else None
            if expect is not None:
                with pytest.raises(ProtocolError) as e:
                    c.request("LOAD_COMMIT")
                assert status_of(e.value) == expect, f"after {k} frames"
        assert_active(host_sim, old_model)


def test_chunk_out_of_order_is_refused_and_harmless(host_sim, old_model):
    blob = new_model()
    frames = upload_frames(blob)
    with Client(host_sim) as c:
        c.request(*frames[0])
        with pytest.raises(ProtocolError) as e:           # a gap: offset beyond what arrived
            c.request("LOAD_CHUNK", spec.LOAD_CHUNK.pack(CHUNK) + blob[CHUNK:2 * CHUNK])
        assert status_of(e.value) == "ERR_LOAD_RANGE"
    assert_active(host_sim, old_model)


def test_retried_commit_after_lost_answer_keeps_new_model(host_sim, old_model):
    """A COMMIT repeated with the same seq (its answer was lost) is answered
    again and does not flip back to the old model."""
    blob = new_model()
    frames = upload_frames(blob)
    with serial.serial_for_url(host_sim, timeout=1) as raw:
        raw.reset_input_buffer()
        wire = b"".join(build_frame(spec.COMMANDS[cmd], 7 + i, p) for i, (cmd, p) in enumerate(frames))
        commit = build_frame(spec.COMMANDS["LOAD_COMMIT"], 7 + len(frames) - 1)
        raw.write(wire + commit)
        raw.flush()
        answers = b""
        while answers.count(0) < len(frames) + 1:
            chunk = raw.read(max(1, raw.in_waiting))
            assert chunk, "the board stopped answering"
            answers += chunk
    from toolkit.protocol.framing import decode_frame
    last_two = [decode_frame(f) for f in answers.split(b"\x00")[:-1]][-2:]
    assert [f.status for f in last_two] == [spec.STATUS["OK"]] * 2
    assert last_two[0].payload == last_two[1].payload
    assert_active(host_sim, blob)
