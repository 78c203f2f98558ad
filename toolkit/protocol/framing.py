"""Frames of the serial protocol (docs/protocol.md): pure functions, no I/O.

On the wire a frame is COBS(header + payload + crc32) followed by one 0x00.
header = spec.FRAME_HEADER (cmd, seq, status, flags); the CRC-32 covers
header and payload.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..format import spec


class FrameError(ValueError):
    """Bytes between two delimiters that are not a valid frame."""

    def __init__(self, status: str, detail: str):
        self.status = status            # a spec status name: ERR_FRAME_FORMAT / ERR_FRAME_CRC
        super().__init__(detail)


@dataclass(frozen=True)
class Frame:
    cmd: int
    seq: int
    status: int
    flags: int = 0
    payload: bytes = b""

    @property
    def is_nak(self) -> bool:
        return self.cmd == spec.NAK


def cobs_encode(data: bytes) -> bytes:
    """COBS without the delimiter; the output contains no 0x00."""
    out = bytearray()
    i, n = 0, len(data)
    while True:
        end = i
        while end < n and end - i < 254 and data[end] != 0:
            end += 1
        out.append(end - i + 1)
        out += data[i:end]
        if end == n:
            return bytes(out)
        i = end if end - i == 254 else end + 1   # a full block implies no zero


def cobs_decode(data: bytes) -> bytes:
    """Inverse of cobs_encode; raises FrameError on a 0x00 or a cut block."""
    out = bytearray()
    i, n = 0, len(data)
    code = 0xFF
    while i < n:
        if i and code != 0xFF:
            out.append(0)
        code = data[i]
        if code == 0:
            raise FrameError("ERR_FRAME_FORMAT", f"0x00 inside a COBS frame at byte {i}")
        end = i + code
        if end > n:
            raise FrameError("ERR_FRAME_FORMAT", "COBS block cut short")
        block = data[i + 1:end]
        if 0 in block:
            raise FrameError("ERR_FRAME_FORMAT", "0x00 inside a COBS block")
        out += block
        i = end
    return bytes(out)


def encode_frame(frame: Frame) -> bytes:
    """The decoded bytes of a frame: header, payload, CRC."""
    body = spec.FRAME_HEADER.pack(frame.cmd, frame.seq, frame.status, frame.flags) + bytes(frame.payload)
    return body + spec.FRAME_CRC.pack(spec.crc32(body))


def build_frame(cmd: int, seq: int, payload: bytes = b"", status: int = 0, flags: int = 0) -> bytes:
    """A frame ready to write: COBS-encoded, delimiter appended."""
    return cobs_encode(encode_frame(Frame(cmd, seq & 0xFF, status, flags, payload))) + bytes([spec.FRAME_DELIMITER])


def parse_frame(decoded: bytes) -> Frame:
    """Check length and CRC of a COBS-decoded frame and split it."""
    if len(decoded) < spec.FRAME_OVERHEAD:
        raise FrameError("ERR_FRAME_FORMAT", f"frame of {len(decoded)} bytes is shorter than header and CRC")
    end = len(decoded) - spec.FRAME_CRC_SIZE
    body, (crc,) = decoded[:end], spec.FRAME_CRC.unpack_from(decoded, end)
    if spec.crc32(body) != crc:
        raise FrameError("ERR_FRAME_CRC", "frame CRC mismatch")
    cmd, seq, status, flags = spec.FRAME_HEADER.unpack_from(body)
    return Frame(cmd, seq, status, flags, bytes(body[spec.FRAME_HEADER.size:]))


def decode_frame(wire: bytes) -> Frame:
    """COBS bytes of one frame (without the delimiter) -> Frame."""
    return parse_frame(cobs_decode(wire))


def max_encoded_size(decoded_len: int) -> int:
    """Worst-case wire size of a decoded frame, delimiter included."""
    return decoded_len + decoded_len // 254 + 2


class FrameSplitter:
    """Cuts a byte stream into COBS frames at each 0x00 (empty frames skipped)."""

    def __init__(self):
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        frames = []
        while True:
            end = self._buf.find(spec.FRAME_DELIMITER)
            if end < 0:
                return frames
            if end:
                frames.append(bytes(self._buf[:end]))
            del self._buf[:end + 1]

    def clear(self) -> None:
        self._buf.clear()
