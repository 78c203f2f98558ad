"""toolkit.protocol.framing against the COBS definition and the spec's CRC."""
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.format import spec
from toolkit.protocol.framing import (Frame, FrameError, FrameSplitter, build_frame, cobs_decode,
                                      cobs_encode, decode_frame, encode_frame, max_encoded_size,
                                      parse_frame)

# The worked examples of the COBS paper / Wikipedia's "Consistent Overhead Byte Stuffing".
EXAMPLES = [
    (bytes([0x00]), bytes([0x01, 0x01])),
    (bytes([0x00, 0x00]), bytes([0x01, 0x01, 0x01])),
    (bytes([0x00, 0x11, 0x00]), bytes([0x01, 0x02, 0x11, 0x01])),
    (bytes([0x11, 0x22, 0x00, 0x33]), bytes([0x03, 0x11, 0x22, 0x02, 0x33])),
    (bytes([0x11, 0x22, 0x33, 0x44]), bytes([0x05, 0x11, 0x22, 0x33, 0x44])),
    (bytes([0x11, 0x00, 0x00, 0x00]), bytes([0x02, 0x11, 0x01, 0x01, 0x01])),
    (bytes(range(1, 255)), bytes([0xFF]) + bytes(range(1, 255))),
    (bytes(range(0, 255)), bytes([0x01, 0xFF]) + bytes(range(1, 255))),
    (bytes(range(1, 256)), bytes([0xFF]) + bytes(range(1, 255)) + bytes([0x02, 0xFF])),
    (bytes(range(2, 256)) + b"\x00", bytes([0xFF]) + bytes(range(2, 256)) + bytes([0x01, 0x01])),
    (bytes(range(3, 256)) + b"\x00\x01", bytes([0xFE]) + bytes(range(3, 256)) + bytes([0x02, 0x01])),
]


@pytest.mark.parametrize("raw,encoded", EXAMPLES)
def test_cobs_known_examples(raw, encoded):
    assert cobs_encode(raw) == encoded
    assert cobs_decode(encoded) == raw


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1200))
def test_cobs_round_trip_has_no_zero_and_bounded_size(data):
    enc = cobs_encode(data)
    assert 0 not in enc
    assert len(enc) + 1 <= max_encoded_size(len(data))
    assert cobs_decode(enc) == data


@given(st.binary(min_size=1, max_size=300), st.data())
def test_cobs_decode_rejects_cut_blocks(data, draw):
    enc = cobs_encode(data)
    cut = draw.draw(st.integers(1, len(enc) - 1)) if len(enc) > 1 else None
    if cut is None:
        return
    # Cutting inside a block must fail; cutting exactly at a block boundary is
    # a valid (shorter) encoding.  Find the boundaries independently.
    bounds, i = set(), 0
    while i < len(enc):
        i += enc[i]
        bounds.add(i)
    if cut in bounds:
        cobs_decode(enc[:cut])
    else:
        with pytest.raises(FrameError):
            cobs_decode(enc[:cut])


@given(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=600))
def test_frame_round_trip_and_crc_is_zlib(cmd, seq, payload):
    wire = build_frame(cmd, seq, payload)
    assert wire.endswith(b"\x00") and wire.count(0) == 1
    decoded = cobs_decode(wire[:-1])
    body = decoded[:-4]
    assert decoded[-4:] == (zlib.crc32(body) & 0xFFFFFFFF).to_bytes(4, "little")
    assert body[:4] == bytes([cmd, seq, 0, 0])
    assert decode_frame(wire[:-1]) == Frame(cmd, seq, 0, 0, payload)


@settings(max_examples=200)
@given(st.binary(max_size=200), st.data())
def test_any_single_bit_flip_is_detected(payload, draw):
    decoded = bytearray(encode_frame(Frame(spec.COMMANDS["RUN"], 7, 0, 0, payload)))
    bit = draw.draw(st.integers(0, len(decoded) * 8 - 1))
    decoded[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(FrameError) as e:
        parse_frame(bytes(decoded))
    assert e.value.status == "ERR_FRAME_CRC"


def test_short_frame_is_a_format_error():
    with pytest.raises(FrameError) as e:
        parse_frame(b"\x01\x02\x03")
    assert e.value.status == "ERR_FRAME_FORMAT"


@given(st.lists(st.binary(min_size=1, max_size=40).filter(lambda b: 0 not in b), max_size=4),
       st.binary(max_size=300), st.integers(1, 64))
def test_splitter_resyncs_after_garbage(garbage, payload, step):
    """Garbage (split into pieces) then a delimiter, then a frame fed in
    arbitrary pieces: the frame comes out intact after the garbage."""
    stream = b"".join(garbage) + b"\x00" + build_frame(1, 2, payload)
    splitter, frames = FrameSplitter(), []
    for i in range(0, len(stream), step):
        frames += splitter.feed(stream[i:i + step])
    assert frames[-1] == cobs_encode(encode_frame(Frame(1, 2, 0, 0, payload)))
    assert len(frames) == (2 if garbage else 1)
    assert decode_frame(frames[-1]).payload == payload


def test_nak_property():
    f = parse_frame(encode_frame(Frame(spec.NAK, 0, spec.STATUS["ERR_FRAME_SIZE"])))
    assert f.is_nak and spec.status_name(f.status) == "ERR_FRAME_SIZE"


def test_protocol_doc_status_table_is_current():
    from pathlib import Path
    doc = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
    for code, (name, msg, fix) in enumerate(spec.STATUSES):
        assert f"| {code} | `{name}` | {msg} | {fix} |" in doc, f"regenerate the status table ({name})"
